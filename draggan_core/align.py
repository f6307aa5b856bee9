"""Face alignment as plain geometry: photo landmarks -> the crop a generator was trained on, and back.

A generator can only reproduce faces framed the way its training images were, so a photo must
be cut the same way before inversion and the edited crop put back with the inverse transform.
Two framings are supported:

- `celeba`: the project's embedded model (aligned CelebA, 89x89 from y=10). Its eye centres and
  mouth corners were measured with MediaPipe on the training crops (`celeba_face_template.json`,
  written by `tools/measure_face_template.py`); a photo is fitted to them with a least-squares
  similarity transform.
- `ffhq`: the eye/mouth rule the FFHQ data set was cut with, for official FFHQ checkpoints.

Coordinates are continuous pixels, x right, y down, pixel i covering [i, i+1) (what MediaPipe's
normalised landmarks times the image size give). Nothing here imports MediaPipe: callers pass
points.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from .errors import DragInputError

TEMPLATE_PATH = Path(__file__).with_name("celeba_face_template.json")
ALIGNMENTS = ("celeba", "ffhq")
KEYPOINT_NAMES = ("right_eye", "left_eye", "mouth_right", "mouth_left")

# MediaPipe FaceLandmarker indices (subject's own sides; the right eye is on the image's left).
MP_RIGHT_EYE = (33, 133, 159, 145)
MP_LEFT_EYE = (263, 362, 386, 374)
MP_MOUTH_RIGHT, MP_MOUTH_LEFT = 61, 291

# Shrink the photo before the final resampling once the crop is this much smaller, so the
# bicubic warp never skips photo pixels (aliasing); the FFHQ tool does the same.
MAX_DOWNSCALE = 2.0


@dataclass(frozen=True)
class FaceKeypoints:
    """The four points both framings use, in photo pixels."""

    right_eye: tuple[float, float]
    left_eye: tuple[float, float]
    mouth_right: tuple[float, float]
    mouth_left: tuple[float, float]

    @classmethod
    def from_mediapipe(cls, landmarks: np.ndarray) -> "FaceKeypoints":
        """From MediaPipe's 478 (or 468) face-mesh points (x, y) in photo pixels."""
        lm = np.asarray(landmarks, dtype=np.float64)
        if lm.ndim != 2 or lm.shape[1] != 2 or lm.shape[0] < 468:
            raise DragInputError(f"expected MediaPipe face-mesh landmarks (>= 468 x 2), got shape {lm.shape}")
        right = lm[list(MP_RIGHT_EYE)].mean(axis=0)
        left = lm[list(MP_LEFT_EYE)].mean(axis=0)
        return cls(tuple(right), tuple(left), tuple(lm[MP_MOUTH_RIGHT]), tuple(lm[MP_MOUTH_LEFT]))

    def array(self) -> np.ndarray:
        return np.array([self.right_eye, self.left_eye, self.mouth_right, self.mouth_left], dtype=np.float64)

    @property
    def eye_distance(self) -> float:
        return float(np.hypot(*np.subtract(self.left_eye, self.right_eye)))


@dataclass(frozen=True)
class FaceTemplate:
    """Where the four keypoints sit in a crop, as fractions of its side."""

    points: np.ndarray  # (4, 2): right eye, left eye, mouth right, mouth left
    weights: np.ndarray  # (4,): how much each point counts in the fit

    @classmethod
    def celeba(cls) -> "FaceTemplate":
        """The measured template; each point is weighted by the inverse of its spread over the
        training crops, so steady eyes count more than mouth corners that move with a smile."""
        data = json.loads(TEMPLATE_PATH.read_text())
        spread = np.array([data["robust_std"][k] for k in KEYPOINT_NAMES])
        return cls(np.array([data["points"][k] for k in KEYPOINT_NAMES]), 1.0 / (spread**2).sum(axis=1))

    def at(self, size: int) -> np.ndarray:
        return self.points * size


@dataclass(frozen=True)
class Alignment:
    """A similarity transform from photo pixels to crop pixels, with the sizes on both sides."""

    matrix: np.ndarray  # (2, 3): crop = matrix @ [x, y, 1]
    size: int  # crop side in pixels
    photo_size: tuple[int, int]  # (width, height) of the photo
    method: str

    @property
    def scale(self) -> float:
        """Crop pixels per photo pixel."""
        return float(np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))

    @property
    def inverse(self) -> np.ndarray:
        return invert_affine(self.matrix)

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        return apply_affine(self.matrix, points)

    def to_photo(self, points: np.ndarray) -> np.ndarray:
        return apply_affine(self.inverse, points)

    def to_dict(self) -> dict[str, Any]:
        return {"matrix": self.matrix.tolist(), "size": self.size, "photo_size": list(self.photo_size),
                "method": self.method}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Alignment":
        return cls(np.array(data["matrix"], dtype=np.float64), int(data["size"]),
                   (int(data["photo_size"][0]), int(data["photo_size"][1])), str(data["method"]))


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    linear = np.linalg.inv(matrix[:, :2])
    return np.hstack([linear, -linear @ matrix[:, 2:3]])


