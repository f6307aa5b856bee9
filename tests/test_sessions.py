"""Session folders, edit scripts, headless edit/replay, and surviving a killed process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from assistant.cli import main
from assistant.edit_script import EditScript, ScriptError, decode_mask, encode_mask
from assistant.editor import Editor, PendingPoints, replay
from assistant.session_store import SessionError, SessionStore
from parsers.command import Command
from stylegan2 import save_generator
from tests.conftest import tiny_generator

REPO = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def data_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("DRAGGAN_ASSISTANT_HOME", str(home))
    return home


def drag(text: str, h, t) -> Command:
    return Command("drag", handles=[h], targets=[t], message=text)


def test_mask_round_trip_and_bad_masks():
    mask = np.random.default_rng(0).random((13, 7)) > 0.5
    assert (decode_mask(encode_mask(mask)) == mask).all()
    assert decode_mask(None) is None
    with pytest.raises(ScriptError):
        decode_mask({"shape": [100, 100], "packbits": "AAAA"})


def test_pending_points_alternate_like_clicks():
    p = PendingPoints()
    assert [p.add((1, 1)), p.add((2, 2)), p.add((3, 3))] == ["handle", "target", "handle"]
    assert not p.complete
    p.add((4, 4))
    assert p.complete and p.handles == [(1, 1), (3, 3)] and p.targets == [(2, 2), (4, 4)]


def small_budget(ed: Editor, steps: int = 30) -> Editor:
    ed.config = ed.config.with_overrides(max_steps=steps)
    return ed


def test_autosave_undo_and_resume(tiny_path, data_home):
    ed = small_budget(Editor.open(str(tiny_path), seed=3))
    start = ed.image()
    out = ed.apply(drag("first", (10, 10), (14, 12)), text="first")
    assert not out.error and out.result.steps > 0
    edited = ed.image()
    assert not np.array_equal(start, edited)
    assert ed.store is not None and ed.store.folder.parent == data_home / "sessions"
    assert ed.apply(Command("undo", message="undo")).changed
    assert np.array_equal(ed.image(), start), "undo must restore the previous picture exactly"
    assert ed.apply(Command("redo", message="redo")).changed
    saved = np.asarray(Image.open(ed.store.folder / "current.png"))
    assert np.array_equal(saved, edited)

    again = Editor.resume(SessionStore.open(None))
    assert again.position() == 1 and len(again.all_edits()) == 1
    assert np.array_equal(again.image(), edited)
    assert again.all_edits()[0].label == "first"
    assert len(list(ed.store.folder.glob("snap-*"))) == 1, "old snapshots are removed once the new one is current"


def test_a_half_written_snapshot_is_ignored(tiny_path):
    ed = small_budget(Editor.open(str(tiny_path), seed=5), 5)
    ed.apply(drag("one", (8, 8), (12, 8)), text="one")
    folder = ed.store.folder
    (folder / ".snap-000009.tmp").mkdir()  # what a process killed while saving leaves behind
    (folder / ".snap-000009.tmp" / "session.json").write_text("{trunc")
    again = Editor.resume(SessionStore.open(str(folder)))
    assert np.array_equal(again.image(), ed.image())


def test_missing_session_is_a_user_error(tmp_path, capsys):
    with pytest.raises(SessionError):
        SessionStore.open("no-such-session")
    assert main(["--resume", "nope"]) == 2
    assert "error: no session 'nope'" in capsys.readouterr().err


def test_script_replays_to_the_same_picture(tiny_path, tmp_path):
    ed = small_budget(Editor.open(str(tiny_path), seed=11, keep_session=False), 20)
    ed.apply(drag("a", (6, 6), (10, 8)), text="a")
    ed.apply(Command("settings", settings={"steps": 7}, message="steps 7"))
    mask = np.zeros((32, 32), bool)
    mask[12:30, 12:30] = True
    out = ed.drag([(20, 20)], [(26, 24)], mask=mask, label="b")
    assert out.result.steps <= 7
    ed.apply(drag("c", (3, 28), (8, 28)), text="c")
    ed.apply(Command("undo", message="undo"))  # undone edits are not part of the script
    png, script_path = ed.export(str(tmp_path / "result.png"))
    script = EditScript.load(script_path)
    assert [e.command for e in script.edits] == ["a", "b"]
    assert script.edits[1].settings["max_steps"] == 7 and (script.edits[1].mask == mask).all()

    again = replay(script, tiny_generator())
    assert np.array_equal(again.image(), np.asarray(Image.open(png)))


def test_bad_scripts_are_refused(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ScriptError, match="not an edit script"):
        EditScript.load(bad)
    bad.write_text(json.dumps({"format": "draggan-assistant-script", "version": 1, "seed": 1, "psi": 0.7,
                               "edits": [{"command": "x", "handles": [[1, 2]], "targets": [[3]], "steps": 3}]}))
    with pytest.raises(ScriptError, match="targets"):
        EditScript.load(bad)
    bad.write_text("{")
    with pytest.raises(ScriptError, match="not valid JSON"):
        EditScript.load(bad)


def test_cli_edit_then_replay(tiny_path, tmp_path, capsys):
    out, script = tmp_path / "edit.png", tmp_path / "edit.json"
    rc = main(["edit", "--model", str(tiny_path), "--seed", "2", "steps 20", "drag 10,10 to 14,12", "steps 5",
               "drag 20,20 to 24,18", "-o", str(out), "--script", str(script), "--json"])
    assert rc == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert [e["kind"] for e in summary["edits"]] == ["settings", "drag", "settings", "drag"]
    assert summary["edits"][3]["steps"] <= 5 and summary["session"] is not None
    assert "step " in captured.err  # progress went to stderr
    replayed = tmp_path / "replayed.png"
    assert main(["replay", str(script), "-o", str(replayed)]) == 0
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(replayed)))


def test_cli_edit_bad_command_is_one_line(tiny_path, tmp_path, capsys):
    rc = main(["edit", "--model", str(tiny_path), "drag 10,10 to 99,12", "-o", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and err.startswith("error: ")
    assert "outside the 32x32 image" in err
    assert not (tmp_path / "x.png").exists()


def test_killed_mid_drag_keeps_every_finished_edit(tiny_path, data_home, tmp_path):
    """A real process is SIGKILLed during its second drag; the first edit is all there on resume."""
    env = dict(os.environ, DRAGGAN_ASSISTANT_HOME=str(data_home), PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "assistant.cli", "edit", "--model", str(tiny_path), "--seed", "4",
           "steps 20", "drag 10,10 to 14,12", "steps 10000", "drag 1,1 to 30,30", "-o", str(tmp_path / "never.png")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        seen_first = False
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            assert line, f"the edit process ended early (rc {proc.poll()})"
            if line.startswith("drag 10,10 to 14,12:"):
                seen_first = True
            if seen_first and line.startswith("step "):  # the second drag is under way
                break
        else:
            pytest.fail("the second drag never started")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    store = SessionStore.open(None)
    script = store.script()
    assert [e.command for e in script.edits] == ["drag 10,10 to 14,12"]
    again = Editor.resume(store)
    assert again.position() == 1
    assert np.array_equal(again.image(), np.asarray(Image.open(store.folder / "current.png")))
    assert not (tmp_path / "never.png").exists()


def test_resume_without_its_model_is_a_user_error(tmp_path, capsys):
    moved = save_generator(tiny_generator(), tmp_path / "elsewhere" / "tiny.safetensors")
    ed = Editor.open(str(moved), seed=1)
    ed.apply(Command("settings", settings={"steps": 2}, message="steps 2"))
    ed.apply(drag("one", (5, 5), (10, 5)), text="one")
    moved.unlink()
    assert main(["--resume"]) == 2
    err = capsys.readouterr().err
    assert "the session's model is no longer there" in err and "--model" in err


def test_scripts_of_other_sources_are_not_replayed(tiny_path, tmp_path, capsys):
    ed = Editor.open(str(tiny_path), seed=3, keep_session=False)
    ed.script_source = "photo"  # what an editor on a fitted photo records
    _, path = ed.export(str(tmp_path / "p.png"))
    assert EditScript.load(path).source == "photo"
    assert main(["replay", str(path), "-o", str(tmp_path / "r.png")]) == 2
    assert "only scripts of generated pictures" in capsys.readouterr().err
    assert not (tmp_path / "r.png").exists()


def test_a_drag_that_changes_no_pixel_is_refused_and_changes_nothing(tiny_path, data_home):
    ed = Editor.open(str(tiny_path), seed=3)
    ed.config = ed.config.with_overrides(lr=1e-9, max_steps=3)
    out = ed.apply(drag("faint", (10, 10), (16, 12)), text="faint")
    assert out.error and "changed no pixel" in out.message and "nothing was kept" in out.message
    assert ed.position() == 0 and ed.all_edits() == [] and ed.store is None


def test_a_drag_already_at_its_target_is_refused(tiny_path):
    ed = Editor.open(str(tiny_path), seed=3, keep_session=False)
    out = ed.apply(drag("tiny", (10, 10), (11, 10)), text="tiny")
    assert out.error and "nothing to drag" in out.message and ed.all_edits() == []


def test_cli_edit_that_changes_nothing_exits_non_zero_and_writes_nothing(tiny_path, tmp_path, capsys):
    out = tmp_path / "same.png"
    rc = main(["edit", "--model", str(tiny_path), "--no-session", "lr 0.000000001", "steps 3",
               "drag 10,10 to 16,12", "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "changed no pixel" in err.splitlines()[-1] and err.splitlines()[-1].startswith("error: ")
    assert not out.exists()
    assert main(["edit", "--model", str(tiny_path), "--no-session", "drag 10,10 to 11,11", "-o", str(out)]) == 2
    assert "nothing to drag" in capsys.readouterr().err and not out.exists()


def test_settings_and_the_kept_mask_survive_resume(tiny_path, data_home):
    ed = Editor.open(str(tiny_path), seed=3)
    ed.apply(Command("settings", settings={"steps": 80}, message="steps 80"))
    ed.apply(Command("settings", settings={"lr": 0.004}, message="lr 0.004"))
    ed.apply(Command("settings", settings={"mask_weight": 5.0}, message="mask weight 5"))
    region = {"polygon": [[4, 4], [28, 4], [28, 28], [4, 28]], "bbox": [4, 4, 28, 28]}
    ed.apply(Command("settings", settings={"mask": "mouth"}, mask=region, message="only the mouth"))
    again = Editor.resume(SessionStore.open(None))
    assert again.config.max_steps == 80 and again.config.lr == 0.004 and again.config.lambda_mask == 5.0
    assert again.mask_region == region
    ed.apply(drag("one", (10, 10), (16, 12)), text="one")
    assert Editor.resume(SessionStore.open(None)).config.max_steps == 80


def test_save_writes_the_script_as_path_json_as_the_readme_says(tiny_path, tmp_path):
    ed = Editor.open(str(tiny_path), seed=3, keep_session=False)
    ed.apply(drag("one", (10, 10), (16, 12)), text="one")
    mine = tmp_path / "out.json"
    mine.write_text("the user's own file")
    png, script = ed.export(str(tmp_path / "out.png"))
    assert (png.name, script.name) == ("out.png", "out.png.json")
    assert mine.read_text() == "the user's own file"
    assert EditScript.load(script).edits[0].command == "one"
    assert "`save out.png` writes `out.png.json`" in (REPO / "README.md").read_text()


def test_hints_name_keys_only_in_the_app(tiny_path):
    ed = Editor.open(str(tiny_path), seed=3, keep_session=False)
    points = Command("points", handles=[(3, 3)], targets=[(8, 3)], message="points")
    assert "Ctrl+G" not in ed.apply(points).message and "drag X,Y to X,Y" in ed.apply(points).message
    ed.interface = "app"
    assert "Ctrl+G" in ed.apply(points).message


@pytest.mark.parametrize("name", [".", "x" * 300 + ".png", "folder"])
def test_a_save_that_cannot_be_written_is_an_error_outcome(tiny_path, tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder.png").mkdir()
    ed = Editor.open(str(tiny_path), seed=3, keep_session=False)
    out = ed.apply(Command("save", path=name, message="save"))
    assert out.error and out.message.startswith("cannot save to")


def test_editor_tells_speech_which_transcripts_it_can_act_on(tiny_path, data_home):
    """The app hands this to Whisper's grammar decoding; asking must not change the editor or its context."""
    ed = Editor.open(str(tiny_path), seed=3)
    before = ed.image()
    assert ed.understands("undo that") and ed.understands("drag 10,10 to 14,12")
    assert not ed.understands("the weather in paris tomorrow")
    assert np.array_equal(ed.image(), before) and ed.position() == 0


