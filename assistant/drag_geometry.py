"""Fitting a named part's motion to what the drag engine can carry out at the picture's size.

The atlas gives a face's motions as fractions of its eye distance and its masks as a margin around
the part, so both shrink with the face: "make her smile" is 16 px on a 512-px face and under 2 px on
a 64-px one, and the mask of an eyebrow there is a sliver a rounded handle pixel can fall out of
(the engine then refuses the drag: a handle the mask holds fixed cannot move). Coordinates a user
types are never changed here; only the editor's grounded part edits go through these.
"""

from __future__ import annotations

import numpy as np

Point = tuple[float, float]


def lengthen_to(handles: list[Point], targets: list[Point], shortest: float,
                size: tuple[int, int]) -> tuple[list[Point], float]:
    """Targets moved out along their motions so the longest is at least `shortest` px (kept inside
    the `size` = (width, height) picture), and the factor used (1 when it already was)."""
    h = np.asarray(handles, dtype=np.float64)
    t = np.asarray(targets, dtype=np.float64)
    longest = float(np.linalg.norm(t - h, axis=1).max()) if len(h) else 0.0
    if longest <= 0 or longest >= shortest:
        return [tuple(map(float, p)) for p in t], 1.0
    factor = shortest / longest
    moved = np.clip(h + (t - h) * factor, [0, 0], [size[0] - 1, size[1] - 1])
    return [tuple(map(float, p)) for p in moved], factor


def hold_points(mask: np.ndarray, points: list[Point], radius: int) -> np.ndarray:
    """The mask (True = may change) with a disk of `radius` px around each point added: motion
    supervision moves the content in such a disk around every handle, towards its target."""
    h, w = mask.shape
    yy, xx = np.mgrid[0:h, 0:w]
    out = mask.copy()
    for x, y in points:
        out |= (xx - round(x)) ** 2 + (yy - round(y)) ** 2 <= radius * radius
    return out
