"""The editing state the app and the headless commands share: one picture and what was done to it.

`Editor` owns the generator, the drag session (history, undo/redo), the points placed by clicks,
the drag settings, and the session folder it autosaves to. It knows nothing about Textual; the
app calls it from workers and the CLI calls it directly, so both behave the same.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from assistant.drag_geometry import hold_points, lengthen_to
from assistant.edit_script import EditScript, ScriptEdit, ScriptError, file_sha256, script_beside
from assistant.session_store import SessionStore, png_bytes
from stylegan2 import Generator, default_model_path, load_generator
from stylegan2.imaging import to_uint8

Point = tuple[float, float]
DEFAULT_PSI = 0.7


@dataclass
class Outcome:
    """What a command did, for the status line or stderr."""

    kind: str
    message: str
    error: bool = False
    changed: bool = False
    result: Any = None


@dataclass
class PendingPoints:
    """Points placed by clicks or `points` commands: handle, target, handle, target, ..."""

    handles: list[Point] = field(default_factory=list)
    targets: list[Point] = field(default_factory=list)

    def add(self, point: Point) -> str:
        """Alternate: a handle when every handle has its target, else the open handle's target."""
        if len(self.handles) == len(self.targets):
            self.handles.append(point)
            return "handle"
        self.targets.append(point)
        return "target"

    def clear(self) -> None:
        self.handles.clear()
        self.targets.clear()

    @property
    def complete(self) -> bool:
        return bool(self.handles) and len(self.handles) == len(self.targets)


def config_overrides(settings: dict[str, Any]) -> dict[str, Any]:
    """The parser's settings words -> `DragConfig` fields (`steps` -> max_steps, `space` -> w_plus,
    `mask_weight` -> lambda_mask)."""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if key == "steps":
            out["max_steps"] = int(value)
        elif key == "space":
            out["w_plus"] = value == "w+"
        elif key == "lr":
            out["lr"] = float(value)
        elif key == "mask_weight":
            out["lambda_mask"] = float(value)
    return out


