"""The arithmetic of DragGAN's face-landmark benchmark (Table 1), kept free of models and detectors.

The paper drags the landmarks of one generated face onto those of another and reports the mean
remaining distance (MD) over 1, 5 or 68 points, in pixels of a 512-px image. For 1 and 5 points
it uses a random subset; here that subset is drawn once from a fixed seed, so every pair and every
run drags the same landmarks and runs can be compared.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

NUM_LANDMARKS = 68
POINT_COUNTS = (1, 5, 68)
PAPER_RESOLUTION = 512
SUBSET_SEED = 0
# Table 1 of the paper, StyleGAN2 FFHQ-512: MD in px for 1 / 5 / 68 points.
PAPER_NO_EDIT = {1: 12.93, 5: 11.66, 68: 16.02}
PAPER_DRAGGAN = {1: 2.44, 5: 3.18, 68: 4.73}


def landmark_subset(count: int, seed: int = SUBSET_SEED) -> list[int]:
    """Indices (iBUG order) of the landmarks dragged with `count` points: all 68, or `count` drawn
    without replacement from a fixed seed (sorted)."""
    if not 1 <= count <= NUM_LANDMARKS:
        raise ValueError(f"the point count must be in 1..{NUM_LANDMARKS}, got {count}")
    if count == NUM_LANDMARKS:
        return list(range(NUM_LANDMARKS))
    return sorted(int(i) for i in np.random.RandomState(seed).choice(NUM_LANDMARKS, count, replace=False))


def mean_distance(points: np.ndarray, targets: np.ndarray) -> float:
    """Mean Euclidean distance between matching rows of two (n, 2) arrays: the paper's MD."""
    a, b = np.asarray(points, np.float64), np.asarray(targets, np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.shape[1] != 2 or len(a) == 0:
        raise ValueError(f"need two (n, 2) arrays of the same shape, got {a.shape} and {b.shape}")
    return float(np.linalg.norm(a - b, axis=1).mean())


def to_paper_pixels(distance: float, resolution: int) -> float:
    """A distance on a `resolution`-px image expressed in pixels of a 512-px one (the paper's unit)."""
    return distance * PAPER_RESOLUTION / resolution


def clip_to_image(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """Points moved inside 0..W-1 x 0..H-1: dlib places jaw points of a face that fills the crop a
    little outside it, and a drag's handles and targets must be pixels of the image."""
    p = np.asarray(points, np.float64)
    return np.stack([p[:, 0].clip(0, width - 1), p[:, 1].clip(0, height - 1)], axis=1)


def paper_stop_distance(resolution: int, count: int, minimum: float = 1.0) -> float:
    """The paper's stop distance (1 px at 512 for up to 5 handles, 2 px for more) at this resolution,
    but never under `minimum`: the drag's closest possible stop (`DragConfig.min_stop_distance`;
    1 px where a handle within 1 px of its target is not pushed)."""
    at_512 = 1.0 if count <= 5 else 2.0
    return max(at_512 * resolution / PAPER_RESOLUTION, minimum)


def ratio(value: float, baseline: float) -> float:
    """value / baseline, NaN when the baseline is zero (no distance to remove)."""
    return value / baseline if baseline > 0 else math.nan


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean, NaN for no values (a point count with no usable pair)."""
    return float(np.mean(values)) if len(values) else math.nan
