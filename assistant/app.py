"""The terminal app: preview with points, command line, history, progress, voice, autosave.

Everything slow (model load, parsing with models, drags, recording, transcription) runs in
thread workers; they talk back through messages (`post_message` is thread-safe) or
`call_from_thread`, so typing, clicking and the cancel key stay live during a drag.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Footer, Static

from assistant.editor import Editor, Outcome
from assistant.screens.help import HelpScreen
from assistant.session_store import SessionStore, native_log_path
from assistant.widgets.command_input import CommandInput
from assistant.widgets.history import HistoryEntry, HistoryPanel
from assistant.widgets.preview import GraphicsBackend, ImagePreview, detect_graphics
from assistant.widgets.status import StatusLine
from stylegan2.imaging import to_uint8

if TYPE_CHECKING:
    from assistant.edit_measure import EditMeasure

START_AGAIN = "Ctrl+Q quits; start again with other options (draggan-assistant --help lists them)"
PREVIEW_EVERY_S = 0.5  # a full synthesis each: more often costs the drag visibly
PROGRESS_EVERY_S = 0.1
LEVEL_FLOOR_DB = -60.0


@dataclass
class AppOptions:
    """What the command line chose: a model and seed, or a session to resume."""

    model: str | None = None
    seed: int | None = None
    psi: float = 0.7
    resume: bool = False
    session: str | None = None
    keep_session: bool = True
    graphics: GraphicsBackend | None = None
    image: str | None = None  # a photo to edit (its face is fitted first; see assistant.photo)
    face: int | None = None
    align: str = "auto"
    fit_steps: int | None = None  # inversion budget for the photo (None: the fitting method's default)
    full_fit: bool = False  # the full optimisation even when the model has an encoder


class DragProgress(Message):
    """A drag step, sent from the worker thread (at most every PROGRESS_EVERY_S, previews less often)."""

    def __init__(self, step: int, max_steps: int, distance: float | None, rate: float | None,
                 points: list, image: np.ndarray | None) -> None:
        super().__init__()
        self.step, self.max_steps, self.distance, self.rate = step, max_steps, distance, rate
        self.points, self.image = points, image


class VoiceLevel(Message):
    def __init__(self, db: float) -> None:
        super().__init__()
        self.db = db


def level_bar(db: float, width: int = 20) -> str:
    """A text meter for a level in dBFS: empty at LEVEL_FLOOR_DB, full at 0."""
    frac = min(max((db - LEVEL_FLOOR_DB) / -LEVEL_FLOOR_DB, 0.0), 1.0)
    n = int(round(frac * width))
    return "\u2588" * n + "\u2591" * (width - n)


class DragAssistantApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "draggan-assistant"

    BINDINGS = [
        Binding("f1", "help", "help", priority=True),
        Binding("ctrl+g", "drag_points", "drag points", priority=True),
        Binding("ctrl+l", "clear_points", "clear points", priority=True),
        Binding("escape", "cancel", "cancel drag"),
        Binding("ctrl+z", "undo", "undo", priority=True),
        Binding("ctrl+y", "redo", "redo", priority=True),
        Binding("ctrl+t", "talk", "talk", priority=True),
        Binding("ctrl+s", "save", "save", priority=True),
        Binding("ctrl+q", "quit", "quit", priority=True),
    ]

    def __init__(self, options: AppOptions | None = None, editor: Editor | None = None) -> None:
        super().__init__()
        self.options = options or AppOptions()
        self.editor: Editor | None = editor
        self.busy = False
        self.cancel_event = threading.Event()
        self.talk_stop: threading.Event | None = None
        self.ready = threading.Event()
        self.start_error: str | None = None  # why the editor could not be opened, for every later command
        self.fit_notice: str | None = None  # why the photo got the slow full fitting (no encoder), kept in view
        self.last_outcome: Outcome | None = None
        self.last_measure: EditMeasure | None = None  # how the last named photo edit moved its measure
        # Loading the model and drawing the first picture start now, overlapping Textual's own
        # start-up (a photo waits for the screen: its fitting reports progress there).
        self._opening: Future | None = None
        if editor is None and not self.options.image:
            self._opening = in_background(self._open_editor)

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield ImagePreview(id="preview", graphics=self.options.graphics)
            with Vertical(id="side"):
                yield HistoryPanel(id="history")
        yield Static("", id="voice")
        yield StatusLine("loading the model...", id="status")
        yield CommandInput(id="command", placeholder="say or type: open the mouth · drag 20,30 to 28,30 · "
                                                     "undo · help (F1)")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#preview").border_title = "picture"
        self.query_one("#side").border_title = "history"
        self.query_one(CommandInput).focus()
        if self.editor is not None:
            self.call_after_refresh(self._editor_ready)
        else:
            self.load_editor()

    # -- loading -----------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="load")
    def load_editor(self) -> None:
        opts = self.options
        try:
            if opts.image:
                from assistant.photo import FitOptions, open_photo_editor

                def fitting(step) -> None:
                    if step.step % 10 == 0 or step.step == step.total:
                        self.call_from_thread(self._status, f"fitting the photo's face: step {step.step}/{step.total}"
                                              + (f" ({self.fit_notice})" if self.fit_notice else ""))

                def notice(message: str) -> None:
                    self.fit_notice = message

                editor = open_photo_editor(opts.image, model=opts.model, face=opts.face, align=opts.align,
                                           fit=FitOptions(opts.fit_steps, opts.full_fit), progress=fitting,
                                           notice=notice)
            else:
                assert self._opening is not None
                editor = self._opening.result()
        except Exception as exc:  # shown to the user; the app stays open so the message can be read
            self.start_error = f"could not start: {exc}. {START_AGAIN}"
            self.call_from_thread(self._status, self.start_error, True)
            return
        editor.interface = "app"
        self.editor = editor
        editor.history_images()  # renders the thumbnails here, not on the UI thread
        self.call_from_thread(self._editor_ready)
        warm_up_optimizer()

    def _open_editor(self) -> Editor:
        opts = self.options
        if opts.resume:
            editor = Editor.resume(SessionStore.open(opts.session), model=opts.model)
        else:
            editor = Editor.open(opts.model, opts.seed, opts.psi, keep_session=opts.keep_session)
        editor.history_images()  # the first picture and the thumbnails, off the UI thread
        return editor

    async def _editor_ready(self) -> None:
        editor = self.editor
        assert editor is not None
        self.sub_title = f"seed {editor.seed}" + (f" · session {editor.store.id}" if editor.store else "")
        await self._refresh_state()
        w, h = editor.resolution
        self._status(f"ready: {w}x{h} picture, seed {editor.seed}. Type a command, click points, or F1 for help."
                     + (f" Note: {self.fit_notice}." if self.fit_notice else ""))
        self.ready.set()

    # -- helpers -----------------------------------------------------------------------------------

    def _status(self, message: str, error: bool = False) -> None:
        self.query_one(StatusLine).say(message, error=error)

    def _show_pending(self) -> None:
        assert self.editor is not None
        p = self.editor.pending
        self.query_one(ImagePreview).show(handles=p.handles, targets=p.targets, tracked=[])

    async def _refresh_state(self) -> None:
        """Preview and history from the editor's current state."""
        editor = self.editor
        assert editor is not None
        p = editor.pending
        self.query_one(ImagePreview).show(editor.image(), handles=p.handles, targets=p.targets, tracked=[],
                                          mask=editor.mask_array())
        entries, current = history_entries(editor)
        await self.query_one(HistoryPanel).set_entries(entries, current)

    def _not_ready(self) -> bool:
        """True (and the reason on the status line) while there is no editor: still loading, or
        the start failed, which every later command must keep saying instead of 'loading'."""
        if self.editor is not None:
            return False
        self._status(self.start_error or "still loading the model...", True)
        return True

    def _can_edit(self) -> bool:
        if self._not_ready():
            return False
        if self.busy:
            self._status("a drag is running: wait for it or press Esc to cancel", True)
            return False
        return True

    # -- commands ----------------------------------------------------------------------------------

    @on(CommandInput.Submitted, "#command")
    def command_submitted(self, event: CommandInput.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        box = self.query_one(CommandInput)
        box.remember(text)
        box.value = ""
        if self._not_ready():
            return
        audio = spoken_file(text)
        if audio is not None:
            self.hear_file(audio)
            return
        self.parse_command(text)

    @work(thread=True, group="parse")
    def parse_command(self, text: str) -> None:
        assert self.editor is not None
        try:
            command = self.editor.parse(text)
        except Exception as exc:  # e.g. a parser model that will not load: say so, keep the app
            self.call_from_thread(self._status, f"could not read {text!r}: {exc}", True)
            return
        self.call_from_thread(self.dispatch, command, text)

    def dispatch(self, command, text: str) -> None:
        """Commands about the app itself act at once; the rest go to the editor in a worker."""
        kind = command.command
        if kind == "help":
            self.action_help()
        elif kind == "quit":
            self.stop_work_and_exit()
        elif kind == "history":
            self.query_one(HistoryPanel).focus()
            self._status("history: Up/Down to choose, Enter to show that state, Tab back to the command line")
        elif kind == "cancel":
            self.action_cancel()
        elif kind == "unknown":
            self._status(command.message or "not understood; F1 for help", True)
        elif kind == "points":
            assert self.editor is not None
            outcome = self.editor.apply(command, text=text)
            self._show_pending()
            self._status(outcome.message, outcome.error)
        elif self._can_edit():
            if kind == "drag":
                assert self.editor is not None
                w, h = self.editor.resolution
                mask = command.mask_array(h, w) if command.mask is not None else self.editor.mask_array()
                self.query_one(ImagePreview).show(handles=command.handles, targets=command.targets, tracked=[],
                                                  mask=mask)
            self.busy = True
            self.apply_command(command, text)

    @work(thread=True, exclusive=True, group="edit")
    def apply_command(self, command, text: str) -> None:
        assert self.editor is not None
        self.cancel_event.clear()
        measured: list[EditMeasure | None] = []
        outcome = safely(command.command, lambda: self._apply_measured(command, text, measured))
        self._finish_from_worker(outcome, measured[0] if measured else None)

    def _apply_measured(self, command, text: str, measured: list[EditMeasure | None]) -> Outcome:
        """The editor's `apply`; on a photo, a named edit is measured on the pasted-back photo (into
        `measured`) and its message says how far its measure moved (assistant.edit_measure)."""
        from assistant.edit_measure import apply_measured

        editor = self.editor
        assert editor is not None
        outcome, measure = apply_measured(editor, command, lambda: editor.apply(
            command, text=text, progress=self._progress_callback(), cancel=self.cancel_event,
            preview_every=PREVIEW_EVERY_S))
        measured.append(measure)
        return outcome

    @work(thread=True, exclusive=True, group="edit")
    def drag_pending(self) -> None:
        assert self.editor is not None
        self.cancel_event.clear()
        self._finish_from_worker(safely("drag", lambda: self.editor.drag_pending(
            progress=self._progress_callback(), cancel=self.cancel_event, preview_every=PREVIEW_EVERY_S)))

    def _progress_callback(self):
        """Called by the drag in the worker thread each step; posts at a steady, modest rate."""
        assert self.editor is not None
        max_steps = self.editor.config.max_steps
        start = time.monotonic()
        last = [0.0]

        def progress(result) -> None:
            now = time.monotonic()
            if result.image is None and not result.done and now - last[0] < PROGRESS_EVERY_S:
                return
            last[0] = now
            distances = list(result.distances) if result.distances is not None else []
            distance = max(distances) if distances else None
            rate = (result.step + 1) / (now - start) if now > start else None
            image = to_uint8(result.image)[0] if result.image is not None else None
            self.post_message(DragProgress(result.step + 1, max_steps, distance, rate,
                                           [tuple(p) for p in result.points], image))

        return progress

    def on_drag_progress(self, message: DragProgress) -> None:
        self.query_one(StatusLine).progress(message.step, message.max_steps, message.distance, message.rate)
        if message.image is not None:  # redrawing the picture costs the UI thread; only with new pixels
            self.query_one(ImagePreview).show(message.image, tracked=message.points)

    def _finish_from_worker(self, outcome: Outcome, measured: EditMeasure | None = None) -> None:
        """Render new history thumbnails in the worker (a synthesis each), then update the UI."""
        assert self.editor is not None
        if not self.is_running:  # quit during the work: it is saved, there is no screen to update
            return
        self.editor.history_images()
        self.call_from_thread(self._finish, outcome, measured)

    async def _finish(self, outcome: Outcome, measured: EditMeasure | None = None) -> None:
        self.busy = False
        self.last_outcome = outcome
        self.last_measure = measured
        await self._refresh_state()
        missed = measured is not None and not measured.moved  # the edit is kept, but it did not land
        self.query_one(StatusLine).done(outcome.message, error=outcome.error or missed)

    # -- mouse -------------------------------------------------------------------------------------

    @on(ImagePreview.Clicked)
    def point_clicked(self, event: ImagePreview.Clicked) -> None:
        if self._not_ready():
            return
        if self.busy:
            self._status("a drag is running: wait for it or press Esc to cancel", True)
            return
        role = self.editor.pending.add(event.point)
        self._show_pending()
        x, y = event.point
        hint = "now click its target" if role == "handle" else "Ctrl+G drags, or click another handle"
        self._status(f"{role} at ({x:g}, {y:g}): {hint}")

    @on(ImagePreview.ClearRequested)
    def clear_requested(self) -> None:
        self.action_clear_points()

    # -- history -----------------------------------------------------------------------------------

    @on(HistoryPanel.Chosen)
    def history_chosen(self, event: HistoryPanel.Chosen) -> None:
        if self._can_edit():
            self.busy = True
            self.goto_state(event.index)

    @work(thread=True, exclusive=True, group="edit")
    def goto_state(self, index: int) -> None:
        assert self.editor is not None
        self._finish_from_worker(safely("goto", lambda: self.editor.goto(index)))

    # -- actions -----------------------------------------------------------------------------------

    async def action_quit(self) -> None:
        self.stop_work_and_exit()

    def stop_work_and_exit(self) -> None:
        """Stop a running drag or recording first: their threads would keep the process alive.
        The drag ends within a step and is saved as a cancelled edit before the process exits."""
        self.cancel_event.set()
        if self.talk_stop is not None:
            self.talk_stop.set()
        self.exit()

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss()
        else:
            self.push_screen(HelpScreen())

    def action_drag_points(self) -> None:
        if not self._can_edit():
            return
        assert self.editor is not None
        if not self.editor.pending.complete:
            self._status("click a handle and then its target first (every handle needs a target)", True)
            return
        self.busy = True
        self.drag_pending()

    def action_clear_points(self) -> None:
        if self._not_ready():
            return
        self.editor.pending.clear()
        self._show_pending()
        self._status("points cleared")

    def action_cancel(self) -> None:
        if self.talk_stop is not None:
            self.talk_stop.set()
            return
        if self.busy:
            self.cancel_event.set()
            self._status("cancelling: the drag stops after this step and stays as an undoable edit")

    def _simple(self, kind: str) -> None:
        from parsers.command import Command

        if self._can_edit():
            self.busy = True
            self.apply_command(Command(kind, message=kind), kind)

    def action_undo(self) -> None:
        self._simple("undo")

    def action_redo(self) -> None:
        self._simple("redo")

    def action_save(self) -> None:
        self._simple("save")

    # -- voice -------------------------------------------------------------------------------------

    def action_talk(self) -> None:
        """Push-to-talk as a toggle: terminals report key presses, not releases."""
        if self.talk_stop is not None:
            self.talk_stop.set()
            return
        if self._not_ready():
            return
        from parsers.audio import microphone_status

        usable, description = microphone_status()
        if not usable:
            self._status(f"{description}", True)
            return
        transcriber().start_loading()  # Whisper loads while the user speaks
        self.talk_stop = threading.Event()
        voice = self.query_one("#voice", Static)
        voice.add_class("recording")
        voice.update(f"recording from {description}: speak, then Ctrl+T (or pause)")
        self.record_and_transcribe(self.talk_stop)

    def on_voice_level(self, message: VoiceLevel) -> None:
        self.query_one("#voice", Static).update(f"\u25cf REC {level_bar(message.db)} {message.db:5.0f} dB  "
                                                "Ctrl+T stops")

    @work(thread=True, exclusive=True, group="voice")
    def record_and_transcribe(self, stop: threading.Event) -> None:
        from parsers.audio import Microphone
        from parsers.errors import AudioError

        last = [0.0]

        def on_block(block: np.ndarray) -> None:
            now = time.monotonic()
            if now - last[0] >= 0.05:
                last[0] = now
                rms = float(np.sqrt(np.mean(np.square(block, dtype=np.float64)))) if block.size else 0.0
                self.post_message(VoiceLevel(20 * np.log10(max(rms, 1e-6))))

        try:
            recording = Microphone().record(stop=stop, on_block=on_block)
        except AudioError as exc:
            self.call_from_thread(self._voice_done, None, str(exc))
            return
        self._transcribe_and_run(recording.clip)

    @work(thread=True, exclusive=True, group="voice")
    def hear_file(self, path: Path) -> None:
        """`say FILE`: a recorded command, for machines without a microphone."""
        from parsers.audio import load_audio
        from parsers.errors import AudioError

        try:
            clip = load_audio(path)
        except AudioError as exc:
            self.call_from_thread(self._voice_done, None, str(exc))
            return
        self._transcribe_and_run(clip)

    @work(thread=True, exclusive=True, group="voice")
    def hear(self, clip) -> None:
        """Run recorded speech (a `parsers.audio.AudioClip`) through Whisper and the parser."""
        self._transcribe_and_run(clip)

    def _transcribe_and_run(self, clip) -> None:
        from parsers.errors import AudioError

        self.call_from_thread(self._voice_note, "transcribing...")
        understood = self.editor.understands if self.editor is not None else None
        adds_to = self.editor.adds_to if self.editor is not None else None
        try:
            text = transcribe(clip, understood, adds_to)
        except AudioError as exc:
            self.call_from_thread(self._voice_done, None, str(exc))
            return
        self.call_from_thread(self._voice_done, text, None)

    def _voice_note(self, note: str) -> None:
        voice = self.query_one("#voice", Static)
        voice.add_class("recording")
        voice.update(note)

    def _voice_done(self, text: str | None, error: str | None) -> None:
        self.talk_stop = None
        voice = self.query_one("#voice", Static)
        voice.remove_class("recording")
        if error is not None:
            self._status(error, True)
            return
        if not text:
            self._status("heard nothing: try again closer to the microphone, or type", True)
            return
        self.query_one(CommandInput).remember(text)
        self._status(f"heard: {text!r}")
        self.parse_command(text)


def in_background(job: Callable[[], Editor]) -> Future:
    """Start `job` in a daemon thread; its result (or exception) arrives in the Future."""
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(job())
        except BaseException as exc:  # handed on to whoever waits for the result
            future.set_exception(exc)

    threading.Thread(target=run, name="open-editor", daemon=True).start()
    return future


def safely(kind: str, job: Callable[[], Outcome]) -> Outcome:
    """Run one command's work; any failure (a full disk at autosave, a bug) becomes an error line
    on the status bar instead of ending the app with the session in it."""
    try:
        return job()
    except Exception as exc:
        return Outcome(kind, f"{kind} failed: {type(exc).__name__}: {exc}", error=True)


def warm_up_optimizer() -> None:
    """Build one throw-away Adam: its first construction imports torch._dynamo (seconds on a busy
    CPU), which would otherwise stall the user's first drag."""
    import torch

    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


_TRANSCRIBER = None


def transcriber():
    """The speech layer's Whisper transcriber, one per process (its model loads once)."""
    from parsers.speech import Transcriber

    global _TRANSCRIBER
    if _TRANSCRIBER is None:
        _TRANSCRIBER = Transcriber()
    return _TRANSCRIBER


def transcribe(clip, understood=None, adds_to=None) -> str:
    """What was said; with `understood` (the editor's parser), a misheard transcript may be
    replaced by the grammar's most likely sentence the app can read (`adds_to`: only by one that
    reads as something else)."""
    return transcriber().transcribe(clip, understood=understood, adds_to=adds_to).text.strip()


def spoken_file(line: str) -> Path | None:
    """The audio file of a `say FILE` line, if the line is one and the file exists."""
    m = re.fullmatch(r"say\s+(.+)", line.strip(), flags=re.IGNORECASE)
    if m is None:
        return None
    path = Path(m.group(1).strip().strip("\"'")).expanduser()
    return path if path.is_file() else None


def history_entries(editor: Editor) -> tuple[list[HistoryEntry], int]:
    """Entries for the panel (start + every edit, undone ones included) and the current index."""
    images = editor.history_images()
    entries = [HistoryEntry(0, "start", images[0])]
    for i, edit in enumerate(editor.all_edits(), start=1):
        entries.append(HistoryEntry(i, edit.label, images[i], handles=list(edit.handles),
                                    targets=list(edit.targets), steps=int(edit.steps),
                                    seconds=float(edit.seconds), status=str(edit.status)))
    return entries, editor.position()


@contextmanager
def native_stderr_to(log_path: Path):
    """Send file descriptor 2 to a log while the app runs; Textual draws on a duplicate of it.

    MediaPipe and TensorFlow Lite log from C++ straight to fd 2, which is the terminal Textual
    draws on (its driver writes to `sys.__stderr__`); their lines would land in the middle of
    the screen.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    saved = os.dup(2)
    terminal = os.fdopen(saved, "w", encoding=sys.__stderr__.encoding or "utf-8", errors="replace")
    old_dunder, old_stderr = sys.__stderr__, sys.stderr
    with open(log_path, "a") as log:
        os.dup2(log.fileno(), 2)
        sys.__stderr__ = sys.stderr = terminal
        try:
            yield
        finally:
            terminal.flush()
            os.dup2(saved, 2)
            sys.__stderr__, sys.stderr = old_dunder, old_stderr
            terminal.close()


def run_app(options: AppOptions, graphics: bool = True) -> int:
    """Run the app in this terminal (sixel/kitty pictures where the terminal has them)."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if graphics and options.graphics is None:
        options.graphics = detect_graphics()
    app = DragAssistantApp(options)
    if sys.__stderr__ is not None and sys.__stderr__.isatty():
        with native_stderr_to(native_log_path()):
            app.run()
    else:
        app.run()
    return 0
