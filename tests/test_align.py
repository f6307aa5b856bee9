"""Face alignment geometry, crop warping and paste-back (no detector: points in, pixels out)."""

from __future__ import annotations

import numpy as np
import pytest

from draggan_core.align import (Alignment, FaceKeypoints, FaceTemplate, apply_affine, celeba_alignment,
                                feather_mask, ffhq_alignment, invert_affine, paste_back, similarity_transform,
                                warp_to_crop)
from draggan_core.errors import DragInputError


def similarity(scale: float, angle: float, tx: float, ty: float) -> np.ndarray:
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    return np.array([[c, -s, tx], [s, c, ty]])


def test_similarity_transform_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, size=(5, 2))
    truth = similarity(0.37, 0.4, -12.0, 30.5)
    fitted = similarity_transform(src, apply_affine(truth, src))
    np.testing.assert_allclose(fitted, truth, atol=1e-9)
    np.testing.assert_allclose(invert_affine(fitted) @ np.append(apply_affine(fitted, src[:1])[0], 1), src[0],
                               atol=1e-9)


def test_similarity_never_mirrors_and_weights_pull_the_fit():
    src = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    mirrored = src * np.array([-1.0, 1.0])
    m = similarity_transform(src, mirrored)
    assert np.linalg.det(m[:, :2]) >= 0
    dst = src + np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 0.0]])
    heavy_last = similarity_transform(src, dst, weights=np.array([1.0, 1.0, 100.0]))
    light_last = similarity_transform(src, dst, weights=np.array([1.0, 1.0, 0.01]))
    err = lambda mat: np.linalg.norm(apply_affine(mat, src[2:]) - dst[2:])  # noqa: E731
    assert err(heavy_last) < err(light_last)
    with pytest.raises(DragInputError):
        similarity_transform(np.zeros((3, 2)), np.ones((3, 2)))


def test_celeba_alignment_puts_the_keypoints_on_the_template():
    template = FaceTemplate.celeba()
    size = 64
    truth = similarity(3.1, -0.2, 140.0, 60.0)  # crop -> photo
    photo_points = apply_affine(truth, template.at(size))
    kp = FaceKeypoints(*map(tuple, photo_points))
    al = celeba_alignment(kp, size, (600, 500))
    np.testing.assert_allclose(al.to_crop(photo_points), template.at(size), atol=1e-6)
    np.testing.assert_allclose(al.to_photo(template.at(size)), photo_points, atol=1e-6)
    assert al.scale == pytest.approx(1 / 3.1)
    again = Alignment.from_dict(al.to_dict())
    np.testing.assert_allclose(again.matrix, al.matrix)
    assert (again.size, again.photo_size, again.method) == (64, (600, 500), "celeba")


def test_template_is_a_plausible_face():
    pts = FaceTemplate.celeba().points
    right_eye, left_eye, mouth_right, mouth_left = pts
    assert right_eye[0] < 0.5 < left_eye[0]  # the subject's right eye is on the image's left
    assert abs(right_eye[1] - left_eye[1]) < 0.02
    assert mouth_right[1] > right_eye[1] + 0.1
    assert 0.15 < left_eye[0] - right_eye[0] < 0.35


def test_ffhq_alignment_follows_the_eye_mouth_rule():
    # Upright face: eyes 100 px apart, mouth 100 px below them -> half side max(2*100, 1.8*100).
    kp = FaceKeypoints((150.0, 200.0), (250.0, 200.0), (170.0, 300.0), (230.0, 300.0))
    size = 1024
    al = ffhq_alignment(kp, size, (400, 400))
    eyes = al.to_crop(np.array([kp.right_eye, kp.left_eye]))
    np.testing.assert_allclose(eyes, [[size * 0.375, size * 0.475], [size * 0.625, size * 0.475]], atol=1e-6)
    assert al.scale == pytest.approx(size / 400)


