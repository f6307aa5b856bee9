"""Did a photo edit land? MediaPipe on the pasted-back photo, before and after, says by how much
the measure the command names (mouth opening, smile width, brow height, eye opening) moved.

A drag can converge on the generator's 64-px crop and still leave the photo looking the same:
the paste-back blends in only what changed, and a soft reconstruction may move pixels without
moving the feature. So the check runs where the user looks, on the whole edited photo, with the
same landmarker the parser grounds commands with. Which measure an action changes, which way,
and how much change counts, are data in `parsers/atlas.json` ("measures"), next to the motions
that make the drag, so a part or action added there is measured without touching this code.

`measure_edit` is the arithmetic on two sets of landmarks (pure, for tests and benchmarks);
`measure_photo_edit` finds the edited face in both photos first; `apply_measured` wraps an
editor's `apply` with both pictures and takes back an edit that loses the face.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Callable

import numpy as np

from assistant.editor import Editor, Outcome
from draggan_core.align import Alignment
from parsers.atlas import Atlas, Measure, load_atlas
from parsers.command import Command
from parsers.grounding import face_frame

DIRECTION_WORDS = {1: "increase", -1: "decrease"}


@dataclass(frozen=True)
class EditMeasure:
    """How one edit moved its measure, in inter-ocular units (eye centre to eye centre), so a
    figure means the same on a small and a large face. `after`/`change` are None when MediaPipe
    no longer finds the face in the edited photo (then `moved` is False)."""

    measure: str
    part: str
    action: str
    side: str | None
    expected: str  # "increase" or "decrease"
    before: float
    after: float | None
    change: float | None
    min_change: float
    face_found: bool
    moved: bool

    def describe(self) -> str:
        """One line for stderr or the app's status line."""
        if not self.face_found:
            return f"{self.measure}: MediaPipe no longer finds the face in the edited photo"
        verdict = "moved" if self.moved else "did not move"
        wanted = "up" if self.expected == "increase" else "down"
        return (f"{self.measure} {self.before:.3f} -> {self.after:.3f} inter-ocular ({self.change:+.3f}, "
                f"wanted {wanted} by at least {self.min_change:g}): {verdict}")

    def to_json(self) -> dict:
        out = asdict(self)
        for key in ("before", "after", "change"):
            if out[key] is not None:
                out[key] = round(out[key], 4)
        return out


def intended_effect(command: Command, atlas: Atlas | None = None) -> tuple[Measure, int] | None:
    """The measure a parsed edit should change and its direction (+1 grow, -1 shrink); None for
    what the atlas does not measure (coordinates, the nose, turning the head, settings)."""
    atlas = atlas if atlas is not None else load_atlas()
    if command.command != "drag" or not command.part or not command.action:
        return None
    part = atlas.parts.get(command.part)
    effect = part.effect(command.action) if part is not None else None
    if effect is None:
        return None
    return atlas.measures[effect.measure], effect.direction


def measure_value(landmarks: np.ndarray, measure: Measure, side: str | None, atlas: Atlas | None = None) -> float:
    """The measure on one face: the mean of its spans (only the named side's and the unsided ones
    when `side` is "left" or "right"), along the face frame's axis, over the inter-ocular distance."""
    atlas = atlas if atlas is not None else load_atlas()
    lm = np.asarray(landmarks, dtype=np.float64)
    frame = face_frame(lm, atlas)
    axis = frame.x_axis if measure.axis == "x" else frame.y_axis
    spans = [s for s in measure.spans if side not in ("left", "right") or s.side in (None, side)]
    values = [float((lm[list(s.end)].mean(axis=0) - lm[list(s.start)].mean(axis=0)) @ axis) for s in spans]
    return float(np.mean(values)) / frame.size


def measure_edit(before: np.ndarray, after: np.ndarray | None, command: Command,
                 atlas: Atlas | None = None) -> EditMeasure | None:
    """Landmarks before and after an edit (478 x 2, pixels; `after` None when the face was lost)
    and the parsed command -> how its measure moved, or None when it names nothing measured."""
    atlas = atlas if atlas is not None else load_atlas()
    intended = intended_effect(command, atlas)
    if intended is None:
        return None
    measure, direction = intended
    start = measure_value(before, measure, command.side, atlas)
    end = None if after is None else measure_value(after, measure, command.side, atlas)
    change = None if end is None else end - start
    moved = change is not None and change * direction >= measure.min_change
    return EditMeasure(measure=measure.name, part=command.part, action=command.action, side=command.side,
                       expected=DIRECTION_WORDS[direction], before=start, after=end, change=change,
                       min_change=measure.min_change, face_found=end is not None, moved=moved)


def find_edited_face(photo: np.ndarray, alignment: Alignment, landmarker=None) -> np.ndarray | None:
    """The landmarks of the face the crop was cut from: of the faces MediaPipe finds, the one whose
    eye midpoint is nearest the crop's centre mapped back to the photo, if within its eye distance
    (another face in a group photo is never mistaken for it); None when there is none."""
    from assistant.photo import detect_faces

    centre = alignment.to_photo(np.array([[alignment.size / 2, alignment.size / 2]]))[0]
    best, best_distance = None, np.inf
    for face in detect_faces(photo, landmarker):
        kp = face.keypoints
        midpoint = (np.asarray(kp.right_eye) + np.asarray(kp.left_eye)) / 2
        distance = float(np.linalg.norm(midpoint - centre))
        if distance < kp.eye_distance and distance < best_distance:
            best, best_distance = face.landmarks, distance
    return best


def measure_photo_edit(before: np.ndarray, after: np.ndarray, alignment: Alignment, command: Command, landmarker=None,
                       original: np.ndarray | None = None) -> EditMeasure | None:
    """`measure_edit` on two whole photos (before and after one edit, both pasted back). Where the
    face is not found in `before` (with `--paste face` the fitted reconstruction itself can hide it
    from MediaPipe), the `original` photo stands in, so losing the face is still caught; None when
    neither has it."""
    if intended_effect(command) is None:
        return None
    start = find_edited_face(before, alignment, landmarker)
    if start is None and original is not None:
        start = find_edited_face(original, alignment, landmarker)
    if start is None:
        return None
    return measure_edit(start, find_edited_face(after, alignment, landmarker), command)


def apply_measured(editor: Editor, command: Command,
                   apply: Callable[[], Outcome]) -> tuple[Outcome, EditMeasure | None]:
    """Run `apply` (the editor carrying out `command`) and, on a photo, measure what it did to the
    photo. Returns (outcome, EditMeasure or None); the outcome's message gains the measurement.

    An edit after which MediaPipe no longer finds the face is taken back whole, like a drag that
    changed nothing, and comes back as an error outcome: a photo that is no longer a face is never
    the editor's state, so neither `save` in the app nor `edit -o` can write it."""
    photo = getattr(editor, "photo_image", None)
    if photo is None or intended_effect(command) is None:
        return apply(), None
    before = photo()
    with editor.lock:
        mark = editor.session.history.mark()
    outcome = apply()
    if outcome.error:
        return outcome, None
    measured = measure_photo_edit(before, photo(), editor.photo.alignment, command, original=editor.photo.photo)
    if measured is None:
        return outcome, None
    if not measured.face_found:
        with editor.lock:
            editor.session.history.restore(mark)
        editor.autosave()
        return replace(outcome, message=f"{outcome.message}; {measured.describe()}, so the edit was taken back",
                       error=True, changed=False), measured
    return replace(outcome, message=f"{outcome.message}; {measured.describe()}"), measured
