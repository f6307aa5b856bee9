"""Coordinates however they are said: read exactly, never guessed.

"drag 120,88 to 120,70", "from (12, 33) to (12, 20)", "handle 120 80, target 120 60",
"shift the point at 40,30 down by 8 pixels", "drag 1,2 to 3,4 and 5,6 to 7,8", "(14;22) to
(14;31)", "grab 70 by 85 and drop it at 70 by 75", and spoken numbers (already digits:
`canonical`). "... without dragging" sets the points instead of running the drag. The text is
read as a sequence of points (two numbers in a row), arrows ("to", "->", "into"), labels
(handle/from, target), directions with a distance, and lone numbers; the rest of the words are
ignored. Whatever cannot be paired exactly is
answered with `unknown` naming the problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .command import Command, Point, unknown

_NUM = r"-?\d+(?:\.\d+)?"
_ITEM = re.compile(rf"(?P<num>{_NUM})|(?P<arrow>->|=>|\b(?:to|into|onto|towards?|until)\b"
                   r"|\b(?:put|drop|place|leave|set) (?:it|them) (?:down )?(?:at|on)\b)"
                   r"|(?P<label>\b(?:handles?|from|start|source|origin|targets?|destination|end|goal)\b)"
                   r"|(?P<dir>\b(?:up|down|left|right)(?:wards?)?\b|\b(?:upward|downward|higher|lower)\b)"
                   r"|(?P<sep>\band\b|\bthen\b|;|\bplus\b|\balso\b)"
                   r"|(?P<word>[a-z]+)")
_TARGET_LABELS = {"target", "targets", "destination", "end", "goal"}
_DIRECTIONS = {"up": (0, -1), "upward": (0, -1), "upwards": (0, -1), "higher": (0, -1), "down": (0, 1),
               "downward": (0, 1), "downwards": (0, 1), "lower": (0, 1), "left": (-1, 0), "leftward": (-1, 0),
               "leftwards": (-1, 0), "right": (1, 0), "rightward": (1, 0), "rightwards": (1, 0)}
_AXIS_LINK = r"(?:=|:|is\s+|at\s+|of\s+)?\s*"
# A point written "(14;22)", said "seventy by eighty five" (digits by then) or "row 40 column 30"
# (the row is y), or with its axes named ("x 40 y 50"): two numbers, one point.
_PAIR_FORMS = [(re.compile(rf"([(\[]\s*{_NUM})\s*;\s*({_NUM}\s*[)\]])"), r"\1,\2"),
               (re.compile(rf"(?<![\d.,])(?<![\d.,] )({_NUM}) by ({_NUM})\b(?!\s*(?:px|pixels?)\b)"), r"\1,\2"),
               (re.compile(rf"\brow ({_NUM}),? (?:and )?col(?:umn)? ({_NUM})\b"), r"\2,\1"),
               (re.compile(rf"\bcol(?:umn)? ({_NUM}),? (?:and )?row ({_NUM})\b"), r"\1,\2"),
               # "x 100 y 100", "x at 75 and y at 90", "x=40, y=50", "y 50 x 40"
               (re.compile(rf"\bx\s*{_AXIS_LINK}({_NUM})\s*,?\s*(?:and\s+)?y\s*{_AXIS_LINK}({_NUM})\b"), r"\1,\2"),
               (re.compile(rf"\by\s*{_AXIS_LINK}({_NUM})\s*,?\s*(?:and\s+)?x\s*{_AXIS_LINK}({_NUM})\b"), r"\2,\1"),
               # "two drags: ...": a count of what follows, not a coordinate
               (re.compile(rf"(?<![\d.,])(?<![\d.,] )\d+ (?:drags?|moves?|points?|pairs?)\s*(?=[:,\u2013\u2014-])"), "")]
# "move 30,40 by (0,-6)": a point and an offset, i.e. a drag to the point plus the offset.
_OFFSET = re.compile(rf"({_NUM})\s*,\s*({_NUM})\s*\)?\s+by\s+[(\[]\s*({_NUM})\s*,\s*({_NUM})\s*[)\]]")
# "place the handle at ... and the target at ... without dragging": the points are set, not run.
_NO_DRAG = re.compile(r"\b(?:without (?:dragging|moving|running)(?: (?:it|them))?|hold off (?:on )?(?:dragging|the drag)"
                      r"|(?:but )?do not (?:drag|move|run)(?: (?:it|them))?(?: yet)?|no drag(?:ging)?(?: yet)?)\b")
_LEADING_POINT = re.compile(rf"^(?:(?:drag|move|pull|push|shift|nudge|slide|take|bring)\s+(?:from\s+)?)?\(?\s*{_NUM}")
EXAMPLE = "drag 120,88 to 120,70"


@dataclass
class Item:
    kind: str  # point | number | arrow | handle | target | dir | sep
    value: object = None


@dataclass
class Reading:
    handles: list[Point] = field(default_factory=list)
    targets: list[Point] = field(default_factory=list)
    error: str | None = None


def _offset_target(m: re.Match) -> str:
    x, y, dx, dy = (float(g) for g in m.groups())
    return f"{x:g},{y:g} to {x + dx:g},{y + dy:g}"


def pair_forms(text: str) -> str:
    """Other ways of writing one point ("(14;22)", "70 by 85") as "x,y"; offsets as arrows."""
    text = _OFFSET.sub(_offset_target, text)
    for pattern, replacement in _PAIR_FORMS:
        text = pattern.sub(replacement, text)
    return text


def items(text: str) -> list[Item]:
    """Points (two numbers with nothing but punctuation between them), then the other signals."""
    out: list[Item] = []
    for m in _ITEM.finditer(pair_forms(text)):
        if m.group("num"):
            value = float(m.group("num"))
            if out and out[-1].kind == "number" and not out[-1].value[1]:
                out[-1] = Item("point", (out[-1].value[0], value))
            else:
                out.append(Item("number", (value, False)))
        elif m.group("arrow"):
            out.append(Item("arrow"))
        elif m.group("label"):
            out.append(Item("target" if m.group("label") in _TARGET_LABELS else "handle"))
        elif m.group("dir"):
            out.append(Item("dir", _DIRECTIONS[m.group("dir")]))
        elif m.group("sep"):
            out.append(Item("sep"))
    return [Item("number", i.value[0]) if i.kind == "number" else i for i in out]


def looks_like_coordinates(text: str) -> bool:
    """A point next to an arrow or a target label, a drag verb followed by a point, or a point
    with a direction and a distance: then the text is read (or refused) as coordinates."""
    seq = items(text)
    kinds = {i.kind for i in seq}
    if "point" not in kinds:
        return False
    leading_point = bool(_LEADING_POINT.match(text))
    moved = "dir" in kinds and "number" in kinds
    return bool("arrow" in kinds or "target" in kinds or leading_point or moved)


def _split_groups(points_and_arrows: list[Item]) -> Reading:
    """handles -> targets [-> more targets, whose second half are the next handles]."""
    groups: list[list[Point]] = [[]]
    for i in points_and_arrows:
        if i.kind == "arrow":
            groups.append([])
        elif i.kind == "point":
            groups[-1].append(i.value)
    if any(not g for g in groups):
        return Reading(error=f"a point is missing on one side of 'to': say e.g. '{EXAMPLE}'")
    handles, targets = list(groups[0]), []
    for k, group in enumerate(groups[1:], start=1):
        if k < len(groups) - 1:
            if len(group) % 2:
                return Reading(error=f"point list {k + 1} cannot be split into targets and the next handles")
            targets += group[:len(group) // 2]
            handles += group[len(group) // 2:]
        else:
            targets += group
    return Reading(handles, targets)


def _labelled(seq: list[Item]) -> Reading:
    reading, current = Reading(), None
    for i in seq:
        if i.kind in ("handle", "target"):
            current = i.kind
        elif i.kind == "point":
            (reading.targets if current == "target" else reading.handles).append(i.value)
    return reading


def _moves(seq: list[Item]) -> Reading:
    """'the point at 40,30 down by 8': each point with a direction and a distance in its stretch."""
    reading = Reading()
    stretches: list[list[Item]] = [[]]
    for i in seq:
        if i.kind == "point" and any(j.kind == "point" for j in stretches[-1]):
            stretches.append([])
        stretches[-1].append(i)
    for stretch in stretches:
        point = next((i.value for i in stretch if i.kind == "point"), None)
        dirs = [i.value for i in stretch if i.kind == "dir"]
        distances = [i.value for i in stretch if i.kind == "number"]
        if point is None:
            continue
        if not dirs or not distances:
            return Reading(error=f"how far, and which way, should ({point[0]:g}, {point[1]:g}) move? "
                                 "say e.g. 'move 40,30 down by 8 pixels'")
        dx = sum(d[0] for d in dirs) * distances[0]
        dy = sum(d[1] for d in dirs) * distances[0]
        reading.handles.append(point)
        reading.targets.append((point[0] + dx, point[1] + dy))
    return reading


def read_coordinates(text: str) -> Command:
    seq = [i for i in items(text) if i.kind != "sep"]
    kinds = {i.kind for i in seq}
    if "arrow" in kinds:
        reading = _split_groups([i for i in seq if i.kind in ("point", "arrow")])
    elif kinds & {"handle", "target"} and "target" in kinds:
        reading = _labelled(seq)
    elif "dir" in kinds:
        reading = _moves(seq)
    else:
        points = [i.value for i in seq if i.kind == "point"]
        reading = Reading(points[0::2], points[1::2])
    if reading.error:
        return unknown(reading.error, [EXAMPLE])
    if any(i.kind == "number" for i in seq) and "dir" not in kinds:
        return unknown(f"a coordinate is missing: each point needs two numbers (x, y), e.g. '{EXAMPLE}'", [EXAMPLE])
    if not reading.handles or len(reading.handles) != len(reading.targets):
        return unknown(f"{len(reading.handles)} handle point(s) but {len(reading.targets)} target point(s): "
                       "give one target per handle", [EXAMPLE])
    if _NO_DRAG.search(text):
        return Command("points", handles=reading.handles, targets=reading.targets,
                       message=f"{len(reading.handles)} handle and {len(reading.targets)} target point(s) set; "
                               "not dragged yet")
    return Command("drag", handles=reading.handles, targets=reading.targets,
                   message=f"drag {len(reading.handles)} point(s)")
