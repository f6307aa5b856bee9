"""Explicit commands in their exact short forms: session verbs, save, settings, points.

These are matched whole ("undo", "steps 80", "save as out.png", "points 10,20 30,40") so the
common case needs no model and values are read exactly; everything else (coordinates:
`coordinates.py`; free phrasing: the intent model) goes on. `parse_explicit` returns None for
text that is not one of these forms.
"""

from __future__ import annotations

import re

from .command import Command, Point, unknown

_NUM = r"-?\d+(?:\.\d+)?"

_SIMPLE: list[tuple[str, str]] = [
    ("undo", r"undo( (that|it|this|(the )?last (edit|change|step|one|drag|thing|action|move)))?( undo)*"
             r"|go back( one step)?"
             r"|take (that|it) back|revert( (that|it|the last (edit|change)))?|back one step"),
    ("redo", r"redo( (that|it|this|the last (edit|change|step|one)))?|do (that|it) again"),
    ("reset", r"reset( (everything|all|the image|the picture|it|the edits))?|start (over|again|from scratch)"
              r"|(go )?back to (the )?original|restore( the)? original( image)?|revert (everything|all)"),
    ("cancel", r"(cancel|stop|abort|halt)( it| that| this| the drag| dragging| the edit| now| there| right now)*"
               r"|enough|that is enough"),
    ("help", r"help( me)?|\?|what can (i|you) (say|do)|(list|show)( the)? commands|commands|how does this work"),
    ("quit", r"quit|exit|bye|goodbye|close the (app|program|application)|leave|(i am|i'm|we are|we're) (done|finished)"),
    ("history", r"((show|list|give)( me)? )?(the |my )?(edit )?history|(show|list)( me)? (the |my )?edits|what did i do"),
]
_SIMPLE_RE = [(name, re.compile(rf"(?:{pattern})")) for name, pattern in _SIMPLE]
_SAVE_RE = re.compile(r"save(?: (?:it|this|that|the image|the picture|the result|image))?(?: (?:as|to|in|into))?(?: (?P<path>\S+))?")
_STEPS_RE = re.compile(r"(?:set |use )?(?:the )?(?:max(?:imum)? )?(?:steps|iterations|step count)(?: to| =|:|=)? (?P<n>\S+)"
                       r"|(?:use |run )?(?P<n2>\d+) (?:steps|iterations)")
_SPACE_RE = re.compile(r"(?:use |switch to |optimi[sz]e (?:in )?)?(?:the )?(?P<space>w\+|w plus|wplus|w|w space)(?: space)?")
_LR_RE = re.compile(r"(?:set )?(?:the )?(?:lr|learning rate)(?: to| =|:|=)? (?P<v>\S+)")
# How strongly what is outside the mask is held still (DragGAN's lambda, 20 by default).
_MASK_WEIGHT_RE = re.compile(r"(?:set )?(?:the )?(?:mask (?:weight|strength)|lambda(?: mask)?)(?: to| =|:|=)? (?P<v>\S+)")
MAX_MASK_WEIGHT = 1000.0
_MASK_RE = re.compile(r"(?:only )?(?:mask|edit only|only edit|only change|restrict (?:it |edits )?to) (?P<what>.+)")
_NOMASK_RE = re.compile(r"(?:no|clear|remove|drop) (?:the )?mask|unmask|mask (?:off|nothing|none)")
_POINTS_RE = re.compile(r"(?:add |set |place )?(?:a |the )?(?P<kind>points?|handles?|targets?|clicks?)(?: at)?"
                        r"(?P<rest>[\d.,()\[\] -]+)")  # one class, no nested repeat: linear time
_CLEAR_POINTS_RE = re.compile(r"(?:clear|remove|delete) (?:the |all )?(?:points|handles|targets)")

MAX_STEPS = 10_000


def parse_explicit(raw: str, form: str) -> Command | None:
    """The explicit command in `form` (the `canonical` text of `raw`), or None when it is not one.

    `raw` is only read for a save path, whose case is kept as typed.
    """
    form = form.strip(" .!?")
    if not form:
        return None
    for name, pattern in _SIMPLE_RE:
        if pattern.fullmatch(form):
            return Command(name, message=MESSAGES[name])
    m = _SAVE_RE.fullmatch(form)
    if m:
        path = _original_path(raw, m.group("path"))
        return Command("save", path=path, message=f"save to {path}" if path else "save (default file name)")
    settings = parse_settings(form)
    if settings is not None:
        return settings
    if _CLEAR_POINTS_RE.fullmatch(form):
        return Command("points", settings={"clear": True}, message="points cleared")
    m = _POINTS_RE.fullmatch(form)
    if m:
        return _parse_points(m.group("kind"), m.group("rest"))
    return None


