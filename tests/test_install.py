"""`./install.sh --dev` brings the Debian programs the tests run (issue 16, item 5): the helper is
run here against stub programs on an otherwise empty PATH, so nothing is installed for real."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HELPER = REPO / "tools" / "install-debian-packages.sh"
PACKAGE_OF = {"soxi": "sox"}  # programs that come in a package of another name


def stub(folder: Path, name: str, script: str = "exit 0") -> None:
    path = folder / name
    path.write_text(f"#!/bin/bash\n{script}\n")
    path.chmod(0o755)


def run_helper(bin_dir: Path, *packages: str) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/bash", str(HELPER), *packages], env={"PATH": str(bin_dir)},
                          capture_output=True, text=True, timeout=60)


@pytest.fixture()
def bin_dir(tmp_path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    stub(folder, "apt-get", f'echo "$*" >> {tmp_path / "apt.log"}')
    return folder


def test_install_dev_installs_every_debian_program_the_tests_run():
    used = set(re.findall(r'_tool\("([\w-]+)"\)', (REPO / "tests" / "speech_audio.py").read_text()))
    used |= set(re.findall(r'shutil\.which\("([\w-]+)"\)', (REPO / "tests" / "test_tui.py").read_text()))
    line = re.search(r"tools/install-debian-packages\.sh ([\w -]+)", (REPO / "install.sh").read_text())
    assert line, "install.sh --dev must call tools/install-debian-packages.sh"
    assert {PACKAGE_OF.get(name, name) for name in used} <= set(line.group(1).split())
    assert "apt-get" not in (REPO / ".ci" / "run").read_text(), ".ci/run installs through install.sh only"


def test_as_root_the_missing_packages_are_installed_with_apt(bin_dir, tmp_path):
    stub(bin_dir, "id", "echo 0")
    stub(bin_dir, "sox")  # already there: not asked for
    done = run_helper(bin_dir, "espeak-ng", "sox")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "apt.log").read_text().splitlines() == ["update -qq", "install -y -qq espeak-ng"]


def test_without_root_sudo_is_used_when_it_needs_no_password(bin_dir, tmp_path):
    stub(bin_dir, "id", "echo 1000")
    stub(bin_dir, "sudo", f'[ "$1" = -n ] && shift; [ "$1" = true ] && exit 0; echo "sudo $*" >> {tmp_path / "apt.log"}')
    assert run_helper(bin_dir, "espeak-ng", "sox").returncode == 0
    assert (tmp_path / "apt.log").read_text().splitlines() == ["sudo apt-get update -qq",
                                                                "sudo apt-get install -y -qq espeak-ng sox"]


def test_without_root_or_sudo_it_says_what_to_install(bin_dir, tmp_path):
    stub(bin_dir, "id", "echo 1000")
    done = run_helper(bin_dir, "espeak-ng", "sox")
    assert done.returncode == 1 and "sudo apt-get install espeak-ng sox" in done.stderr
    assert not (tmp_path / "apt.log").exists()


def test_without_apt_it_says_so(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    done = run_helper(empty, "espeak-ng")
    assert done.returncode == 1 and "no apt-get" in done.stderr and "espeak-ng" in done.stderr


def test_nothing_to_do_when_the_programs_are_there(bin_dir, tmp_path):
    stub(bin_dir, "espeak-ng")
    stub(bin_dir, "sox")
    assert run_helper(bin_dir, "espeak-ng", "sox").returncode == 0
    assert not (tmp_path / "apt.log").exists()
