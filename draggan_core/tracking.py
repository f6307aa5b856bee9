"""Point tracking: each handle follows the best match of its original feature vector."""

from __future__ import annotations

import torch

from .patch import FeaturePatch


def track_point(patch: FeaturePatch, reference: torch.Tensor, point: tuple[int, int],
                radius: int) -> tuple[int, int]:
    """Nearest neighbour (channel-wise L2) of `reference` (C,) within `radius` of `point` (x, y),
    searching the square window clipped to the image; ties go to the first pixel in row-major
    order, as in the official code."""
    x, y = int(point[0]), int(point[1])
    top, bottom = max(y - radius, 0), min(y + radius + 1, patch.height)
    left, right = max(x - radius, 0), min(x + radius + 1, patch.width)
    window = patch.window(top, bottom, left, right).detach()
    distance = torch.linalg.norm(window - reference.reshape(-1, 1, 1), dim=0)
    _, idx = torch.min(distance.reshape(1, -1), -1)
    idx = int(idx.item())
    width = right - left
    return left + idx % width, top + idx // width
