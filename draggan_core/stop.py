"""The stop tests: a drag is done when every handle is close enough to its target, and stalled
when the farthest handle has stopped getting closer."""

from __future__ import annotations

import math
from collections.abc import Sequence


def point_distances(points: Sequence[tuple[float, float]], targets: Sequence[tuple[float, float]]) -> list[float]:
    return [math.hypot(t[0] - p[0], t[1] - p[1]) for p, t in zip(points, targets)]


def targets_reached(distances: Sequence[float], threshold: float) -> bool:
    """True when no handle is farther than `threshold` pixels from its target."""
    return all(d <= threshold for d in distances)


def stalled(farthest: Sequence[float], patience: int, min_improvement: float) -> bool:
    """True when the last `patience` steps never brought the farthest handle `min_improvement`
    px closer than the best of the `patience` steps before them. `farthest[i]` is step i's
    largest handle-target distance.

    Tracking moves points in whole pixels and a drag wobbles, so the test compares the bests of
    two windows, not single steps: a handle circling at one distance is stalled, a handle that
    was knocked away and is coming back is still getting closer."""
    if len(farthest) <= patience:
        return False
    recent = farthest[-patience:]
    before = farthest[-2 * patience:-patience]
    return min(recent) > min(before) - min_improvement
