"""Editing a user's photo: read it, find the face, cut the model's crop, invert, paste back.

The generator only draws faces framed like its training crops, at its own resolution. So the
photo's face is aligned (`draggan_core.align`), reconstructed by inversion
(`draggan_core.inversion`), edited like any generated picture, and the edited crop is warped back
into the full-size photo with a feathered edge. Everything a user can get wrong here (no face,
an unreadable or enormous file, asking to overwrite the input) is a `PhotoError` with one line
that says what to do instead.
"""

from __future__ import annotations

import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from assistant.editor import Editor
from draggan_core.align import (ALIGNMENTS, Alignment, FaceKeypoints, align_face, change_weight, paste_back,
                                warp_to_crop)
from stylegan2.imaging import from_uint8, to_uint8

if TYPE_CHECKING:
    from draggan_core.encoder import LatentEncoder

MAX_DETECT_SIDE = 1280  # MediaPipe works on a downscaled copy of larger photos; points are scaled back
MAX_FACES = 8
MIN_EYE_DISTANCE = 10.0  # photo pixels; below this there is nothing left to align or invert
MAX_PIXELS = 100_000_000  # below Pillow's own hard limit (about 179 megapixels)
BACKGROUND = (255, 255, 255)  # what transparent pixels become


class PhotoError(Exception):
    """A photo that cannot be edited as asked: unreadable, no (usable) face, bad face number,
    or an output that would overwrite the input."""


def _to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB: transparency over white, CMYK and palettes converted, 16-bit and
    float grey rescaled to 8 bits by its own range."""
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or arr.max() > 255 else 255.0
        if im.mode == "F" and arr.max() <= 1.0:
            top = 1.0
        grey = np.clip(np.rint(arr / top * 255), 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        back = Image.new("RGBA", rgba.size, BACKGROUND + (255,))
        return Image.alpha_composite(back, rgba).convert("RGB")
    return im.convert("RGB")


def read_photo(path: str | Path) -> np.ndarray:
    """H x W x 3 uint8, turned upright by its EXIF orientation."""
    path = Path(path).expanduser()
    if not path.exists():
        raise PhotoError(f"{path}: no such file")
    if not path.is_file():
        raise PhotoError(f"{path}: not a file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if im.width * im.height > MAX_PIXELS:
                    raise PhotoError(f"{path}: {im.width}x{im.height} is too large to edit "
                                     f"(more than {MAX_PIXELS // 1_000_000} megapixels); downscale it first")
                im = ImageOps.exif_transpose(im)
                return np.array(_to_rgb(im), dtype=np.uint8)
    except Image.DecompressionBombError:
        raise PhotoError(f"{path}: the image is too large to edit; downscale it first") from None
    except UnidentifiedImageError:
        raise PhotoError(f"{path}: not an image format this program can read (try PNG or JPEG)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoError(f"{path}: the image is damaged or truncated ({exc})") from None


@dataclass(frozen=True, eq=False)
class DetectedFace:
    landmarks: np.ndarray  # (478, 2) photo pixels
    keypoints: FaceKeypoints

    @property
    def box(self) -> tuple[float, float, float, float]:
        (x0, y0), (x1, y1) = self.landmarks.min(axis=0), self.landmarks.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return (x1 - x0) * (y1 - y0)

    def describe(self) -> str:
        x0, y0, x1, y1 = self.box
        return f"{x1 - x0:.0f}x{y1 - y0:.0f} px at ({(x0 + x1) / 2:.0f}, {(y0 + y1) / 2:.0f})"


def detect_faces(photo: np.ndarray, landmarker=None) -> list[DetectedFace]:
    """Every face MediaPipe finds, largest first. Big photos are searched on a downscaled copy
    (the detector sees at most a few hundred pixels anyway); the points come back in full size."""
    if landmarker is None:
        landmarker = default_landmarker()
    h, w = photo.shape[:2]
    scale = min(1.0, MAX_DETECT_SIDE / max(h, w))
    small = photo
    if scale < 1.0:
        small = np.asarray(Image.fromarray(photo).resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                                         Image.LANCZOS))
    sx, sy = w / small.shape[1], h / small.shape[0]
    faces = [DetectedFace(lm * (sx, sy), FaceKeypoints.from_mediapipe(lm * (sx, sy)))
             for lm in landmarker.detect_all(small)]
    return sorted(faces, key=lambda f: f.area, reverse=True)


_LANDMARKER = None


def default_landmarker():
    """The parser's MediaPipe wrapper, made once, allowed to report several faces."""
    global _LANDMARKER
    if _LANDMARKER is None:
        from parsers.landmarks import FaceLandmarks

        _LANDMARKER = FaceLandmarks(max_faces=MAX_FACES)
    return _LANDMARKER


