"""The stop test: a drag is done when every handle is close enough to its target."""

from __future__ import annotations

import math
from collections.abc import Sequence


def point_distances(points: Sequence[tuple[float, float]], targets: Sequence[tuple[float, float]]) -> list[float]:
    return [math.hypot(t[0] - p[0], t[1] - p[1]) for p, t in zip(points, targets)]


def targets_reached(distances: Sequence[float], threshold: float) -> bool:
    """True when no handle is farther than `threshold` pixels from its target."""
    return all(d <= threshold for d in distances)
