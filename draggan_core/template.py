"""Adaptive tracking templates (after FreeDrag): the feature a handle is tracked by follows the
content as the drag succeeds.

DragGAN matches every step against the handle's feature from the start of the drag. As the content
moves it also changes (it is re-rendered at a new place), so the original feature matches worse and
worse and the tracker starts to prefer other pixels; blending in the feature found at each step
where the handle advanced keeps the template close to what the content looks like now.
"""

from __future__ import annotations

import math

import torch


def blend_template(template: torch.Tensor, feature: torch.Tensor, rate: float) -> torch.Tensor:
    """(1 - rate) * template + rate * feature: rate 0 keeps the original, 1 replaces it."""
    return torch.lerp(template, feature.detach(), rate)


def advanced(previous: tuple[float, float], current: tuple[float, float], target: tuple[float, float]) -> bool:
    """The handle got strictly closer to its target: the step succeeded for it."""
    return math.dist(current, target) < math.dist(previous, target)


def match_distances(features: torch.Tensor, templates: torch.Tensor) -> torch.Tensor:
    """L2 distance of each handle's current feature (N, C) to its template (N, C): how well the
    tracked content still looks like what is being dragged."""
    return torch.linalg.norm(features.detach() - templates, dim=1)
