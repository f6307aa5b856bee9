"""Sub-pixel point tracking: where between pixels the best match of a handle's feature lies.

DragGAN tracks a handle to the pixel whose feature is nearest its template, so a point moves in
whole pixels. At 512 px that is a 1/512 of the picture; at the embedded model's 64 px one pixel is
8 px of a 512-px picture, more than the paper's DragGAN leaves on its landmark benchmark. The match
distance is a smooth surface (the block's features are upsampled bilinearly to the image), so the
minimum between pixels is found the way stereo and optical-flow matchers do: a parabola through the
best pixel and its two neighbours, per axis.
"""

from __future__ import annotations

import math

import torch

MAX_OFFSET = 0.5  # a vertex farther than half a pixel belongs to the neighbouring pixel


def parabola_offset(before: float, best: float, after: float) -> float:
    """Offset in (-0.5, 0.5) of the vertex of the parabola through (-1, before), (0, best),
    (1, after), where `best` is the smallest of the three; 0 when the three are flat or the middle
    one is not a minimum (a border pixel, a tie)."""
    curvature = before - 2.0 * best + after
    if not curvature > 0:
        return 0.0
    offset = 0.5 * (before - after) / curvature
    return max(-MAX_OFFSET, min(MAX_OFFSET, offset))


def refine_minimum(distance: torch.Tensor, row: int, col: int) -> tuple[float, float]:
    """(dx, dy) from pixel (row, col) of a 2-D match-distance map to its sub-pixel minimum; an axis
    whose neighbour falls outside the map or is excluded (infinite) keeps the whole pixel."""
    h, w = distance.shape
    d = distance.detach().to(torch.float64)

    def along(values: list[float]) -> float:
        return parabola_offset(*values) if all(math.isfinite(v) for v in values) else 0.0

    dx = along([float(d[row, col - 1]), float(d[row, col]), float(d[row, col + 1])]) if 0 < col < w - 1 else 0.0
    dy = along([float(d[row - 1, col]), float(d[row, col]), float(d[row + 1, col])]) if 0 < row < h - 1 else 0.0
    return dx, dy
