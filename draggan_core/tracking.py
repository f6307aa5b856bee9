"""Point tracking: each handle follows the best match of its original feature vector."""

from __future__ import annotations

import torch

from .patch import FeaturePatch
from .subpixel import refine_minimum


def match_window(patch: FeaturePatch, reference: torch.Tensor, point: tuple[float, float],
                 radius: int) -> tuple[torch.Tensor, int, int]:
    """Channel-wise L2 distance of `reference` (C,) to every pixel of the square window of `radius`
    around `point` (x, y, rounded to its pixel), clipped to the image; also the window's top row
    and left column."""
    x, y = int(round(point[0])), int(round(point[1]))
    top, bottom = max(y - radius, 0), min(y + radius + 1, patch.height)
    left, right = max(x - radius, 0), min(x + radius + 1, patch.width)
    window = patch.window(top, bottom, left, right).detach()
    return torch.linalg.norm(window - reference.reshape(-1, 1, 1), dim=0), top, left


def best_position(distance: torch.Tensor, top: int, left: int, subpixel: bool = False) -> tuple[float, float]:
    """(x, y) of the window's smallest distance, ties to the first pixel in row-major order as in
    the official code; with `subpixel` refined between pixels (`subpixel.refine_minimum`)."""
    _, idx = torch.min(distance.reshape(1, -1), -1)
    idx = int(idx.item())
    row, col = divmod(idx, distance.shape[1])
    if not subpixel:
        return left + col, top + row
    dx, dy = refine_minimum(distance, row, col)
    return left + col + dx, top + row + dy


def track_point(patch: FeaturePatch, reference: torch.Tensor, point: tuple[float, float],
                radius: int, subpixel: bool = False) -> tuple[float, float]:
    """Nearest neighbour (channel-wise L2) of `reference` (C,) within `radius` of `point` (x, y)."""
    distance, top, left = match_window(patch, reference, point, radius)
    return best_position(distance, top, left, subpixel)
