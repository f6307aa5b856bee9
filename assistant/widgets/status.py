"""The status line: what the app is doing, and a drag's progress while one runs."""

from __future__ import annotations

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


class StatusLine(Static):
    """One line: idle messages, errors, or the running drag's progress (Esc cancels)."""

    def say(self, message: str, *, error: bool = False) -> None:
        self.set_class(error, "error")
        self.set_class(False, "busy")
        self.update(message)

    def progress(self, step: int, max_steps: int, distance: float | None, steps_per_s: float | None) -> None:
        self.set_class(False, "error")
        self.set_class(True, "busy")
        self.update(format_progress(step, max_steps, distance, steps_per_s) + " · Esc cancels")
