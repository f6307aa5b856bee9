"""dlib's 68 face landmarks (Kazemi & Sullivan's aligner), the detector DragGAN's benchmark used.

dlib (`dlib-bin`) and the predictor file (`face-recognition-models`) are a measuring tool's
dependencies, installed with the `landmarks` extra and imported on first use, so the editor runs
without them. The file is found through the package's folder rather than by importing the package:
its `__init__` needs `pkg_resources`, which new setuptools no longer ships.

Small images are enlarged (bicubic) to `upscale` pixels before detection, because dlib's HOG face
detector does not fire on faces much under 80 px and a 64-px generated face is about 35 px wide.
Landmarks are returned in the original image's pixels.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"
INSTALL_HINT = "pip install 'draggan-assistant[landmarks]' (dlib-bin and face-recognition-models)"
DEFAULT_UPSCALE = 256
# Where the face is in the embedded model's framing (CelebA crops, 89x89 from y=10), as fractions of
# the image side (left, top, right, bottom): the median dlib HOG box over 1,000 real crops at 64 px,
# measured by `python benchmarks/landmark_fallback_box.py --n 1000` (HOG finds 95.8% of those faces at
# upsample 0, 95.1% at 1, hence upsample 0 by default). Used only when asked, for models whose faces
# the detector does not find yet.
CELEBA_FALLBACK_BOX = (0.248, 0.3574, 0.7324, 0.8848)

Box = tuple[float, float, float, float]  # left, top, right, bottom in image pixels


class LandmarkError(Exception):
    """The landmark detector cannot run (dlib or its model file is missing)."""


@dataclass(frozen=True)
class FaceLandmarks:
    points: np.ndarray  # (68, 2) float (x, y) in the image's pixels, dlib's iBUG order
    box: Box  # the face box the points were predicted in, image pixels
    detected: bool  # True when the HOG detector found this face; False for a given or fallback box


def predictor_path() -> Path:
    """The 68-point model inside the face-recognition-models package."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise LandmarkError(f"the 68-point landmark model is not installed: {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / PREDICTOR_FILE
    if not path.is_file():
        raise LandmarkError(f"{path} is missing: reinstall face-recognition-models")
    return path


def to_image_pixels(points: np.ndarray, scale: float) -> np.ndarray:
    """Points found on an image enlarged `scale` times back to the original's pixels (pixel centres
    map as in PIL's resize: x_big + 0.5 = scale * (x + 0.5))."""
    return (np.asarray(points, np.float64) + 0.5) / scale - 0.5


def largest_box(boxes: list[Box]) -> Box | None:
    """The largest of the detected boxes: a generated face fills the picture, so smaller boxes are
    spurious hits on background texture."""
    if not boxes:
        return None
    return max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))


def fraction_box(fractions: Box, width: int, height: int) -> Box:
    """A box given as fractions of the image's width and height, in its pixels."""
    left, top, right, bottom = fractions
    return (left * width, top * height, right * width, bottom * height)


class Landmarks68:
    """HOG face detection + the 68-point shape predictor, loaded once.

    `upsample` is dlib's own pyramid upsampling of the (already enlarged) image; `fallback_box`
    (fractions of the side, e.g. `CELEBA_FALLBACK_BOX`) is used when no face is detected, and the
    result says so (`detected=False`).
    """

    def __init__(self, upscale: int = DEFAULT_UPSCALE, upsample: int = 0, fallback_box: Box | None = None):
        try:
            import dlib
        except ImportError:
            raise LandmarkError(f"dlib is not installed: {INSTALL_HINT}") from None
        self._dlib: Any = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(predictor_path()))
        self.upscale = upscale
        self.upsample = upsample
        self.fallback_box = fallback_box

    def _enlarged(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        h, w = image.shape[:2]
        if max(h, w) >= self.upscale:
            return np.ascontiguousarray(image), 1.0
        scale = self.upscale / max(h, w)
        big = Image.fromarray(image).resize((round(w * scale), round(h * scale)), Image.BICUBIC)
        return np.ascontiguousarray(np.asarray(big)), scale

    def detect_box(self, image: np.ndarray) -> Box | None:
        """The largest HOG face box in image pixels, or None."""
        big, scale = self._enlarged(image)
        rects = self._detector(big, self.upsample)
        boxes = [tuple(float(v) for v in to_image_pixels(np.array([[r.left(), r.top()], [r.right(), r.bottom()]]),
                                                          scale).reshape(-1)) for r in rects]
        return largest_box(boxes)  # type: ignore[arg-type]

    def predict(self, image: np.ndarray, box: Box, detected: bool = False) -> FaceLandmarks:
        """The 68 points of the face in `box` (image pixels), whatever the detector thinks."""
        big, scale = self._enlarged(image)
        corners = (np.array([[box[0], box[1]], [box[2], box[3]]]) + 0.5) * scale - 0.5
        rect = self._dlib.rectangle(*(int(round(v)) for v in corners.reshape(-1)))
        shape = self._predictor(big, rect)
        points = np.array([[shape.part(i).x, shape.part(i).y] for i in range(shape.num_parts)], np.float64)
        return FaceLandmarks(points=to_image_pixels(points, scale), box=box, detected=detected)

    def detect(self, image: np.ndarray) -> FaceLandmarks | None:
        """Landmarks of the largest detected face; the fallback box's when none is detected (if one
        was given); otherwise None."""
        box = self.detect_box(image)
        if box is not None:
            return self.predict(image, box, detected=True)
        if self.fallback_box is None:
            return None
        return self.predict(image, fraction_box(self.fallback_box, image.shape[1], image.shape[0]), detected=False)