def _original_path(raw: str, lowered: str | None) -> str | None:
    """The path as typed (case kept): the last word of the original line."""
    if lowered is None:
        return None
    last = raw.strip().split()[-1].strip("\"'")
    return last if last.lower().strip("\"'") == lowered.strip("\"'") else lowered.strip("\"'")


MESSAGES = {
    "undo": "undo the last edit",
    "redo": "redo the last undone edit",
    "reset": "back to the original image",
    "cancel": "stop the running drag",
    "help": "say an edit ('open the mouth a little', 'raise her left eyebrow'), coordinates "
            "('drag 120,88 to 120,70'), or undo, redo, reset, stop, save [PATH], history, quit; "
            "settings: 'steps 80', 'use w+', 'lr 0.005', 'mask weight 5', 'mask the mouth'",
    "quit": "quit",
    "history": "show the edit history",
}


def parse_settings(form: str) -> Command | None:
    """`steps 80`, `use w+`, `lr 0.002`, `mask weight 5`, `mask the mouth`, `no mask`; None if none matches."""
    m = _STEPS_RE.fullmatch(form)
    if m:
        value = m.group("n") or m.group("n2")
        if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_STEPS:  # not '²'
            return unknown(f"steps must be a whole number from 1 to {MAX_STEPS}, not {value!r}")
        return Command("settings", settings={"steps": int(value)}, message=f"at most {int(value)} steps per drag")
    m = _SPACE_RE.fullmatch(form)
    if m:
        space = "w" if m.group("space") in ("w", "w space") else "w+"
        return Command("settings", settings={"space": space}, message=f"optimise in {space} space")
    m = _LR_RE.fullmatch(form)
    if m:
        lr = _number_or(m.group("v"), -1.0)
        if not 0 < lr <= 1:
            return unknown(f"the learning rate must be a number in (0, 1], not {m.group('v')!r}")
        return Command("settings", settings={"lr": lr}, message=f"learning rate {lr:g}")
    m = _MASK_WEIGHT_RE.fullmatch(form)
    if m:
        weight = _number_or(m.group("v"), -1.0)
        if not 0 <= weight <= MAX_MASK_WEIGHT:
            return unknown(f"the mask weight must be a number from 0 to {MAX_MASK_WEIGHT:g}, not {m.group('v')!r}")
        return Command("settings", settings={"mask_weight": weight},
                       message=f"mask weight {weight:g}: how strongly the rest of the picture is held still")
    if _NOMASK_RE.fullmatch(form):
        return Command("settings", settings={"mask": None}, message="no mask: the whole image may change")
    m = _MASK_RE.fullmatch(form)
    if m:
        return Command("settings", settings={"mask": m.group("what")}, message=f"mask: {m.group('what')}")
    return None


def _number_or(text: str, fallback: float) -> float:
    """`text` as a float, or `fallback` when it is not a number (the caller's range check refuses it)."""
    try:
        return float(text)
    except ValueError:
        return fallback


def _numbers_to_points(numbers: list[float], what: str) -> tuple[list[Point], str | None]:
    if len(numbers) % 2:
        return [], f"{what} has {len(numbers)} numbers; each point needs two (x, y)"
    return [(numbers[i], numbers[i + 1]) for i in range(0, len(numbers), 2)], None


def _parse_points(kind: str, rest: str) -> Command:
    numbers = [float(n) for n in re.findall(_NUM, rest)]
    points, error = _numbers_to_points(numbers, "the point list")
    if error or not points:
        return unknown(error or "no coordinates given")
    if kind.startswith("handle"):
        return Command("points", handles=points, message=f"{len(points)} handle point(s)")
    if kind.startswith("target"):
        return Command("points", targets=points, message=f"{len(points)} target point(s)")
    handles, targets = points[0::2], points[1::2]
    return Command("points", handles=handles, targets=targets,
                   message=f"{len(handles)} handle and {len(targets)} target point(s), alternating like clicks")


def check_range(cmd: Command, width: int, height: int) -> Command:
    """Out-of-image points turn the command into `unknown` naming the first offending point."""
    for label, points in (("handle", cmd.handles), ("target", cmd.targets)):
        for x, y in points:
            if not (0 <= x <= width - 1 and 0 <= y <= height - 1):
                return unknown(f"{label} point ({x:g}, {y:g}) is outside the {width}x{height} image: "
                               f"x must be 0..{width - 1} and y 0..{height - 1}")
    return cmd