def choose_face(faces: list[DetectedFace], number: int | None, name: str = "the photo") -> DetectedFace:
    """`number` is 1-based in the largest-first order; None picks the largest."""
    if not faces:
        raise PhotoError(f"no face found in {name}: photo editing needs a clearly visible, roughly frontal face "
                         "at least about 30 px wide; to edit a generated picture instead, leave out --image and "
                         "give point coordinates")
    if number is not None and not 1 <= number <= len(faces):
        listing = "; ".join(f"{i} = {f.describe()}" for i, f in enumerate(faces, start=1))
        raise PhotoError(f"--face {number}: {name} has {len(faces)} face(s), largest first: {listing}")
    face = faces[(number or 1) - 1]
    if face.keypoints.eye_distance < MIN_EYE_DISTANCE:
        raise PhotoError(f"the face ({face.describe()}) is too small to edit: its eyes are "
                         f"{face.keypoints.eye_distance:.0f} px apart, at least {MIN_EYE_DISTANCE:.0f} are needed; "
                         "use a larger or closer-up photo")
    return face


def default_alignment(G) -> str:
    """FFHQ framing for official FFHQ checkpoints, the embedded CelebA framing otherwise."""
    source = Path(getattr(G, "source_path", "") or "").name.lower()
    return "ffhq" if "ffhq" in source else "celeba"


@dataclass
class PhotoCrop:
    """A photo, the face chosen in it and its aligned crop at the generator's resolution."""

    photo: np.ndarray  # H x W x 3 uint8, upright
    alignment: Alignment
    crop: np.ndarray  # size x size x 3 uint8
    face_number: int
    face_count: int
    source: Path | None = None

    def target(self) -> torch.Tensor:
        """The crop as a generator-range tensor, (1, 3, size, size)."""
        return from_uint8(self.crop)

    def paste(self, edited: np.ndarray | torch.Tensor, weight: np.ndarray | None = None) -> np.ndarray:
        """The whole photo, original size, with the edited crop blended in."""
        if isinstance(edited, torch.Tensor):
            edited = to_uint8(edited[0] if edited.ndim == 4 else edited)
        return paste_back(self.photo, np.asarray(edited), self.alignment, weight)


def prepare_photo(photo: np.ndarray, size: int, *, face: int | None = None, method: str = "celeba",
                  landmarker=None, name: str = "the photo", source: Path | None = None) -> PhotoCrop:
    if method not in ALIGNMENTS:
        raise PhotoError(f"unknown alignment {method!r}; use one of {', '.join(ALIGNMENTS)}")
    faces = detect_faces(photo, landmarker)
    chosen = choose_face(faces, face, name)
    h, w = photo.shape[:2]
    alignment = align_face(chosen.keypoints, size, (w, h), method)
    return PhotoCrop(photo, alignment, warp_to_crop(photo, alignment), face or 1, len(faces), source)


def check_photo(path: str | Path, face: int | None = None) -> None:
    """Fail at once, before a screen or a model load, on a photo that cannot be edited."""
    path = Path(path).expanduser()
    choose_face(detect_faces(read_photo(path)), face, str(path))


def open_photo(path: str | Path, size: int, *, face: int | None = None, method: str = "celeba",
               landmarker=None) -> PhotoCrop:
    path = Path(path).expanduser()
    return prepare_photo(read_photo(path), size, face=face, method=method, landmarker=landmarker,
                         name=str(path), source=path)


@dataclass(frozen=True)
class FitOptions:
    """How a photo's face is fitted. With an encoder trained for the generator beside its file,
    the encoder's guess plus a short refinement (`InversionConfig.refinement`, seconds); without
    one, or with `full`, the full optimisation from the average face (`InversionConfig()`, about
    a minute at 64 px). `steps` shares that many steps among the chosen method's stages."""

    steps: int | None = None
    full: bool = False

    def config(self, encoded: bool):
        from draggan_core.inversion import InversionConfig

        base = InversionConfig.refinement() if encoded else InversionConfig()
        return base if self.steps is None else base.with_budget(self.steps)