def similarity_transform(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Weighted least-squares rotation + uniform scale + translation taking src points onto dst
    (no reflection): a face keeps its proportions and only its framing changes."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise DragInputError("a similarity transform needs two equal lists of at least two (x, y) points")
    wt = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=np.float64)
    if wt.shape != (len(src),) or np.any(wt < 0) or wt.sum() <= 0:
        raise DragInputError("similarity weights must be one non-negative number per point, not all zero")
    wt = wt / wt.sum()
    ms, md = wt @ src, wt @ dst
    s, d = src - ms, dst - md
    var = (wt * (s**2).sum(axis=1)).sum()
    if var <= 1e-12:
        raise DragInputError("the face keypoints coincide; cannot align")
    # With complex numbers a similarity is z -> a z + b; least squares gives a = <d, s> / <s, s>.
    sz, dz = s[:, 0] + 1j * s[:, 1], d[:, 0] + 1j * d[:, 1]
    a = (wt * np.conj(sz) * dz).sum() / var
    linear = np.array([[a.real, -a.imag], [a.imag, a.real]])
    return np.hstack([linear, (md - linear @ ms)[:, None]])


def celeba_alignment(keypoints: FaceKeypoints, size: int, photo_size: tuple[int, int],
                     template: FaceTemplate | None = None) -> Alignment:
    """The embedded model's framing: the photo's keypoints fitted onto the measured template."""
    template = template or FaceTemplate.celeba()
    matrix = similarity_transform(keypoints.array(), template.at(size), template.weights)
    return Alignment(matrix, size, photo_size, "celeba")


def ffhq_alignment(keypoints: FaceKeypoints, size: int, photo_size: tuple[int, int]) -> Alignment:
    """FFHQ's framing: a square centred a little below the eyes, sized by the larger of twice the
    eye distance and 1.8 times the eye-to-mouth distance, turned so the eye line is level-ish
    (the mouth direction counts too)."""
    k = keypoints.array()
    eye_avg = (k[0] + k[1]) / 2
    eye_to_eye = k[1] - k[0]  # from the image-left eye to the image-right eye
    eye_to_mouth = (k[2] + k[3]) / 2 - eye_avg
    x = eye_to_eye - np.array([-eye_to_mouth[1], eye_to_mouth[0]])
    norm = np.hypot(*x)
    if norm <= 1e-9:
        raise DragInputError("the face keypoints coincide; cannot align")
    x = x / norm * max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = np.array([-x[1], x[0]])
    centre = eye_avg + eye_to_mouth * 0.1
    quad = np.stack([centre - x - y, centre - x + y, centre + x + y])  # top-left, bottom-left, bottom-right
    corners = np.array([[0, 0], [0, size], [size, size]], dtype=np.float64)
    matrix = similarity_transform(quad, corners)
    return Alignment(matrix, size, photo_size, "ffhq")


def align_face(keypoints: FaceKeypoints, size: int, photo_size: tuple[int, int], method: str = "celeba") -> Alignment:
    if method == "celeba":
        return celeba_alignment(keypoints, size, photo_size)
    if method == "ffhq":
        return ffhq_alignment(keypoints, size, photo_size)
    raise DragInputError(f"unknown alignment {method!r}; use one of {', '.join(ALIGNMENTS)}")


