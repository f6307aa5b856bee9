"""Pilot-driven tests of the real app on a tiny generator: type, click, cancel, undo, help, resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from assistant.app import AppOptions, DragAssistantApp, level_bar
from assistant.editor import Editor
from assistant.session_store import SessionStore
from assistant.widgets.command_input import CommandInput
from assistant.widgets.history import HistoryPanel
from assistant.widgets.preview import ImagePreview
from assistant.widgets.status import StatusLine, format_progress
from parsers.command import Command
from stylegan2 import default_model_path
from tests.conftest import tiny_generator

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SIZE = (110, 36)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def data_home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DRAGGAN_ASSISTANT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


async def wait_until(pilot, condition, timeout: float = 60.0) -> None:
    waited = 0.0
    while not condition():
        assert waited < timeout, "timed out waiting for the app"
        await pilot.pause(0.05)
        waited += 0.05


async def ready(app, pilot, steps: int = 25) -> None:
    await wait_until(pilot, app.ready.is_set)
    app.editor.config = app.editor.config.with_overrides(max_steps=steps)


async def ready_for_endless_drag(app, pilot) -> None:
    """A drag that only ends when cancelled: with a tiny step size the handle never arrives, yet
    the latent does change (float32 resolves 1e-6 steps)."""
    await ready(app, pilot, steps=10_000)
    app.editor.config = app.editor.config.with_overrides(lr=1e-6, stall_patience=None)


async def settle(app, pilot) -> None:
    await wait_until(pilot, lambda: not app.busy)
    await app.workers.wait_for_complete()
    await pilot.pause(0.05)


def history_labels(app) -> list[str]:
    return [e.label for e in app.query_one(HistoryPanel).entries]


async def type_keys(pilot, text: str) -> None:
    """Type a command key by key, as a user does."""
    await pilot.click(CommandInput)
    await pilot.press(*text)
    await pilot.press("enter")


async def type_command(pilot, text: str) -> None:
    """Enter a line: filled in at once, then Enter (Pilot waits for an idle app after every key,
    which costs seconds a line, most of all while a drag posts progress)."""
    box = pilot.app.query_one(CommandInput)
    box.value = text
    box.focus()
    await pilot.press("enter")


def cell_of(app, x: float, y: float) -> tuple[int, int]:
    """The preview cell (widget offset, border included) that shows image point (x, y)."""
    preview = app.query_one(ImagePreview)
    fit = preview.fit
    dx, dy = fit.pixel_to_display(x, y)
    left, top = preview.gutter.top_left
    return left + fit.off_x + dx, top + fit.off_y + dy // 2


def test_progress_line_and_level_meter_texts():
    assert format_progress(5, 10, 3.25, 2.0) == "[#####.....] step 5/10 · 3.2 px to target · 2.00 steps/s"
    assert format_progress(0, 10, None, None) == "[..........] step 0/10"
    assert level_bar(0.0, 10) == "\u2588" * 10 and level_bar(-90.0, 10) == "\u2591" * 10


async def test_typed_drag_updates_preview_and_history_and_undo_restores(tiny_path):
    app = DragAssistantApp(AppOptions(model=str(tiny_path), seed=3))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        preview = app.query_one(ImagePreview)
        start = preview.image.copy()
        assert history_labels(app) == ["start"]

        await type_keys(pilot, "drag 10,10 to 14,12")
        await wait_until(pilot, lambda: len(history_labels(app)) == 2)
        await settle(app, pilot)
        assert history_labels(app) == ["start", "drag 10,10 to 14,12"]
        assert not app.last_outcome.error
        assert not np.array_equal(preview.image, start), "the preview shows the edited picture"
        assert np.array_equal(preview.image, app.editor.image())
        assert app.query_one(HistoryPanel).current == 1

        await type_keys(pilot, "undo")
        await wait_until(pilot, lambda: app.query_one(HistoryPanel).current == 0)
        await settle(app, pilot)
        assert np.array_equal(preview.image, start), "undo restores the previous picture exactly"
        assert history_labels(app) == ["start", "drag 10,10 to 14,12"], "the undone edit stays, to redo"
        items = list(app.query("HistoryItem"))
        assert items[0].has_class("current") and items[1].has_class("undone")

        await pilot.press("ctrl+y")
        await wait_until(pilot, lambda: app.query_one(HistoryPanel).current == 1)
        await settle(app, pilot)
        assert not np.array_equal(preview.image, start)

        await pilot.press("up")  # command history: the last typed command comes back
        assert app.query_one(CommandInput).value == "undo"

        ARTIFACTS.mkdir(exist_ok=True)
        svg = Path(app.save_screenshot(filename="tui-after-drag.svg", path=str(ARTIFACTS)))
    import cairosvg

    png = svg.with_suffix(".png")
    cairosvg.svg2png(url=str(svg), write_to=str(png))
    assert png.stat().st_size > 10_000
    assert "drag 10,10 to 14,12" in svg.read_text().replace("&#160;", " ")


async def test_click_handle_and_target_then_drag(tiny_path):
    app = DragAssistantApp(AppOptions(model=str(tiny_path), seed=7))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.click(ImagePreview, offset=cell_of(app, 8, 8))
        await pilot.click(ImagePreview, offset=cell_of(app, 13, 9))
        pending = app.editor.pending
        assert len(pending.handles) == 1 and len(pending.targets) == 1
        (hx, hy), (tx, ty) = pending.handles[0], pending.targets[0]
        fit = app.query_one(ImagePreview).fit
        assert abs(hx - 8) <= 2 / fit.scale and abs(hy - 8) <= 2 / fit.scale
        assert abs(tx - 13) <= 2 / fit.scale and abs(ty - 9) <= 2 / fit.scale
        assert "target" in str(app.query_one(StatusLine).render())

        await pilot.click(ImagePreview, offset=cell_of(app, 20, 20), button=3)  # right click clears
        assert not pending.handles and not pending.targets
        await pilot.click(ImagePreview, offset=cell_of(app, 8, 8))
        await pilot.click(ImagePreview, offset=cell_of(app, 13, 9))
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: len(history_labels(app)) == 2)
        await settle(app, pilot)
        edit = app.editor.all_edits()[0]
        assert edit.handles[0] == pytest.approx(pending.handles[0] if pending.handles else (hx, hy), abs=0.5)
        assert not app.editor.pending.handles, "points are used up by the drag"


async def test_cancel_mid_drag_keeps_an_undoable_edit(tiny_path):
    app = DragAssistantApp(AppOptions(model=str(tiny_path), seed=9))
    async with app.run_test(size=SIZE) as pilot:
        await ready_for_endless_drag(app, pilot)
        start = app.editor.image().copy()
        await type_command(pilot, "drag 1,1 to 30,30")
        await wait_until(pilot, lambda: app.query_one(StatusLine).has_class("busy"))
        await pilot.press("escape")
        await settle(app, pilot)
        result = app.last_outcome.result
        assert result.status == "cancelled" and 0 < result.steps < 10_000
        edit = app.editor.all_edits()[0]
        assert edit.status == "cancelled"
        assert "[cancelled]" in app.query_one(HistoryPanel).entries[1].describe()
        ws0 = app.editor.session.history.ws0
        assert not torch.equal(edit.ws, ws0), "the partial edit is kept"
        await pilot.press("ctrl+z")
        await settle(app, pilot)
        assert torch.equal(app.editor.session.ws, ws0)
        assert np.array_equal(app.query_one(ImagePreview).image, start)


async def test_busy_app_refuses_a_second_edit_but_takes_help(tiny_path):
    app = DragAssistantApp(AppOptions(model=str(tiny_path), seed=9))
    async with app.run_test(size=SIZE) as pilot:
        await ready_for_endless_drag(app, pilot)
        await type_command(pilot, "drag 1,1 to 30,30")
        await wait_until(pilot, lambda: app.busy)
        await type_command(pilot, "undo")
        await wait_until(pilot, lambda: "a drag is running" in str(app.query_one(StatusLine).render()), 30)
        await pilot.press("f1")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        await pilot.press("escape")  # closes help; the drag keeps going
        await wait_until(pilot, lambda: type(app.screen).__name__ != "HelpScreen")
        assert app.busy
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.last_outcome.result.status == "cancelled"


async def test_help_screen_lists_commands_and_keys(tiny_path):
    app = DragAssistantApp(AppOptions(model=str(tiny_path), seed=1))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await type_command(pilot, "help")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        text = app.screen.query_one("Markdown").source
        for needle in ("undo", "Ctrl+G", "push to talk", "save PATH"):
            assert needle in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: type(app.screen).__name__ != "HelpScreen")


async def test_unknown_and_out_of_range_commands_change_nothing(tiny_path):
    app = DragAssistantApp(AppOptions(model=str(tiny_path), seed=1))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        start = app.editor.image().copy()
        await type_command(pilot, "drag 10,10 to 99,99")
        await wait_until(pilot, lambda: app.query_one(StatusLine).has_class("error"))
        assert "outside the 32x32 image" in str(app.query_one(StatusLine).render())
        assert history_labels(app) == ["start"] and np.array_equal(app.editor.image(), start)


async def test_voice_key_without_microphone_says_so_and_typing_still_works(tiny_path):
    from parsers.audio import microphone_status

    usable, _ = microphone_status()
    if usable:
        pytest.skip("this machine has a microphone")  # CI machines have none
    app = DragAssistantApp(AppOptions(model=str(tiny_path), seed=1))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("ctrl+t")
        status = app.query_one(StatusLine)
        assert status.has_class("error") and "microphone" in str(status.render())
        assert app.talk_stop is None
        await type_command(pilot, "steps 12")
        await wait_until(pilot, lambda: app.editor.config.max_steps == 12)


async def test_resume_opens_the_saved_history(tiny_path, data_home):
    first = Editor.open(str(tiny_path), seed=5)
    first.config = first.config.with_overrides(max_steps=15)
    first.apply(Command("drag", handles=[(10, 10)], targets=[(13, 10)]), text="one")
    first.apply(Command("drag", handles=[(20, 20)], targets=[(20, 24)]), text="two")
    first.apply(Command("undo", message="undo"))
    app = DragAssistantApp(AppOptions(resume=True))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, app.ready.is_set)
        assert history_labels(app) == ["start", "one", "two"]
        assert app.query_one(HistoryPanel).current == 1
        assert np.array_equal(app.query_one(ImagePreview).image, first.image())
        assert app.editor.store.folder == SessionStore.open(None).folder
        # Choosing "two" in the panel redoes it.
        panel = app.query_one(HistoryPanel)
        panel.focus()
        panel.index = 2
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.query_one(HistoryPanel).current == 2)
        await settle(app, pilot)
        first.apply(Command("redo", message="redo"))
        assert np.array_equal(app.query_one(ImagePreview).image, first.image())


async def test_graphics_overlay_covers_the_picture_and_clicks_still_map(tiny_path):
    """The sixel/kitty path, driven with textual-image's half-cell widget (what a test terminal can show)."""
    from textual_image.widget import HalfcellImage

    from assistant.widgets.preview import GraphicsBackend

    backend = GraphicsBackend(HalfcellImage, (10, 20))
    app = DragAssistantApp(AppOptions(model=str(tiny_path), seed=3, graphics=backend))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.pause(0.1)
        preview = app.query_one(ImagePreview)
        graphic = preview.query_one(HalfcellImage)
        fit = preview.fit
        assert graphic.image.size == (fit.disp_w * 10, fit.cells_h * 20)
        assert graphic.region.width == fit.disp_w and graphic.region.height == fit.cells_h
        assert graphic.region.x == preview.content_region.x + fit.off_x
        await pilot.click(ImagePreview, offset=cell_of(app, 8, 8))  # lands on the graphics child
        (hx, hy), = app.editor.pending.handles
        assert abs(hx - 8) <= 2 / fit.scale and abs(hy - 8) <= 2 / fit.scale