def invert_photo(G, crop: PhotoCrop, config=None, progress: Callable | None = None,
                 cancel: Callable[[], bool] | threading.Event | None = None, *,
                 fit: FitOptions = FitOptions(), encoder: "LatentEncoder | str | None" = "auto",
                 notice: Callable[[str], None] | None = None):
    """`draggan_core.inversion.invert` on the crop: the latent and the tuned generator to edit with.

    `encoder`: "auto" looks beside G's file (`draggan_core.encoder.find_encoder`), None fits
    without one, or a loaded `LatentEncoder`. When "auto" finds none that matches G, `notice` gets
    one line saying why and that the full optimisation runs instead. `config` (explicit inversion
    settings) overrides what `fit` would choose; with an encoder its W stage is skipped."""
    from draggan_core.encoder import find_encoder
    from draggan_core.inversion import invert

    if crop.alignment.size != G.img_resolution:
        raise PhotoError(f"the crop is {crop.alignment.size} px but the model draws {G.img_resolution} px")
    if fit.full:
        encoder = None
    elif isinstance(encoder, str):
        lookup = find_encoder(G)
        encoder = lookup.encoder
        if encoder is None and notice is not None:
            steps = (config or fit.config(False)).total_steps
            notice(f"{lookup.reason}; fitting with the full {steps}-step optimisation instead "
                   "(`draggan-assistant train-encoder` makes fitting take seconds)")
    config = config if config is not None else fit.config(encoder is not None)
    target = crop.target()
    start = None
    if encoder is not None:
        with torch.no_grad():
            start = encoder(target)
    return invert(G, target, config, progress=progress, cancel=cancel, start=start)


def output_path(source: str | Path, output: str | Path | None, overwrite: bool = False) -> Path:
    """Where the edited photo goes: `-o` if given, else NAME_edited.png beside the input; never the
    input itself unless `overwrite` says so."""
    source = Path(source).expanduser()
    out = Path(output).expanduser() if output else source.with_name(f"{source.stem}_edited.png")
    if not out.suffix:
        out = out.with_suffix(".png")
    if not overwrite and out.exists() and source.exists() and out.resolve() == source.resolve():
        raise PhotoError(f"{out} is the input photo; save under another name (or pass --overwrite to replace it)")
    return out


def save_photo(image: np.ndarray, path: str | Path) -> Path:
    """PNG (also for a name without a suffix), or JPEG at quality 95 when the name asks for it."""
    path = Path(path).expanduser()
    if not path.suffix:
        path = path.with_suffix(".png")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        im = Image.fromarray(np.asarray(image, dtype=np.uint8))
        if path.suffix.lower() in (".jpg", ".jpeg"):
            im.save(path, quality=95)
        else:
            im.save(path)
    except (OSError, ValueError, KeyError) as exc:
        raise PhotoError(f"cannot write {path}: {exc}") from None
    return path


PASTE_MODES = ("changed", "face")


