"""The command line: recall with up/down, completion of known commands with right arrow."""

from __future__ import annotations

from textual.binding import Binding
from textual.suggester import SuggestFromList
from textual.widgets import Input

# What the parser understands at the start of a line; completion offers these.
KNOWN_COMMANDS = [
    "drag ", "move ", "undo", "redo", "reset", "cancel", "save ", "help", "quit", "history",
    "steps ", "open the mouth", "close the mouth", "smile", "raise the eyebrows",
    "turn the head left", "turn the head right", "make the nose longer", "close the eyes",
]


class CommandInput(Input):
    """An Input that keeps what was entered; up/down walk back and forth through it."""

    BINDINGS = [
        Binding("up", "older", "previous command", show=False),
        Binding("down", "newer", "next command", show=False),
    ]

    def __init__(self, *, id: str | None = None, placeholder: str = "") -> None:
        super().__init__(id=id, placeholder=placeholder,
                         suggester=SuggestFromList(KNOWN_COMMANDS, case_sensitive=False))
        self.history: list[str] = []
        self._cursor = 0
        self._draft = ""

    def remember(self, text: str) -> None:
        text = text.strip()
        if text and (not self.history or self.history[-1] != text):
            self.history.append(text)
        self._cursor = len(self.history)
        self._draft = ""

    def action_older(self) -> None:
        if not self.history or self._cursor == 0:
            return
        if self._cursor == len(self.history):
            self._draft = self.value
        self._cursor -= 1
        self._show(self.history[self._cursor])

    def action_newer(self) -> None:
        if self._cursor >= len(self.history):
            return
        self._cursor += 1
        self._show(self.history[self._cursor] if self._cursor < len(self.history) else self._draft)

    def _show(self, text: str) -> None:
        self.value = text
        self.cursor_position = len(text)
