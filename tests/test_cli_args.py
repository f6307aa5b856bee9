"""Every out-of-range argument of every command is one `error:` line and exit status 2, before
anything is loaded or written (issue 16, item 2)."""

from __future__ import annotations

import json

import pytest

from assistant.cli import main

BAD_ARGUMENTS = [
    ["sample", "--seed", "-3"],
    ["sample", "--seed", "4294967296"],
    ["sample", "--seed", "1e3"],
    ["sample", "--seed", "\u00b2"],
    ["sample", "--seeds", "0-4294967296"],
    ["sample", "--seeds", "0-99999999"],
    ["sample", "--psi", "nan"],
    ["sample", "--psi", "inf"],
    ["sample", "--psi", "7"],
    ["sample", "--batch-size", "0"],
    ["sample", "--cutoff", "-5"],
    ["sample", "--mix-seed", "-1"],
    ["sample", "--mix-from", "-1"],
    ["edit", "--seed", "-3", "open the mouth"],
    ["edit", "--seed", "4294967296", "open the mouth"],
    ["edit", "--psi", "nan", "open the mouth"],
    ["edit", "--image", "photo.jpg", "--face", "0", "smile"],
    ["edit", "--image", "photo.jpg", "--fit-steps", "2", "smile"],
    ["parse", "--seed", "-3", "open the mouth"],
    ["parse", "--seed", "4294967296", "open the mouth"],
    ["parse", "--psi", "1e999", "open the mouth"],
    ["--seed", "-1"],
    ["--psi", "abc"],
    ["--threads", "0"],
    ["--threads", "100000"],
    ["--face", "-2"],
    ["--fit-steps", "0"],
    ["train", "data", "--resolution", "100"],
    ["train", "data", "--batch", "0"],
    ["train", "data", "--lr", "-1"],
    ["train", "data", "--kimg", "nan"],
    ["train", "data", "--threads", "0"],
    ["train", "data", "--seed", "-1"],
    ["train", "data", "--limit", "0"],
    ["train", "data", "--mapping-layers", "0"],
    ["train", "data", "--r1-gamma", "-1"],
    ["train", "data", "--dist-timeout", "inf"],
    ["train-encoder", "--lr", "inf"],
    ["train-encoder", "--threads", "100000"],
    ["train-encoder", "--steps", "0"],
    ["train-encoder", "--minutes", "nan"],
    ["benchmark", "landmarks", "--pairs", "0"],
    ["benchmark", "landmarks", "--first-seed", "-1"],
    ["benchmark", "landmarks", "--psi", "nan"],
    ["benchmark", "landmarks", "--threads", "0"],
    ["benchmark", "landmarks", "--stop-distance", "0.05"],
    ["benchmark", "landmarks", "--stop-distance", "0.5"],  # under 1 px only with --set subpixel=true
    ["model-report", "--n", "0"],
    ["model-report", "--threads", "0"],
    ["model-report", "--psi", "nan"],
]


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("argv", BAD_ARGUMENTS, ids=" ".join)
def test_out_of_range_arguments_are_one_line_and_status_2(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = one_error_line(capsys)
    assert argv[-1] in err or argv[-2] in err or "must" in err
    assert list(tmp_path.iterdir()) == [], "a refused command must not write anything"


@pytest.mark.parametrize("extra, words", [
    (["--cutoff", "99"], "--cutoff must be in 1..8"),
    (["--mix-seed", "1", "--mix-from", "8"], "--mix-from must be in 0..7"),
    (["--seeds", "0-2", "-o", "three.png"], "need a folder or a .npz"),
    (["-o", "x" * 300 + ".png"], "file name too long"),
])
def test_arguments_checked_against_the_model_or_the_disk(tiny_path, extra, words, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["sample", str(tiny_path), *extra]) == 2
    assert words in one_error_line(capsys)


def test_help_still_exits_0(capsys):
    assert main(["sample", "--help"]) == 0
    assert "--seed" in capsys.readouterr().out


@pytest.mark.parametrize("field, value", [("seed", -3), ("seed", 2**32), ("psi", float("nan"))])
def test_a_hand_edited_script_with_a_bad_seed_or_psi_is_one_line(field, value, tmp_path, capsys):
    script = {"format": "draggan-assistant-script", "version": 1, "seed": 1, "psi": 0.7, "edits": []}
    script[field] = value
    path = tmp_path / "s.json"
    path.write_text(json.dumps(script))
    assert main(["replay", str(path), "-o", str(tmp_path / "r.png")]) == 2
    assert field in one_error_line(capsys)
    assert not (tmp_path / "r.png").exists()


def test_bad_settings_in_a_script_are_one_line(tiny_path, tmp_path, capsys):
    edit = {"command": "x", "handles": [[1, 1]], "targets": [[3, 3]], "steps": 2, "settings": {"max_steps": "many"}}
    script = {"format": "draggan-assistant-script", "version": 1, "seed": 1, "psi": 0.7, "model": str(tiny_path),
              "edits": [edit]}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(script))
    assert main(["replay", str(path), "-o", str(tmp_path / "r.png")]) == 2
    assert "settings" in one_error_line(capsys)
