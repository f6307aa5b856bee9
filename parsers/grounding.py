"""Intent + face landmarks -> handle points, target points and a mask, via the part atlas.

Displacements are in units of the inter-ocular distance so "open the mouth" moves a 40 px face
and a 400 px face by the same fraction; face-frame motions follow the face's roll (the eye line),
image-frame motions ("move the head left") are plain pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .atlas import Atlas, Motion, Part, load_atlas
from .intents import Intent


@dataclass(frozen=True)
class FaceFrame:
    """Eye-line coordinate frame: x from the subject's right eye to the left, y down the face."""

    right_eye: np.ndarray
    left_eye: np.ndarray
    x_axis: np.ndarray
    y_axis: np.ndarray
    size: float


@dataclass
class Grounding:
    handles: list[tuple[float, float]]
    targets: list[tuple[float, float]]
    mask: dict | None
    side: str | None
    message: str


def face_frame(landmarks: np.ndarray, atlas: Atlas) -> FaceFrame:
    right = landmarks[list(atlas.right_eye)].mean(axis=0)
    left = landmarks[list(atlas.left_eye)].mean(axis=0)
    axis = left - right
    size = float(np.linalg.norm(axis))
    x_axis = axis / size if size > 0 else np.array([1.0, 0.0])
    y_axis = np.array([-x_axis[1], x_axis[0]])
    return FaceFrame(right, left, x_axis, y_axis, max(size, 1e-6))


def subject_side(side: str | None, frame_name: str, face: FaceFrame) -> str | None:
    """The subject's own side for a side said in image terms ("the eye on the left")."""
    if side not in ("left", "right") or frame_name != "image":
        return side
    right_is_image_left = face.right_eye[0] <= face.left_eye[0]
    if side == "left":
        return "right" if right_is_image_left else "left"
    return "left" if right_is_image_left else "right"


def displacement(motion: Motion, face: FaceFrame, amount: float, landmarks: np.ndarray) -> np.ndarray:
    """Pixel displacement of one motion; gap motions never overshoot the gap they close."""
    vec = np.asarray(motion.move, dtype=np.float64)
    if motion.gap is not None:
        gap = float(np.linalg.norm(landmarks[motion.gap[0]] - landmarks[motion.gap[1]]))
        length = gap * min(1.0, motion.size * amount)
    else:
        length = face.size * amount
    if motion.frame == "image":
        return vec * length
    return (vec[0] * face.x_axis + vec[1] * face.y_axis) * length


def part_points(part: Part, face: FaceFrame, landmarks: np.ndarray, idx: list[int]) -> np.ndarray:
    off = np.asarray(part.offset, dtype=np.float64)
    shift = (off[0] * face.x_axis + off[1] * face.y_axis) * face.size
    return landmarks[idx] + shift


def move_points(part: Part, action: str, side: str | None, face: FaceFrame, landmarks: np.ndarray,
                amount: float) -> tuple[np.ndarray, np.ndarray]:
    handles, targets = [], []
    for motion in part.motions[action]:
        if motion.side is not None and side not in (None, "both", motion.side):
            continue
        pts = part_points(part, face, landmarks, list(motion.points))
        if motion.grow is not None:
            centre = pts.mean(axis=0)
            factor = max(0.3, 1.0 + motion.grow * amount)
            moved = centre + (pts - centre) * factor
        else:
            moved = pts + displacement(motion, face, amount, landmarks)
        handles.append(pts)
        targets.append(moved)
    return np.concatenate(handles), np.concatenate(targets)


def convex_hull(points: np.ndarray) -> np.ndarray:
    """Monotone-chain hull, counter-clockwise, no repeated end point."""
    pts = sorted(set(map(tuple, np.round(points, 3))))
    if len(pts) < 3:
        return np.array(pts)

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list = []
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])


def mask_region(points: np.ndarray, margin: float, width: int, height: int) -> dict:
    """Hull of `points` pushed out by `margin` px, clipped to the image: polygon + bbox."""
    hull = convex_hull(points)
    centre = hull.mean(axis=0)
    out = []
    for p in hull:
        d = p - centre
        n = float(np.linalg.norm(d))
        q = p + (d / n * margin if n > 0 else 0)
        out.append([float(np.clip(q[0], 0, width - 1)), float(np.clip(q[1], 0, height - 1))])
    arr = np.array(out)
    return {"polygon": [[round(x, 1), round(y, 1)] for x, y in out],
            "bbox": [round(float(arr[:, 0].min()), 1), round(float(arr[:, 1].min()), 1),
                     round(float(arr[:, 0].max()), 1), round(float(arr[:, 1].max()), 1)]}


def ground(intent: Intent, landmarks: np.ndarray, width: int, height: int, atlas: Atlas | None = None) -> Grounding:
    """Handles, targets (clipped to the image) and mask for a complete intent."""
    atlas = atlas or load_atlas()
    part = atlas.parts[intent.part]
    face = face_frame(landmarks, atlas)
    side = subject_side(intent.side, intent.side_frame, face)
    action = part.resolve(intent.action)
    if action is None:
        raise ValueError(f"the {part.name} cannot {intent.action}")
    handles, targets = move_points(part, action, side, face, landmarks, intent.amount)
    if intent.pixels:
        longest = float(np.linalg.norm(targets - handles, axis=1).max())
        if longest > 0:
            targets = handles + (targets - handles) * (intent.pixels / longest)
    targets = np.clip(targets, [0, 0], [width - 1, height - 1])
    mask = None
    if part.masked:
        region = list(part.region)
        if part.sides and side in part.sides:
            region = list(part.sides[side])
        pts = part_points(part, face, landmarks, region)
        ext = np.asarray(part.region_extend) * face.size
        extended = pts + ext[0] * face.x_axis + ext[1] * face.y_axis
        mask = mask_region(np.concatenate([pts, extended, handles, targets]), atlas.mask_margin * face.size,
                           width, height)
    moved = float(np.linalg.norm(targets - handles, axis=1).max())
    message = f"{len(handles)} handle(s) on the {part.name}, moved up to {moved:.1f} px (face size {face.size:.1f} px)"
    return Grounding([tuple(map(float, p)) for p in handles], [tuple(map(float, p)) for p in targets], mask, side, message)