def _region(image: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """image[y0:y1, x0:x1], mirrored where the window leaves the image, so a face near the
    border gets plausible surroundings instead of black."""
    h, w = image.shape[:2]
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if cx0 >= cx1 or cy0 >= cy1:
        raise DragInputError("the face lies outside the photo")
    inner = image[cy0:cy1, cx0:cx1]
    pad = ((cy0 - y0, y1 - cy1), (cx0 - x0, x1 - cx1)) + ((0, 0),) * (image.ndim - 2)
    if not any(p for pair in pad for p in pair):
        return inner
    return np.pad(inner, pad, mode="symmetric")


def warp_to_crop(photo: np.ndarray, alignment: Alignment) -> np.ndarray:
    """The aligned face crop (size x size x 3 uint8) from an H x W x 3 uint8 photo."""
    size = alignment.size
    inv = alignment.inverse
    corners = apply_affine(inv, np.array([[0, 0], [size, 0], [0, size], [size, size]], dtype=np.float64))
    x0, y0 = np.floor(corners.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 2
    region = _region(photo, x0, y0, x1, y1)
    to_region = inv.copy()
    to_region[:, 2] -= (x0, y0)
    shrink = 1.0 / (alignment.scale * MAX_DOWNSCALE)
    img = Image.fromarray(region)
    if shrink > 1:
        new_size = (max(1, round(img.width / shrink)), max(1, round(img.height / shrink)))
        sx, sy = new_size[0] / img.width, new_size[1] / img.height
        img = img.resize(new_size, Image.LANCZOS)
        to_region = np.diag([sx, sy]) @ to_region
    crop = img.transform((size, size), Image.AFFINE, tuple(to_region.ravel()), resample=Image.BICUBIC)
    return np.array(crop, dtype=np.uint8)


def feather_mask(size: int, inset: float = 0.03, feather: float = 0.15) -> np.ndarray:
    """Blend weight over the crop (size x size float32): 1 inside, a smooth ramp to 0 over the
    last `feather` of the side, 0 in the outer `inset` (where the warp's edge samples live)."""
    centres = np.arange(size, dtype=np.float64) + 0.5
    edge = np.minimum(centres, size - centres) / size
    ramp = np.clip((edge - inset) / feather, 0.0, 1.0)
    ramp = ramp * ramp * (3 - 2 * ramp)
    return np.minimum.outer(ramp, ramp).astype(np.float32)


def change_weight(edited: np.ndarray, reference: np.ndarray, low: float = 6.0, high: float = 24.0,
                  grow: float = 0.05) -> np.ndarray:
    """Blend weight (size x size float32) covering what an edit changed in the crop.

    A generator's crop is softer than the photo (64 px stretched over a face hundreds of pixels
    wide), so pasting only the changed part keeps the photo's own detail everywhere else. The
    mean absolute RGB change is ramped from `low` to `high` levels, grown by `grow` of the side
    so the whole moved feature is covered, and blurred by half as much for a soft edge."""
    edited = np.asarray(edited, dtype=np.float32)
    reference = np.asarray(reference, dtype=np.float32)
    if edited.shape != reference.shape or edited.ndim != 3:
        raise DragInputError("the edited and the reference crop must be two H x W x 3 images of the same size")
    diff = np.abs(edited - reference).mean(axis=2)
    weight = np.clip((diff - low) / max(high - low, 1e-6), 0.0, 1.0)
    radius = max(1, round(grow * edited.shape[0]))
    img = Image.fromarray(np.rint(weight * 255).astype(np.uint8))
    img = img.filter(ImageFilter.MaxFilter(2 * radius + 1)).filter(ImageFilter.GaussianBlur(radius / 2))
    return np.asarray(img, dtype=np.float32) / 255.0


def paste_back(photo: np.ndarray, crop: np.ndarray, alignment: Alignment, weight: np.ndarray | None = None) -> np.ndarray:
    """The photo with the (edited) crop warped back in and blended with a feathered mask.

    `weight` (size x size, values in [0, 1]) limits the blend further, e.g. to the part an edit
    changed. Photo pixels the mask does not reach are returned unchanged, bit for bit."""
    photo = np.asarray(photo)
    size = alignment.size
    if crop.shape[:2] != (size, size):
        raise DragInputError(f"the crop must be {size}x{size}, got {crop.shape[1]}x{crop.shape[0]}")
    if photo.shape[:2] != (alignment.photo_size[1], alignment.photo_size[0]):
        raise DragInputError("the photo is not the one this alignment was made for")
    mask = feather_mask(size)
    if weight is not None:
        mask = mask * np.clip(np.asarray(weight, dtype=np.float32), 0, 1)
    h, w = photo.shape[:2]
    corners = alignment.to_photo(np.array([[0, 0], [size, 0], [0, size], [size, size]], dtype=np.float64))
    x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(corners.max(axis=0)).astype(int), (w, h))
    if x0 >= x1 or y0 >= y1:
        return photo.copy()
    to_crop = alignment.matrix.copy()
    to_crop[:, 2] += to_crop[:, :2] @ np.array([x0, y0], dtype=np.float64)
    box = (int(x1 - x0), int(y1 - y0))
    data = tuple(to_crop.ravel())
    face = np.asarray(Image.fromarray(np.ascontiguousarray(crop, dtype=np.uint8)).transform(
        box, Image.AFFINE, data, resample=Image.BICUBIC), dtype=np.float32)
    alpha = np.asarray(Image.fromarray(mask).transform(box, Image.AFFINE, data, resample=Image.BILINEAR),
                       dtype=np.float32)[..., None]
    out = photo.copy()
    window = out[y0:y1, x0:x1].astype(np.float32)
    blended = np.clip(np.rint(window * (1 - alpha) + face * alpha), 0, 255).astype(np.uint8)
    out[y0:y1, x0:x1] = np.where(alpha > 0, blended, out[y0:y1, x0:x1])
    return out
