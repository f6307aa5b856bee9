"""Real photos end to end: reading awkward files, real MediaPipe detection and alignment on the
astronaut photo, face choice, paste-back and the errors a user can run into."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image

from assistant.photo import (MIN_EYE_DISTANCE, PhotoError, choose_face, default_alignment, detect_faces, open_photo,
                             output_path, prepare_photo, read_photo, save_photo)
from draggan_core.align import FaceKeypoints, FaceTemplate
from parsers.landmarks import FaceLandmarks

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def landmarker():
    lm = FaceLandmarks(max_faces=4)
    yield lm
    lm.close()


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skimage.data.astronaut()


# -- reading ---------------------------------------------------------------------------------------

def test_reads_grey_rgba_cmyk_and_16_bit(tmp_path, astronaut):
    grey = tmp_path / "grey.png"
    Image.fromarray(astronaut).convert("L").save(grey)
    rgba = tmp_path / "rgba.png"
    im = Image.fromarray(astronaut).convert("RGBA")
    im.putalpha(0)
    im.save(rgba)
    cmyk = tmp_path / "cmyk.jpg"
    Image.fromarray(astronaut).convert("CMYK").save(cmyk)
    deep = tmp_path / "deep.png"
    Image.fromarray((np.asarray(Image.open(grey), dtype=np.uint16) * 257)).save(deep)

    for path in (grey, rgba, cmyk, deep):
        arr = read_photo(path)
        assert arr.shape == (512, 512, 3) and arr.dtype == np.uint8, path
    assert np.all(read_photo(rgba) == 255)  # fully transparent -> the white background
    g = read_photo(grey)
    assert np.array_equal(g[..., 0], g[..., 2])
    assert np.abs(read_photo(deep).astype(int) - g).max() <= 1
    assert np.abs(read_photo(cmyk).astype(int) - astronaut).mean() < 8


def test_exif_rotation_is_applied(tmp_path, astronaut):
    tall = astronaut[:, :300]
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: the viewer must turn it 90 degrees clockwise
    path = tmp_path / "rotated.jpg"
    Image.fromarray(tall).save(path, exif=exif, quality=95)
    arr = read_photo(path)
    assert arr.shape == (300, 512, 3)
    expected = np.rot90(tall, k=-1)
    assert np.abs(arr.astype(int) - expected).mean() < 6


def test_unreadable_files_give_one_line_errors(tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")
    with pytest.raises(PhotoError, match="not an image"):
        read_photo(text)
    buf = io.BytesIO()
    Image.fromarray(skimage.data.astronaut()).save(buf, format="JPEG")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 3])
    with pytest.raises(PhotoError, match="damaged or truncated"):
        read_photo(cut)
    with pytest.raises(PhotoError, match="no such file"):
        read_photo(tmp_path / "missing.png")
    with pytest.raises(PhotoError, match="not a file"):
        read_photo(tmp_path)


@pytest.mark.parametrize("side", [11_000, 20_000])  # over our limit / over Pillow's own
def test_enormous_image_is_refused_before_decoding(tmp_path, side):
    import struct
    import zlib

    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    ihdr = struct.pack(">II", side, side) + bytes(data[24:29])  # the header claims side x side pixels
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    path = tmp_path / "enormous.png"
    path.write_bytes(bytes(data))
    with pytest.raises(PhotoError, match="too large"):
        read_photo(path)


def test_output_never_overwrites_the_input_unless_asked(tmp_path):
    src = tmp_path / "me.jpg"
    src.write_bytes(b"x")
    assert output_path(src, None) == tmp_path / "me_edited.png"
    with pytest.raises(PhotoError, match="--overwrite"):
        output_path(src, str(src))
    assert output_path(src, str(src), overwrite=True) == src
    png = tmp_path / "me.png"
    png.write_bytes(b"x")
    with pytest.raises(PhotoError, match="input photo"):
        output_path(png, str(tmp_path / "me"))  # saving adds .png: that would be the input
    saved = save_photo(np.zeros((4, 5, 3), dtype=np.uint8), tmp_path / "out")
    assert saved.suffix == ".png" and Image.open(saved).size == (5, 4)


# -- faces -----------------------------------------------------------------------------------------

def test_alignment_lands_the_eyes_on_the_template(landmarker, astronaut):
    size = 256  # large enough that re-detection on the crop is precise
    crop = prepare_photo(astronaut, size, landmarker=landmarker)
    assert crop.face_count == 1 and crop.crop.shape == (size, size, 3)
    found = landmarker.detect_all(crop.crop)
    assert len(found) == 1
    measured = FaceKeypoints.from_mediapipe(found[0]).array() / size
    template = FaceTemplate.celeba().points
    assert np.abs(measured[:2] - template[:2]).max() < 0.02  # eyes within 2% of the crop side
    assert np.abs(measured[2:] - template[2:]).max() < 0.05  # mouth corners move with expression


CELEBA = Path(__file__).resolve().parents[2] / "shared" / "data" / "celeba10k.tar.gz"


@pytest.mark.skipif(not CELEBA.is_file(), reason="needs ../shared/data/celeba10k.tar.gz")
def test_celeba_images_align_to_the_training_framing(landmarker):
    """The archive's last images, enlarged 4x as if they were photos: aligning them must give back
    (nearly) the crop the trainer cuts, 89x89 from y=10 scaled to 64."""
    import tarfile

    with tarfile.open(CELEBA) as tf:
        members = sorted((m for m in tf.getmembers() if m.isfile()), key=lambda m: m.name)[-5:]
        images = [np.asarray(Image.open(io.BytesIO(tf.extractfile(m).read())).convert("RGB")) for m in members]
    errors = []
    for img in images:
        photo = np.asarray(Image.fromarray(img).resize((89 * 4, 109 * 4), Image.BICUBIC))
        crop = prepare_photo(photo, 64, landmarker=landmarker)
        corners = np.array([[0.0, 40.0], [356.0, 40.0], [0.0, 396.0], [356.0, 396.0]])  # the training square
        expected = (corners - [0.0, 40.0]) * 64 / 356
        errors.append(np.abs(crop.alignment.to_crop(corners) - expected).max())
    assert np.median(errors) < 1.5, errors  # crop pixels, at the square's corners (measured: about 0.9)


def test_paste_back_restores_the_original_size_and_far_pixels(landmarker, astronaut):
    crop = prepare_photo(astronaut, 64, landmarker=landmarker)
    edited = crop.crop.copy()
    edited[20:44, 20:44] = [0, 255, 0]
    out = crop.paste(edited)
    assert out.shape == astronaut.shape
    assert np.array_equal(out[400:], astronaut[400:])  # the suit, far below the face
    assert np.array_equal(out[:, :100], astronaut[:, :100])  # the flag at the left
    eye = crop.alignment.to_photo(np.array([[32.0, 32.0]]))[0].astype(int)
    assert out[eye[1], eye[0], 1] > 200 and out[eye[1], eye[0], 0] < 60


def test_several_faces_largest_first_and_face_number(landmarker, astronaut):
    big = astronaut[0:300, 100:400]
    small = np.asarray(Image.fromarray(big).resize((230, 230), Image.LANCZOS))  # MediaPipe misses it at 200
    group = np.full((320, 580, 3), 128, dtype=np.uint8)
    group[10:310, 10:310] = big
    group[40:270, 335:565] = small
    faces = detect_faces(group, landmarker)
    assert len(faces) == 2
    assert faces[0].area > faces[1].area and faces[0].box[0] < 310 < faces[1].box[0]
    second = prepare_photo(group, 64, face=2, landmarker=landmarker)
    assert second.face_number == 2 and second.face_count == 2
    assert second.alignment.to_photo(np.array([[32.0, 32.0]]))[0][0] > 330
    with pytest.raises(PhotoError, match="has 2 face"):
        prepare_photo(group, 64, face=3, landmarker=landmarker)


def test_no_face_and_tiny_face_are_clear_errors(landmarker, astronaut):
    with pytest.raises(PhotoError, match="no face found.*leave out --image"):
        prepare_photo(skimage.data.coffee(), 64, landmarker=landmarker)
    faces = detect_faces(astronaut, landmarker)
    shrink = (MIN_EYE_DISTANCE - 2) / faces[0].keypoints.eye_distance
    scaled = [type(f)(f.landmarks * shrink, FaceKeypoints(*map(tuple, f.keypoints.array() * shrink))) for f in faces]
    with pytest.raises(PhotoError, match="too small"):
        choose_face(scaled, None)
    tiny = np.asarray(Image.fromarray(astronaut).resize((48, 48), Image.LANCZOS))
    with pytest.raises(PhotoError, match="no face found|too small"):
        prepare_photo(tiny, 64, landmarker=landmarker)


def test_huge_photo_is_searched_downscaled_with_full_size_points(landmarker, astronaut, tmp_path):
    scale = 3
    huge = np.asarray(Image.fromarray(astronaut).resize((512 * scale, 512 * scale), Image.BICUBIC))
    small_face = detect_faces(astronaut, landmarker)[0]
    big_face = detect_faces(huge, landmarker)[0]
    err = np.abs(big_face.keypoints.array() / scale - small_face.keypoints.array()).max()
    assert err < 0.02 * small_face.keypoints.eye_distance + 1
    path = tmp_path / "huge.png"
    Image.fromarray(huge).save(path)
    crop = open_photo(path, 64, landmarker=landmarker)
    assert crop.photo.shape == huge.shape and crop.source == path


def test_default_alignment_follows_the_checkpoint():
    class Model:
        source_path = "/models/stylegan2-ffhq-512x512.pkl"

    assert default_alignment(Model()) == "ffhq"
    Model.source_path = "/x/celeba64.safetensors"
    assert default_alignment(Model()) == "celeba"