def test_a_named_part_too_short_to_drag_is_lengthened_and_coordinates_are_not():
    from assistant.drag_geometry import hold_points, lengthen_to

    targets, factor = lengthen_to([(10, 10), (20, 10)], [(11, 10), (20, 10.5)], 4.0, (32, 32))
    assert factor == 4.0 and targets == [(14.0, 10.0), (20.0, 12.0)]
    assert lengthen_to([(10, 10)], [(20, 10)], 4.0, (32, 32)) == ([(20.0, 10.0)], 1.0)
    assert lengthen_to([(30, 10)], [(31, 10)], 4.0, (32, 32))[0] == [(31.0, 10.0)]  # kept inside the picture

    mask = hold_points(np.zeros((8, 8), bool), [(2.2, 3.0)], 1)
    assert mask.sum() == 5 and mask[3, 2] and mask[2, 2] and not mask[2, 1]

    ed = small_budget(Editor.open(None, seed=3, keep_session=False), 5)
    short = Command("drag", part="mouth", action="smile", handles=[(32.0, 40.0)], targets=[(33.0, 40.0)],
                    message="make her smile")
    outcome = ed.apply(short)
    assert "the motion of the mouth was lengthened 4.0x to 4 px" in outcome.message
    coords = ed.apply(Command("drag", handles=[(32.0, 40.0)], targets=[(33.0, 40.0)], message="drag"))
    assert coords.error and "nothing to drag" in coords.message
