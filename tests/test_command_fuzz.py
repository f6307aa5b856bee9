"""Generated commands through the parser and the editor: no exception escapes, and a rejected
command changes nothing (issue 16). The strategies live in benchmarks/command_fuzz.py, which runs
the same checks with more examples and prints the counts."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from benchmarks.command_fuzz import (COMMANDS, FREE_TEXT, SEQUENCES, apply_checked, raw_commands, rules_parser,
                                     tiny_editor)

pytestmark = pytest.mark.usefixtures("one_thread")
FUZZ = settings(deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def editor():
    editor = tiny_editor()
    editor.parser = rules_parser()
    return editor


@pytest.fixture(scope="module")
def picture(editor):
    return editor.image()


@pytest.fixture(scope="module")
def minilm_parser(editor):
    from parsers import CommandParser

    return CommandParser(landmarker=editor.parser.landmarker)


@pytest.fixture(scope="module")
def save_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz-saves")


@settings(FUZZ, max_examples=10_000)
@given(text=COMMANDS)
def test_ten_thousand_commands_parse_without_an_exception(editor, picture, text):
    """And no point outside the picture (or not a number) gets past the parser."""
    command = editor.parser.parse(text, picture)
    h, w = picture.shape[:2]
    assert all(0 <= x <= w - 1 and 0 <= y <= h - 1 for x, y in command.handles + command.targets), command


@settings(FUZZ, max_examples=300)
@given(text=FREE_TEXT)
def test_free_text_through_minilm_never_raises(minilm_parser, picture, text):
    minilm_parser.parse(text, picture)


@settings(FUZZ, max_examples=200)
@given(texts=SEQUENCES)
def test_applied_commands_never_raise_and_rejections_change_nothing(editor, save_dir, texts):
    """Sequences of 1-6 commands (about 700 in all), one editor throughout: undo and redo meet
    every kind of edit and rejection."""
    for text in texts:
        result = apply_checked(editor, editor.parse(text), text, save_dir)
        assert not result.changed_after_rejection, f"{text!r} was rejected but changed the editor's state"


@settings(FUZZ, max_examples=300)
@given(command=raw_commands())
def test_built_commands_with_any_points_are_refused_cleanly(editor, save_dir, command):
    result = apply_checked(editor, command, "", save_dir)
    assert not result.changed_after_rejection
