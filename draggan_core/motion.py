"""Motion supervision: pull the features one step along the handle-to-target direction.

For a handle p and target t, the features in a disk of radius r1 around p are compared (L1)
with the features sampled one pixel further towards t; the unshifted side is detached, so the
gradient moves the content, not the reference. An optional mask term keeps the fixed region's
features at their values from the start of the drag.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .patch import FeaturePatch


def motion_direction(point: tuple[float, float], target: tuple[float, float]) -> torch.Tensor:
    """Unit (dx, dy) from point to target, computed in float32 as the official code does."""
    direction = torch.tensor([target[0] - point[0], target[1] - point[1]], dtype=torch.float32)
    return direction / (torch.linalg.norm(direction) + 1e-7)


def disk_pixels(point: tuple[float, float], radius: int, height: int, width: int,
                linspace_grid: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Image pixels (rows, cols) strictly closer than `radius` to the point.

    With `linspace_grid` the pixel coordinates are `linspace(0, h, h)` as in the official
    renderer (pixel i sits at i*h/(h-1)), which shifts the disk slightly towards the origin and
    changes its pixel count; only a window around the point is evaluated.
    """
    x, y = point
    r0 = max(int(math.floor(y - radius)) - 2, 0)
    r1 = min(int(math.ceil(y + radius)) + 2, height)
    c0 = max(int(math.floor(x - radius)) - 2, 0)
    c1 = min(int(math.ceil(x + radius)) + 2, width)
    rows = torch.arange(r0, r1)
    cols = torch.arange(c0, c1)
    if linspace_grid:
        ycoord = torch.linspace(0, height, height)[r0:r1]
        xcoord = torch.linspace(0, width, width)[c0:c1]
    else:
        ycoord = rows.to(torch.float32)
        xcoord = cols.to(torch.float32)
    yy, xx = torch.meshgrid(ycoord, xcoord, indexing="ij")
    distance = torch.sqrt((yy - y) ** 2 + (xx - x) ** 2)
    ii, jj = torch.where(distance < radius)
    return rows[ii], cols[jj]


def motion_loss(patch: FeaturePatch, point: tuple[float, float], target: tuple[float, float], radius: int,
                linspace_grid: bool = False, subpixel: bool = False) -> torch.Tensor:
    """Mean L1 between the disk's features (detached) and the same disk shifted one pixel towards
    the target. A handle within one pixel of its target is not pushed (the official rule); with
    `subpixel` it is, by the distance that is left, so it can settle between pixels."""
    rows, cols = disk_pixels(point, radius, patch.height, patch.width, linspace_grid)
    distance = math.hypot(target[0] - point[0], target[1] - point[1])
    if rows.numel() == 0 or distance <= (0.0 if subpixel else 1.0):
        return patch.values.new_zeros(())
    d = motion_direction(point, target)
    if subpixel:
        d = d * min(distance, 1.0)
    reference = patch.at(rows, cols).detach()
    shifted = patch.sample(rows + d[1], cols + d[0])
    return F.l1_loss(reference, shifted)


def mask_loss(feature_change: torch.Tensor, fixed: torch.Tensor, weight: float) -> torch.Tensor:
    """weight * mean |F - F0| over the fixed region, averaged over every element of the map (the
    official normalisation). `feature_change` is F - F0 at image resolution, (1, C, H, W);
    `fixed` is (H, W), 1 where the image must stay."""
    return weight * (feature_change * fixed).abs().mean()
