"""The `Command` every parser path produces: the one object `assistant/` consumes.

Parse problems are never exceptions: they are `Command(command="unknown", message=...)`, so a
typed line, a transcript or a batch file can always be answered with one JSON object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

COMMANDS = ("drag", "points", "undo", "redo", "reset", "cancel", "save", "help", "quit", "history",
            "settings", "unknown")

Point = tuple[float, float]


@dataclass
class Command:
    """What the user asked for, in the layer-independent terms of docs/architecture.md.

    `side` is always the subject's own side ("left" = the subject's left, which a frontal face
    shows on the image's right); `amount` is a multiplier on the atlas's default displacement
    (0.5 slightly, 1 default, 2 a lot). `mask` is None (everything may change) or
    {"polygon": [[x, y], ...], "bbox": [x0, y0, x1, y1]} in pixels.
    """

    command: str
    action: str | None = None
    part: str | None = None
    side: str | None = None
    amount: float | None = None
    handles: list[Point] = field(default_factory=list)
    targets: list[Point] = field(default_factory=list)
    mask: dict[str, Any] | None = None
    message: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    path: str | None = None
    suggestions: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.command not in COMMANDS:
            raise ValueError(f"unknown command kind {self.command!r}")

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON object: plain lists and numbers, points as [x, y] rounded to 0.01 px."""
        return {
            "command": self.command,
            "action": self.action,
            "part": self.part,
            "side": self.side,
            "amount": self.amount,
            "handles": [[round(float(x), 2), round(float(y), 2)] for x, y in self.handles],
            "targets": [[round(float(x), 2), round(float(y), 2)] for x, y in self.targets],
            "mask": self.mask,
            "message": self.message,
            "settings": self.settings,
            "path": self.path,
            "suggestions": self.suggestions,
        }

    def mask_array(self, height: int, width: int) -> np.ndarray | None:
        """Boolean H x W mask (True = may change) rasterised from the polygon, or None."""
        if self.mask is None:
            return None
        canvas = Image.new("1", (width, height), 0)
        polygon = [(float(x), float(y)) for x, y in self.mask["polygon"]]
        ImageDraw.Draw(canvas).polygon(polygon, fill=1, outline=1)
        return np.array(canvas, dtype=bool)


def unknown(message: str, suggestions: list[str] | None = None) -> Command:
    return Command("unknown", message=message, suggestions=list(suggestions or []))