@pytest.mark.skipif(not default_model_path().is_file(), reason="the embedded model is not in this checkout")
async def test_embedded_model_coordinates_and_named_part():
    """The real default model: a typed drag edits, undo restores; a named part edits or says why."""
    app = DragAssistantApp(AppOptions(seed=0))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot, steps=15)
        w, h = app.editor.resolution
        start = app.editor.image().copy()
        await type_command(pilot, f"drag {w // 2},{h // 2} to {w // 2 + 4},{h // 2}")
        await wait_until(pilot, lambda: len(history_labels(app)) == 2)
        await settle(app, pilot)
        assert not np.array_equal(app.query_one(ImagePreview).image, start)
        await pilot.press("ctrl+z")
        await settle(app, pilot)
        assert np.array_equal(app.query_one(ImagePreview).image, start)

        await type_command(pilot, "open the mouth")
        await wait_until(pilot, lambda: app.last_outcome is not None and app.last_outcome.kind == "drag"
                         and not app.busy or app.query_one(StatusLine).has_class("error"), 120)
        await settle(app, pilot)
        if app.query_one(StatusLine).has_class("error"):
            assert "face" in str(app.query_one(StatusLine).render())
            assert np.array_equal(app.editor.image(), start) and app.editor.position() == 0
        else:
            assert app.editor.position() == 1 and app.editor.all_edits()[-1].label == "open the mouth"


