"""Tracking that keeps each handle near its straight path to the target (after FreeDrag's line search).

DragGAN's tracker takes the best match of the handle's feature anywhere in the (2 r2 + 1)^2 window,
so on weakly structured features (a small or untrained generator) it jumps sideways onto a similar
pixel and the drag then pushes from there: the handle drifts off a straight drag. Here the search is
limited to pixels within `width` px of the segment from the handle's start to its target.
"""

from __future__ import annotations

import torch

from .patch import FeaturePatch
from .tracking import best_position, match_window


def segment_distance(xs: torch.Tensor, ys: torch.Tensor, start: tuple[float, float],
                     end: tuple[float, float]) -> torch.Tensor:
    """Euclidean distance of each (x, y) to the closed segment start-end (a point when they coincide)."""
    sx, sy = float(start[0]), float(start[1])
    dx, dy = float(end[0]) - sx, float(end[1]) - sy
    length2 = dx * dx + dy * dy
    t = ((xs - sx) * dx + (ys - sy) * dy) / length2 if length2 > 0 else torch.zeros_like(xs)
    t = t.clamp(0.0, 1.0)
    return torch.hypot(xs - (sx + t * dx), ys - (sy + t * dy))


def track_point_near_line(patch: FeaturePatch, reference: torch.Tensor, point: tuple[float, float], radius: int,
                          start: tuple[float, float], end: tuple[float, float], width: float,
                          subpixel: bool = False) -> tuple[float, float]:
    """Nearest neighbour of `reference` (C,) in the window of `radius` around `point`, among the
    pixels within `width` of the segment start-end; the whole window when none is (a handle pushed
    off its path by the other handles' terms). Ties go to the first pixel in row-major order."""
    distance, top, left = match_window(patch, reference, point, radius)
    h, w = distance.shape
    ys, xs = torch.meshgrid(torch.arange(top, top + h, dtype=torch.float32),
                            torch.arange(left, left + w, dtype=torch.float32), indexing="ij")
    allowed = segment_distance(xs, ys, start, end) <= width
    if allowed.any():
        distance = torch.where(allowed, distance, torch.full_like(distance, float("inf")))
    return best_position(distance, top, left, subpixel)
