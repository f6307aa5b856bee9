"""Step size beyond a constant Adam lr: a per-step decay and backtracking when a step made things worse.

A constant step that moves the content 1-2 px per step oscillates around a target it cannot land on
at pixel precision, and a step that overshoots tears the content away from the handle (its template
then matches much worse). Backtracking undoes such a step and halves the step size; the decay shrinks
the step as the drag goes on.
"""

from __future__ import annotations

# The backtracking step size never goes below this fraction of the scheduled one.
MIN_BACKTRACK_FACTOR = 1 / 8


def scheduled_lr(base: float, step: int, decay: float) -> float:
    """Step size at `step` (0-based): base * decay ** step; decay 1 is the constant official step."""
    return base * decay ** step


def worsened(previous: float | None, current: float, tolerance: float) -> bool:
    """`current` exceeds `previous` by more than `tolerance` (a fraction); False on the first step."""
    return previous is not None and current > previous * (1.0 + tolerance)


def shrink(factor: float) -> float | None:
    """The backtracking factor after one more backtrack, or None when it is already at the floor
    (the step is then accepted: a drag must not stall on backtracking alone)."""
    return factor / 2 if factor / 2 >= MIN_BACKTRACK_FACTOR else None