class Editor:
    """A picture from (model, seed), its drag session and where it autosaves."""

    # What edit scripts record as the picture's origin; only "seed" scripts can be replayed.
    script_source = "seed"
    # Who reads the messages: "cli" (headless commands) or "app" (which can be clicked); the app
    # sets it before the first command.
    interface = "cli"

    def __init__(self, G: Generator, seed: int, *, psi: float = DEFAULT_PSI, model: str | None = None,
                 config=None, store: SessionStore | None = None, session=None, keep_session: bool = False) -> None:
        from draggan_core import DragConfig, DragSession

        self.G = G
        self.seed = seed
        self.psi = psi
        self.model = model
        self._model_sha256: str | None = None
        self.config = config if config is not None else DragConfig()
        self.session = session if session is not None else DragSession(G, G.ws_from_seed(seed, psi), self.config)
        self.store = store
        self.keep_session = keep_session or store is not None
        self.pending = PendingPoints()
        self.mask_region: dict | None = None
        self.lock = threading.Lock()
        self.parser = None  # made on the first parse; a caller may hand in one whose models are loaded
        self._renders: dict[int, tuple[torch.Tensor, np.ndarray]] = {}

    @classmethod
    def open(cls, model: str | None = None, seed: int | None = None, psi: float = DEFAULT_PSI,
             keep_session: bool = True) -> "Editor":
        """Load the model (None: the embedded one) and start from `seed` (None: a random seed)."""
        G = load_generator(model)
        if seed is None:
            seed = int(np.random.default_rng().integers(0, 2**31 - 1))
        return cls(G, seed, psi=psi, model=None if model is None else str(Path(model).expanduser().resolve()),
                   keep_session=keep_session)

    @classmethod
    def resume(cls, store: SessionStore, model: str | None = None) -> "Editor":
        """Reopen a saved session with its full history (`model` overrides the recorded path)."""
        from draggan_core import DragSession

        script = store.script()
        path = model if model is not None else script.model
        G = load_generator(path)
        session = DragSession.load(store.snapshot(), G)
        editor = cls(G, script.seed, psi=script.psi, model=None if path is None else str(path),
                     config=session.config, store=store, session=session)
        editor.mask_region = store.editor_state().get("mask_region")
        return editor

    # -- state -------------------------------------------------------------------------------------

    @property
    def resolution(self) -> tuple[int, int]:
        """(width, height) of the picture."""
        return self.G.img_resolution, self.G.img_resolution

    def image(self) -> np.ndarray:
        """The current picture, H x W x 3 uint8."""
        return to_uint8(self.session.image())[0]

    def edits(self) -> list:
        """The edits that make the current picture (undone ones excluded)."""
        return list(self.session.history.applied)

    def all_edits(self) -> list:
        """Every edit in the history, the undone ones (which redo brings back) included."""
        return list(self.session.history.edits)

    def position(self) -> int:
        """How many edits are applied: 0 is the start picture."""
        return self.session.history.position

    def history_images(self) -> list[np.ndarray]:
        """The start picture and each edit's result, rendered once per latent and cached."""
        latents = [self.session.history.ws0] + [e.ws for e in self.session.history.edits]
        current = self.session.history.current_ws()
        images = []
        for ws in latents:
            key = id(ws)
            if key not in self._renders or self._renders[key][0] is not ws:
                picture = self.session.image() if ws is current else self.session.render(ws)
                self._renders[key] = (ws, to_uint8(picture)[0])
            images.append(self._renders[key][1])
        alive = {id(ws) for ws in latents}
        self._renders = {k: v for k, v in self._renders.items() if k in alive}
        return images

    @property
    def model_sha256(self) -> str | None:
        """The checkpoint's digest, computed once on first use (scripts check it on replay)."""
        if self._model_sha256 is None:
            path = Path(self.model) if self.model is not None else default_model_path()
            self._model_sha256 = file_sha256(path) if path.is_file() else None
        return self._model_sha256

    def script(self) -> EditScript:
        edits = [ScriptEdit(command=e.label, handles=list(e.handles), targets=list(e.targets), steps=int(e.steps),
                            mask=e.mask, settings=dict(e.settings), status=str(e.status),
                            final_points=list(e.final_points))
                 for e in self.edits()]
        return EditScript(source=self.script_source, seed=self.seed, psi=self.psi, model=self.model,
                          model_sha256=self.model_sha256,
                          edits=edits)

    def autosave(self) -> Path | None:
        """Snapshot the session (history + latents + PNG); the folder is made on the first save."""
        if not self.keep_session:
            return None
        if self.store is None:
            self.store = SessionStore.create(self.script())
        return self.store.save(self.session.save, self.image(), self.script(),
                               editor_state={"mask_region": self.mask_region})

    # -- commands ----------------------------------------------------------------------------------

    def _parser(self):
        if self.parser is None:
            from parsers.parser import CommandParser

            self.parser = CommandParser(interface=self.interface)
        return self.parser

    def parse(self, text: str):
        """Text -> `parsers.Command`, with the current picture for named parts."""
        return self._parser().parse(text, image=self.parse_image())

    def understands(self, text: str) -> bool:
        """Whether the parser can read `text` as something to do: speech decoding asks this of a
        transcript and of the grammar's sentences it might replace it with (parsers.speech)."""
        return self._parser().understands(text)

    def adds_to(self, candidate: str, heard: str) -> bool:
        """Whether a grammar sentence may replace a readable transcript (parsers.speech)."""
        return self._parser().adds_to(candidate, heard)

    def parse_image(self) -> np.ndarray:
        """The picture named parts are found on: the current one."""
        return self.image()

    def apply(self, command, *, progress: Callable | None = None, cancel: threading.Event | None = None,
              text: str = "", preview_every: float | None = None) -> Outcome:
        """Carry out a parsed command that changes or saves state (help/quit/cancel are the caller's)."""
        kind = command.command
        if kind == "unknown":
            return Outcome(kind, command.message or "not understood; type 'help'", error=True)
        if kind == "drag":
            if not command.handles:
                return Outcome(kind, command.message or "no points to drag", error=True)
            h, w = self.image().shape[:2]
            mask = command.mask_array(h, w) if command.mask is not None else self.mask_array()
            targets, note = command.targets, ""
            if command.part:  # a named part's motion is relative to the face; coordinates are the user's own
                shortest = self.config.shortest_drag(h)
                targets, factor = lengthen_to(command.handles, command.targets, shortest, (w, h))
                if factor > 1:
                    note = (f" (the motion of the {command.part} was lengthened {factor:.1f}x to "
                            f"{shortest:g} px, the shortest drag a {h}-px picture shows)")
                if mask is not None:
                    mask = hold_points(mask, [*command.handles, *targets], self.config.radii(h).motion + 1)
            outcome = self.drag(command.handles, targets, mask=mask, label=text or command.message,
                                progress=progress, cancel=cancel, preview_every=preview_every)
            return replace(outcome, message=outcome.message + note) if note else outcome
        if kind == "points":
            if command.settings.get("clear"):
                self.pending.clear()
                return Outcome(kind, "points cleared")
            for h in command.handles:
                self.pending.handles.append(tuple(h))
            for t in command.targets:
                self.pending.targets.append(tuple(t))
            then = ("Ctrl+G drags them" if self.interface == "app"
                    else "placed points are dragged in the app; here write 'drag X,Y to X,Y'")
            return Outcome(kind, f"{len(self.pending.handles)} handle(s), {len(self.pending.targets)} target(s); "
                                 f"{then}")
        if kind in ("undo", "redo", "reset"):
            with self.lock:
                before = self.position()
                changed = bool(getattr(self.session, kind)())
            if not changed:
                return Outcome(kind, f"nothing to {kind}")
            self.autosave()
            edits = self.all_edits()
            if kind == "undo":
                message = f"undid {edits[before - 1].label!r}"
            elif kind == "redo":
                message = f"redid {edits[self.position() - 1].label!r}"
            else:
                message = "back to the start picture (redo brings the edits back)"
            return Outcome(kind, message, changed=True)
        if kind == "settings":
            if "mask" in command.settings:
                return self.change_mask(command)
            return self.change_settings(command.settings, command.message)
        if kind == "save":
            try:
                png, script = self.export(command.path)
            except (OSError, ValueError) as exc:  # a folder, no permission, no file name ('save .')
                return Outcome(kind, f"cannot save to {command.path or 'the default file'}: {exc}", error=True)
            return Outcome(kind, f"saved {png} and {script}")
        return Outcome(kind, command.message)

    def change_mask(self, command) -> Outcome:
        """`mask the mouth` keeps the region for the next drags that name no mask; `no mask` drops it."""
        if command.settings.get("mask") is None:
            self.mask_region = None
            self.autosave()
            return Outcome("settings", command.message or "no mask")
        if command.mask is None:
            return Outcome("settings", command.message or "could not find that part to mask", error=True)
        self.mask_region = command.mask
        self.autosave()
        return Outcome("settings", command.message)

    def mask_array(self) -> np.ndarray | None:
        """The kept mask (from `mask the ...`) as H x W booleans, or None."""
        if self.mask_region is None:
            return None
        from parsers.command import Command

        w, h = self.resolution
        return Command("settings", mask=self.mask_region).mask_array(h, w)

    def change_settings(self, settings: dict[str, Any], message: str = "") -> Outcome:
        """Drag settings (`steps 80`) for the next drags; saved with the session so `--resume` keeps them."""
        overrides = config_overrides(settings)
        if not overrides:
            return Outcome("settings", f"setting not supported here: {', '.join(settings) or 'none'}", error=True)
        with self.lock:
            self.config = self.config.with_overrides(**overrides)
            self.session.config = self.config
        self.autosave()
        return Outcome("settings", message or ", ".join(f"{k} {v}" for k, v in overrides.items()))

    def drag_pending(self, *, progress: Callable | None = None, cancel: threading.Event | None = None,
                     preview_every: float | None = None) -> Outcome:
        if not self.pending.complete:
            return Outcome("drag", "click a handle and then its target first (every handle needs a target)",
                           error=True)
        handles, targets = list(self.pending.handles), list(self.pending.targets)
        label = "drag " + " and ".join(f"{h[0]:g},{h[1]:g} to {t[0]:g},{t[1]:g}" for h, t in zip(handles, targets))
        outcome = self.drag(handles, targets, mask=self.mask_array(), label=label, progress=progress, cancel=cancel,
                            preview_every=preview_every)
        if not outcome.error:
            self.pending.clear()
        return outcome

    def drag(self, handles, targets, *, mask: np.ndarray | None = None, label: str = "",
             progress: Callable | None = None, cancel: threading.Event | None = None,
             preview_every: float | None = None, max_steps: int | None = None, config=None) -> Outcome:
        """Run one drag to its end (converged, budget, stalled, cancelled) and autosave the new state.

        Bad points or masks, a drag that diverged and a drag that changed no pixel of the picture
        come back as an error outcome with nothing changed (the history as it was before).
        """
        from draggan_core import DragInputError

        try:
            with self.lock:
                mark, before = self.session.history.mark(), self.image()
                self.session.start_drag(list(handles), list(targets), mask=mask, label=label,
                                        config=config if config is not None else self.config)
                kwargs = {} if preview_every is None else {"preview_every": preview_every}
                result = self.session.run(max_steps=max_steps, progress=progress, cancel=cancel, **kwargs)
                failure = drag_failure(result, changed=not np.array_equal(self.image(), before))
                if failure is not None:
                    self.session.history.restore(mark)
        except DragInputError as exc:
            return Outcome("drag", str(exc), error=True)
        if failure is not None:
            return Outcome("drag", failure, error=True, result=result)
        self.autosave()
        return Outcome("drag", result.message, changed=True, result=result)

    def goto(self, index: int) -> Outcome:
        """Show history state `index` (0 = start) by undoing or redoing up to it."""
        total = len(self.session.history.edits)
        if not 0 <= index <= total:
            return Outcome("goto", f"no state {index}: the history has states 0..{total}", error=True)
        with self.lock:
            while self.position() > index:
                self.session.undo()
            while self.position() < index:
                self.session.redo()
        self.autosave()
        return Outcome("goto", "the start picture" if index == 0 else f"state after edit {index}", changed=True)

    def save_png(self, path: str | Path) -> Path:
        path = Path(path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png_bytes(self.image()))
        return path

    def export(self, path: str | None = None) -> tuple[Path, Path]:
        """`save [PATH]`: the PNG and, beside it, the replayable edit script (PATH.json)."""
        base = Path(path).expanduser() if path else Path(f"draggan-seed{self.seed}-{time.strftime('%Y%m%d-%H%M%S')}.png")
        png = self.save_png(base if base.suffix.lower() == ".png" else base.with_suffix(".png"))
        return png, self.script().save(script_beside(png))