def test_warp_to_crop_is_the_photo_under_a_pure_shift():
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 256, size=(80, 90, 3), dtype=np.uint8)
    al = Alignment(np.array([[1.0, 0.0, -10.0], [0.0, 1.0, -20.0]]), 32, (90, 80), "test")
    crop = warp_to_crop(photo, al)
    assert crop.shape == (32, 32, 3) and crop.dtype == np.uint8
    assert np.abs(crop.astype(int) - photo[20:52, 10:42]).max() <= 1


def test_warp_mirrors_past_the_border_instead_of_black():
    photo = np.full((40, 40, 3), 200, dtype=np.uint8)
    al = Alignment(np.array([[1.0, 0.0, 20.0], [0.0, 1.0, 20.0]]), 40, (40, 40), "test")  # face at the corner
    crop = warp_to_crop(photo, al)
    assert crop.min() >= 199


def test_strong_downscale_does_not_alias():
    yy, xx = np.mgrid[0:800, 0:800]
    photo = np.repeat((((yy + xx) % 2) * 255).astype(np.uint8)[..., None], 3, axis=2)  # 1-px checkerboard
    al = Alignment(np.array([[0.08, 0.0, 0.0], [0.0, 0.08, 0.0]]), 64, (800, 800), "test")
    crop = warp_to_crop(photo, al).astype(float)
    assert abs(crop.mean() - 127.5) < 6
    assert crop.std() < 6


def test_feather_mask_is_zero_at_the_edge_and_one_inside():
    m = feather_mask(64)
    assert m.shape == (64, 64)
    assert m[0].max() == 0 and m[:, -1].max() == 0
    assert m[20:44, 20:44].min() == 1
    assert np.all(np.diff(m[32, :32]) >= 0)


def test_paste_back_keeps_size_and_far_pixels():
    rng = np.random.default_rng(2)
    photo = rng.integers(0, 256, size=(300, 400, 3), dtype=np.uint8)
    al = Alignment(similarity(0.5, 0.1, -60.0, -30.0), 64, (400, 300), "test")
    crop = np.full((64, 64, 3), 7, dtype=np.uint8)
    out = paste_back(photo, crop, al)
    assert out.shape == photo.shape and out.dtype == np.uint8
    corners = al.to_photo(np.array([[0, 0], [64, 0], [0, 64], [64, 64]]))
    x0, y0 = np.floor(corners.min(0)).astype(int)
    x1, y1 = np.ceil(corners.max(0)).astype(int)
    outside = np.ones(photo.shape[:2], dtype=bool)
    outside[max(y0, 0):y1, max(x0, 0):x1] = False
    assert np.array_equal(out[outside], photo[outside])
    centre = al.to_photo(np.array([[32.0, 32.0]]))[0].round().astype(int)
    assert np.all(out[centre[1], centre[0]] == 7)
    zero_weight = paste_back(photo, crop, al, weight=np.zeros((64, 64)))
    assert np.array_equal(zero_weight, photo)


def test_paste_back_rejects_mismatched_inputs():
    photo = np.zeros((100, 100, 3), dtype=np.uint8)
    al = Alignment(np.eye(2, 3), 64, (100, 100), "test")
    with pytest.raises(DragInputError, match="64x64"):
        paste_back(photo, np.zeros((32, 32, 3), dtype=np.uint8), al)
    with pytest.raises(DragInputError, match="photo"):
        paste_back(np.zeros((50, 100, 3), dtype=np.uint8), np.zeros((64, 64, 3), dtype=np.uint8), al)


def test_keypoints_from_mediapipe_need_the_full_mesh():
    with pytest.raises(DragInputError):
        FaceKeypoints.from_mediapipe(np.zeros((68, 2)))
    lm = np.zeros((478, 2))
    lm[[33, 133, 159, 145]] = [10.0, 20.0]
    lm[[263, 362, 386, 374]] = [30.0, 20.0]
    kp = FaceKeypoints.from_mediapipe(lm)
    assert kp.eye_distance == pytest.approx(20.0)
