"""`doctor` names the generator it would load and never calls a download 'ok' (issue 16, item 6)."""

from __future__ import annotations

import json

from assistant.cli import main
from stylegan2 import default_model_path


def test_doctor_reports_the_generator_it_would_load(capsys, monkeypatch):
    monkeypatch.delenv("DRAGGAN_MODEL", raising=False)
    assert main(["doctor", "--json"]) == 0
    g = json.loads(capsys.readouterr().out)["generator"]
    assert g["path"] == str(default_model_path()) and g["exists"] and g["embedded"]
    assert g["resolution"] == 64 and g["kimg"] > 0
    assert main(["doctor"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("generator: ") and "64x64 px" in first and "placeholder" in first and "kimg" in first


def test_doctor_on_another_checkpoint(tiny_path, capsys, monkeypatch):
    monkeypatch.setenv("DRAGGAN_MODEL", str(tiny_path))
    assert main(["doctor", "--json"]) == 0
    g = json.loads(capsys.readouterr().out)["generator"]
    assert (g["path"], g["embedded"], g["resolution"]) == (str(tiny_path), False, 32)
    assert main(["doctor", "--json", "--model", str(tiny_path.parent / "missing.safetensors")]) == 0
    assert json.loads(capsys.readouterr().out)["generator"]["note"] == "no such file"


def test_a_whisper_download_is_never_called_ok(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert main(["doctor"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "download:" in line]
    assert lines and all("needs the internet" in line and not line.strip().startswith("ok") for line in lines)
