"""The history panel: the start state and every edit, each with a small picture of its result."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Label, ListItem, ListView

from assistant.halfblock import cell_rows, compose, fit_image
from assistant.widgets.preview import cell_strips

THUMB_CELLS = (8, 4)


@dataclass
class HistoryEntry:
    """What the panel shows for one state; index 0 is the unedited start."""

    index: int
    label: str
    thumbnail: np.ndarray
    handles: list[tuple[float, float]] = field(default_factory=list)
    targets: list[tuple[float, float]] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    status: str = ""

    def describe(self) -> str:
        if self.index == 0:
            return "start"
        pts = ", ".join(f"({h[0]:.0f},{h[1]:.0f})->({t[0]:.0f},{t[1]:.0f})"
                        for h, t in zip(self.handles, self.targets))
        status = "" if self.status in ("", "converged") else f" [{self.status}]"
        return f"{self.index}. {self.label}{status}\n   {pts}\n   {self.steps} steps, {self.seconds:.1f} s"


class Thumbnail(Widget):
    """A fixed-size half-block picture."""

    DEFAULT_CSS = f"Thumbnail {{ width: {THUMB_CELLS[0]}; height: {THUMB_CELLS[1]}; }}"

    def __init__(self, image: np.ndarray) -> None:
        super().__init__()
        w, h = THUMB_CELLS
        fit = fit_image(image.shape[1], image.shape[0], w, h)
        self._strips = cell_strips(*cell_rows(compose(image, fit), fit, w, h))

    def render_line(self, y: int) -> Strip:
        return self._strips[y] if 0 <= y < len(self._strips) else Strip.blank(THUMB_CELLS[0])


class HistoryItem(ListItem):
    """One state; the one on screen is highlighted, undone ones (redo brings them back) are dimmed."""

    def __init__(self, entry: HistoryEntry, current: int) -> None:
        state = "current" if entry.index == current else "undone" if entry.index > current else ""
        super().__init__(classes=state)
        self.entry = entry

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Thumbnail(self.entry.thumbnail)
            yield Label(self.entry.describe(), classes="history-text")


class HistoryPanel(ListView):
    """Selecting an entry asks the app to show that state (undo/redo through the history)."""

    class Chosen(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entries: list[HistoryEntry] = []
        self.current = 0

    async def set_entries(self, entries: list[HistoryEntry], current: int) -> None:
        """Replace the list; `current` is the index of the state on screen."""
        self.entries, self.current = list(entries), current
        await self.clear()
        await self.extend([HistoryItem(e, current) for e in entries])
        if entries:
            self.index = min(current, len(entries) - 1)

    def on_list_view_selected(self, event: ListView.Selected) -> None:
        event.stop()
        item = event.item
        if isinstance(item, HistoryItem) and item.entry.index != self.current:
            self.post_message(self.Chosen(item.entry.index))
