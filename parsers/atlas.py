"""The part atlas (`atlas.json`): which landmarks make a part and how each action moves them.

Kept as data so a part or an action can be tuned or added without touching the grounding code;
`atlas.json`'s "about" field documents the units and frames.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

ATLAS_PATH = Path(__file__).with_name("atlas.json")


@dataclass(frozen=True)
class Motion:
    """One group of landmarks moved alike: a displacement (`move`), a gap fraction or a scaling."""

    points: tuple[int, ...]
    move: tuple[float, float] = (0.0, 0.0)
    frame: str = "face"
    side: str | None = None
    gap: tuple[int, int] | None = None
    size: float = 1.0
    grow: float | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Motion:
        return cls(points=tuple(d["points"]), move=tuple(d.get("move", (0.0, 0.0))), frame=d.get("frame", "face"),
                   side=d.get("side"), gap=tuple(d["gap"]) if "gap" in d else None, size=float(d.get("size", 1.0)),
                   grow=d.get("grow"))


@dataclass(frozen=True)
class Span:
    """One distance a measure averages: centroid of `start` to centroid of `end` along a face axis."""

    start: tuple[int, ...]
    end: tuple[int, ...]
    side: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Span:
        return cls(start=tuple(d["from"]), end=tuple(d["to"]), side=d.get("side"))


@dataclass(frozen=True)
class Measure:
    """A named face measure (mouth opening, eye opening, ...) that a photo edit is checked against:
    the mean of its spans along the face frame's `axis` ("x" or "y"), in inter-ocular units, and
    the least change that counts as having moved."""

    name: str
    spans: tuple[Span, ...]
    axis: str
    min_change: float


@dataclass(frozen=True)
class Effect:
    """What an action on a part should do to a measure: `direction` is +1 (grow) or -1 (shrink)."""

    measure: str
    direction: int


DIRECTIONS = {"increase": 1, "decrease": -1}


@dataclass(frozen=True)
class Part:
    name: str
    region: tuple[int, ...]
    motions: dict[str, tuple[Motion, ...]]
    sides: dict[str, tuple[int, ...]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    offset: tuple[float, float] = (0.0, 0.0)
    region_extend: tuple[float, float] = (0.0, 0.0)
    masked: bool = True
    effects: dict[str, Effect] = field(default_factory=dict)

    def effect(self, action: str) -> Effect | None:
        """The measure `action` should change, looked up under its own name first, then under the
        action it is an alias of (widening the eyes is opening them)."""
        if action in self.effects:
            return self.effects[action]
        resolved = self.resolve(action)
        return self.effects.get(resolved) if resolved is not None else None

    def resolve(self, action: str) -> str | None:
        """The action whose motions this part uses for `action` (widening an eye is opening it)."""
        action = self.aliases.get(action, action)
        return action if action in self.motions else None

    @property
    def actions(self) -> list[str]:
        return sorted(set(self.motions) | {a for a, b in self.aliases.items() if b in self.motions})


@dataclass(frozen=True)
class Atlas:
    parts: dict[str, Part]
    right_eye: tuple[int, ...]
    left_eye: tuple[int, ...]
    mask_margin: float
    measures: dict[str, Measure] = field(default_factory=dict)


@lru_cache(maxsize=4)
def load_atlas(path: Path = ATLAS_PATH) -> Atlas:
    data = json.loads(Path(path).read_text())
    parts = {}
    for name, p in data["parts"].items():
        parts[name] = Part(
            name=name, region=tuple(p["region"]),
            motions={a: tuple(Motion.from_dict(m) for m in ms) for a, ms in p["motions"].items()},
            sides={s: tuple(v) for s, v in p.get("sides", {}).items()}, aliases=dict(p.get("aliases", {})),
            offset=tuple(p.get("offset", (0.0, 0.0))), region_extend=tuple(p.get("region_extend", (0.0, 0.0))),
            masked=bool(p.get("mask", True)),
            effects={a: Effect(e["measure"], DIRECTIONS[e["direction"]]) for a, e in p.get("measures", {}).items()})
    measures = {name: Measure(name, tuple(Span.from_dict(s) for s in m["spans"]), m["axis"], float(m["min_change"]))
                for name, m in data.get("measures", {}).items()}
    return Atlas(parts=parts, right_eye=tuple(data["face_size"]["right_eye"]),
                 left_eye=tuple(data["face_size"]["left_eye"]), mask_margin=float(data["mask_margin"]),
                 measures=measures)