class PhotoEditor(Editor):
    """The shared editor on a photo's reconstructed face: edits run on the (tuned) generator's
    crop, and saving writes the whole photo with the edit pasted back.

    `paste="changed"` blends in only the part of the crop the edits changed (the rest of the photo
    keeps its own, sharper pixels); `paste="face"` blends in the whole aligned crop. Photo edits
    are not kept as a resumable session: resuming would need the tuned generator too."""

    script_source = "photo"

    def __init__(self, inversion, photo: PhotoCrop, *, model: str | None = None, config=None,
                 paste: str = "changed", overwrite: bool = False) -> None:
        from draggan_core import DragConfig, DragSession

        if paste not in PASTE_MODES:
            raise PhotoError(f"unknown paste mode {paste!r}; use one of {', '.join(PASTE_MODES)}")
        config = config if config is not None else DragConfig()
        G = inversion.generator
        super().__init__(G, 0, model=model, config=config, session=DragSession(G, inversion.ws, config),
                         keep_session=False)
        self.inversion = inversion
        self.photo = photo
        self.paste_mode = paste
        self.overwrite = overwrite
        self.reference = self.generated()

    def generated(self) -> np.ndarray:
        """What the generator draws now (H x W x 3 uint8)."""
        return to_uint8(self.session.image())[0]

    def _weight(self, edited: np.ndarray) -> np.ndarray | None:
        return change_weight(edited, self.reference) if self.paste_mode == "changed" else None

    def image(self) -> np.ndarray:
        """The crop as the saved photo will show it: with paste 'changed', the photo's own crop
        with the edited part blended in; with 'face', the generator's picture."""
        edited = self.generated()
        return edited if self.paste_mode == "face" else self._blend(edited)

    def _blend(self, edited: np.ndarray) -> np.ndarray:
        w = change_weight(edited, self.reference)[..., None]
        return np.clip(np.rint(self.photo.crop * (1 - w) + edited * w), 0, 255).astype(np.uint8)

    def parse_image(self) -> np.ndarray:
        """The photo's own crop with the edited part blended in, whatever the paste mode: MediaPipe
        finds the real face there, where it missed the fitted reconstruction of a 64-px face (so
        `--paste face` answered 'no face found' after the whole fitting)."""
        return self._blend(self.generated())

    def photo_image(self) -> np.ndarray:
        """The full-size photo with the current picture pasted back."""
        edited = self.generated()
        return self.photo.paste(edited, self._weight(edited))

    def photo_changed(self) -> bool:
        """Whether saving now would write anything but the input photo's own pixels."""
        return not np.array_equal(self.photo_image(), self.photo.photo)

    def save_png(self, path: str | Path) -> Path:
        """Write the whole edited photo; refuses the input file itself unless `overwrite`."""
        if self.photo.source is not None:
            path = output_path(self.photo.source, path, self.overwrite)
        return save_photo(self.photo_image(), path)

    def export(self, path: str | None = None) -> tuple[Path, Path]:
        """`save [PATH]`; without a path, NAME_edited.png beside the photo."""
        if not path and self.photo.source is not None:
            path = str(output_path(self.photo.source, None))
        return super().export(path)


def open_photo_editor(path: str | Path, *, model: str | None = None, face: int | None = None,
                      align: str = "auto", inversion=None, paste: str = "changed", overwrite: bool = False,
                      progress: Callable | None = None,
                      cancel: Callable[[], bool] | threading.Event | None = None,
                      check_crop: Callable[[np.ndarray], None] | None = None,
                      fit: FitOptions = FitOptions(), notice: Callable[[str], None] | None = None) -> PhotoEditor:
    """Load the model, find and align the face, invert it, and hand back an editor on it.
    Cheap checks (file, face, and `check_crop` on the aligned crop, e.g. whether the commands
    to come can be carried out) run before the slow inversion starts. `inversion` (explicit
    settings), `fit` and `notice` are `invert_photo`'s."""
    from stylegan2 import load_generator

    path = Path(path).expanduser()
    photo = read_photo(path)
    G = load_generator(model)
    method = default_alignment(G) if align == "auto" else align
    crop = prepare_photo(photo, G.img_resolution, face=face, method=method, name=str(path), source=path)
    if check_crop is not None:
        check_crop(crop.crop)
    result = invert_photo(G, crop, inversion, progress=progress, cancel=cancel, fit=fit, notice=notice)
    model_path = None if model is None else str(Path(model).expanduser().resolve())
    return PhotoEditor(result, crop, model=model_path, paste=paste, overwrite=overwrite)


class InversionPrinter:
    """Inversion progress on stderr: redrawn in place on a terminal, a line a second otherwise."""

    NAMES = {"w": "latent (W)", "w+": "latent (W+)", "pti": "tuning the generator"}

    def __init__(self, stream=None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.last = -1.0

    def __call__(self, step) -> None:
        now = time.monotonic()
        if step.step < step.total and now - self.last < (0.2 if self.tty else 1.0):
            return
        self.last = now
        line = f"fitting the photo: {self.NAMES.get(step.stage, step.stage)}, step {step.step}/{step.total}, " \
               f"loss {step.loss:.3f}"
        print(("\r" + line) if self.tty else line, end="" if self.tty else "\n", file=self.stream, flush=True)

    def notice(self, message: str) -> None:
        """A line about the fitting itself (e.g. no encoder, so the full optimisation runs)."""
        self.close()
        self.last = -1.0
        print(f"fitting the photo: {message}", file=self.stream, flush=True)

    def close(self) -> None:
        if self.tty and self.last >= 0:
            print(file=self.stream)