def drag_failure(result, changed: bool) -> str | None:
    """Why a finished drag must not count as an edit, or None when it does: it diverged, or it
    ran and changed no pixel of the picture (a cancelled drag keeps what it reached, even nothing)."""
    if result.status == "nonfinite":
        return (f"the optimisation diverged (non-finite loss) after {result.steps} steps; nothing was kept; "
                "try a smaller step size (lr)")
    if not changed and result.status != "cancelled":
        far = max(result.distances) if result.distances else 0.0
        return (f"the drag ran {result.steps} step(s) and changed no pixel of the picture (the farthest handle is "
                f"{far:.1f} px from its target); nothing was kept; try a longer move or more steps")
    return None


def replay(script: EditScript, G: Generator, on_edit: Callable[[int, ScriptEdit], Callable | None] | None = None,
           ) -> "Editor":
    """Re-run every edit of a script on a fresh session: same seed, points, masks, settings and
    number of steps, so the same model gives the same picture.

    `on_edit(i, edit)` is told before each edit and may return a progress callback for it.
    """
    from draggan_core import DragConfig

    script.require_replayable()
    editor = Editor(G, script.seed, psi=script.psi, model=script.model)
    for i, edit in enumerate(script.edits, start=1):
        try:  # the recorded step count decides where an edit ends, so no stall test on replay
            config = DragConfig.from_dict(edit.settings) if edit.settings else editor.config
            config = config.with_overrides(stall_patience=None)
        except (TypeError, ValueError) as exc:
            raise ScriptError(f"edit {i} ({edit.command!r}): bad settings ({exc})") from None
        stop_at_once = threading.Event()
        if edit.steps == 0:  # cancelled before its first step: keep it in the history, change nothing
            stop_at_once.set()
        progress = on_edit(i, edit) if on_edit is not None else None
        outcome = editor.drag(edit.handles, edit.targets, mask=edit.mask, label=edit.command, progress=progress,
                              cancel=stop_at_once, max_steps=max(edit.steps, 1), config=config)
        if outcome.error:
            raise ScriptError(f"edit {i} ({edit.command!r}): {outcome.message}")
    return editor