async def test_save_writes_picture_and_a_script_that_replays(tiny_path, tmp_path):
    from PIL import Image

    from assistant.edit_script import EditScript
    from assistant.editor import replay

    app = DragAssistantApp(AppOptions(model=str(tiny_path), seed=12))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot, steps=12)
        await type_command(pilot, "drag 9,9 to 13,11")
        await wait_until(pilot, lambda: len(history_labels(app)) == 2)
        await settle(app, pilot)
        target = tmp_path / "mine.png"
        await type_command(pilot, f"save {target}")
        await wait_until(pilot, lambda: target.with_name(target.name + ".json").exists())
        await settle(app, pilot)
        shown = app.editor.image()
    script = EditScript.load(target.with_name(target.name + ".json"))
    assert script.seed == 12 and script.model == str(tiny_path.resolve())
    assert [e.command for e in script.edits] == ["drag 9,9 to 13,11"]
    assert np.array_equal(np.asarray(Image.open(target)), shown)
    assert np.array_equal(replay(script, tiny_generator()).image(), shown)


async def test_spoken_command_goes_through_whisper_and_the_parser(tiny_path, tmp_path):
    """Real Whisper on espeak-ng speech, handed to the app as a microphone recording would be."""
    import shutil
    import subprocess

    from parsers.audio import load_audio

    espeak = shutil.which("espeak-ng")
    assert espeak, "espeak-ng is needed (see .ci/run)"
    wav = tmp_path / "undo.wav"
    subprocess.run([espeak, "-v", "en-us", "-s", "150", "-w", str(wav), "undo"], check=True)
    app = DragAssistantApp(AppOptions(model=str(tiny_path), seed=2))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot, steps=10)
        start = app.editor.image().copy()
        await type_command(pilot, "drag 10,10 to 14,12")
        await wait_until(pilot, lambda: len(history_labels(app)) == 2)
        await settle(app, pilot)
        app.hear(load_audio(wav))
        await wait_until(pilot, lambda: app.query_one(HistoryPanel).current == 0, 180)
        await settle(app, pilot)
        assert np.array_equal(app.query_one(ImagePreview).image, start)
        assert app.query_one(CommandInput).history[-1].lower() == "undo"


