"""The status line: what the app is doing, and a drag's progress while one runs."""

from __future__ import annotations

import time

from textual.widgets import Static


def format_progress(step: int, max_steps: int, distance: float | None, steps_per_s: float | None) -> str:
    """'step 12/200 · 3.4 px to target · 2.1 steps/s' (parts without a value are left out)."""
    filled = int(round(10 * min(step / max_steps, 1.0))) if max_steps > 0 else 0
    parts = [f"[{'#' * filled}{'.' * (10 - filled)}] step {step}/{max_steps}"]
    if distance is not None:
        parts.append(f"{distance:.1f} px to target")
    if steps_per_s is not None and steps_per_s > 0:
        parts.append(f"{steps_per_s:.2f} steps/s")
    return " · ".join(parts)


NOTE_SECONDS = 4.0


class StatusLine(Static):
    """One line: idle messages, errors, or the running drag's progress (Esc cancels).

    A message said while a drag runs stays beside the progress for a few seconds instead of
    being overwritten by the next step.
    """

    def __init__(self, message: str = "", *, id: str | None = None) -> None:
        super().__init__(message, id=id)
        self._note = ""
        self._note_until = 0.0

    def say(self, message: str, *, error: bool = False) -> None:
        self.set_class(error, "error")
        if self.has_class("busy"):
            self._note, self._note_until = message, time.monotonic() + NOTE_SECONDS
            self.update(message)
            return
        self.update(message)

    def progress(self, step: int, max_steps: int, distance: float | None, steps_per_s: float | None) -> None:
        self.set_class(True, "busy")
        line = format_progress(step, max_steps, distance, steps_per_s) + " · Esc cancels"
        if time.monotonic() < self._note_until:
            line = f"{self._note} | {line}"
        else:
            self.set_class(False, "error")
        self.update(line)

    def done(self, message: str, *, error: bool = False) -> None:
        """The drag (or other work) finished: back to plain messages."""
        self.set_class(False, "busy")
        self._note_until = 0.0
        self.say(message, error=error)