async def test_quit_during_a_drag_stops_it_and_saves_it(tiny_path):
    import time

    app = DragAssistantApp(AppOptions(model=str(tiny_path), seed=9))
    async with app.run_test(size=SIZE) as pilot:
        await ready_for_endless_drag(app, pilot)
        await type_command(pilot, "drag 1,1 to 30,30")
        await wait_until(pilot, lambda: app.query_one(StatusLine).has_class("busy"))
        await pilot.press("ctrl+q")
    # The drag (10,000 steps) must stop within a step of quitting, or its thread keeps the
    # process alive; once stopped it is committed and saved as a cancelled edit.
    deadline = time.monotonic() + 30
    while not app.editor.all_edits():
        assert time.monotonic() < deadline, "the drag kept running after quit"
        time.sleep(0.05)
    assert app.editor.all_edits()[0].steps < 10_000
    deadline = time.monotonic() + 30
    while not (app.editor.store and (app.editor.store.folder / "session.json").exists()):
        assert time.monotonic() < deadline, "the cancelled edit was not saved"
        time.sleep(0.05)
    script = SessionStore.open(None).script()
    assert [e.status for e in script.edits] == ["cancelled"]


async def test_a_failed_start_is_what_every_later_command_says(tmp_path):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x00" * 64)
    app = DragAssistantApp(AppOptions(model=str(broken), seed=1))
    async with app.run_test(size=SIZE) as pilot:
        status = app.query_one(StatusLine)
        await wait_until(pilot, lambda: app.start_error is not None)
        await pilot.pause(0.05)
        for act in (lambda: type_command(pilot, "open the mouth"), lambda: pilot.press("ctrl+z"),
                    lambda: pilot.press("ctrl+t")):
            status.update("")
            await act()
            await pilot.pause(0.05)
            shown = str(status.render())
            assert status.has_class("error") and "could not start" in shown and "loading" not in shown
            assert str(broken) in shown and "Ctrl+Q" in shown and "--help" in shown
