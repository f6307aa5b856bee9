"""Command fuzzer: generated commands through `CommandParser.parse` and `Editor.apply`.

Random Unicode, very long strings, numbers in every format, partial and mixed commands and
out-of-range points go through the parser and then the editor on a tiny random generator. Two
things must never happen: an exception escaping `parse` or `apply`, and a rejected command
(an error outcome) leaving the editor's latent, history, points, settings or mask changed.

    python benchmarks/command_fuzz.py --examples 20000        # prints one JSON report

`tests/test_command_fuzz.py` runs the same strategies and checks with fewer examples.
"""

from __future__ import annotations

import argparse
import collections
import json
import platform
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

DRAG_STEPS = 2  # enough to exercise a whole drag (track, step, finish, history) on a tiny generator

# -- what to type ---------------------------------------------------------------------------------

NUMBERS = st.one_of(
    st.integers(0, 40).map(str),  # inside the tiny 32-px picture, or just off it
    st.integers(-10**12, 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(-1e3, 1e3, allow_nan=False).map(lambda f: f"{f:.3f}"),
    st.sampled_from(["0x1F", "1_000", "\u0661\u0662", "\uff11\uff12", "\u00bd", "\u00b2", "+3", "-0", ".5", "5.",
                     "1e3", "1e999", "-1e-9", "NaN", "\u221e", "\u22124", "12,5", "3/4", "one twenty", "eighty",
                     "9" * 400]),
)
IN_PICTURE = st.integers(0, 31).map(str) | st.floats(0, 31).map(lambda f: f"{f:.1f}")  # the tiny 32-px picture
SEPARATOR = st.sampled_from([",", ", ", " ", ";", "x"])
POINT = st.one_of(st.builds(lambda x, y, sep: f"{x}{sep}{y}", IN_PICTURE, IN_PICTURE, SEPARATOR),
                  st.builds(lambda x, y, sep: f"{x}{sep}{y}", NUMBERS, NUMBERS, SEPARATOR))
ARROW = st.sampled_from(["to", "->", "=>", "\u2192", "into", "towards", "", "to to"])
DRAG = st.builds(lambda verb, a, arrow, b: f"{verb} {a} {arrow} {b}".strip(),
                 st.sampled_from(["drag", "move", "from", "", "pull", "drag the point at"]), POINT, ARROW, POINT)
CHAIN = st.lists(DRAG, min_size=1, max_size=4).map(" and ".join)
SETTING = st.builds(lambda key, value: f"{key} {value}",
                    st.sampled_from(["steps", "set steps to", "iterations", "lr", "learning rate", "use", "mask",
                                     "mask the", "only edit", "switch to"]),
                    st.one_of(NUMBERS, st.sampled_from(["w", "w+", "mouth", "eyes", "everything", "", "w plus"])))
POINTS = st.builds(lambda kind, pts: f"{kind} " + " ".join(pts),
                   st.sampled_from(["points", "handles", "targets", "handle at", "target"]),
                   st.lists(POINT, max_size=5))
VERB = st.sampled_from(["undo", "redo", "reset", "cancel", "help", "quit", "history", "save", "no mask",
                        "clear points", "more", "less", "stop", "save it as", "undo undo", "start over", "?"])
INTENT = st.builds(lambda *words: " ".join(w for w in words if w),
                   st.sampled_from(["", "please", "could you", "um", "now"]),
                   st.sampled_from(["open", "close", "raise", "lower", "move", "turn", "smile", "widen", "shrink",
                                    "make", "push", "pull", "frown", "lift"]),
                   st.sampled_from(["the", "her", "his", "its", "", "their"]),
                   st.sampled_from(["", "left", "right", "upper", "lower"]),
                   st.sampled_from(["mouth", "lips", "eyes", "eye", "eyebrows", "nose", "chin", "jaw", "face", "head",
                                    "hair", "ear", "cat", "it", "mouth corners"]),
                   st.sampled_from(["", "a lot", "slightly", "a bit", "up", "down", "by 5 px", "by -3 pixels",
                                    "wider", "more", "to the left"]))
SAVE = st.builds(lambda name: f"save {name}", st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20),
    st.sampled_from([".", "..", "/", "x" * 300 + ".png", "out.png", "a/b/c.png", "~/x.png", "nul\x00.png"])))
RANDOM_TEXT = st.text(max_size=80)
LONG_TEXT = st.one_of(st.text(min_size=290, max_size=320),  # about the parser's 300-character limit; longer by repeats
                      st.builds(lambda s, n: s * n, st.sampled_from(["drag 1,1 to 2,2 and ", "a", "open the mouth ",
                                                                     "1,", "\u0301"]), st.integers(20, 400)))
MIXED = st.lists(st.one_of(DRAG, SETTING, POINTS, VERB, INTENT, RANDOM_TEXT), min_size=2, max_size=4).map(" ".join)
# Drags and session verbs twice: they are what changes the editor's state, so what the checks test.
COMMANDS = st.one_of(DRAG, DRAG, CHAIN, SETTING, POINTS, VERB, VERB, INTENT, SAVE, RANDOM_TEXT, LONG_TEXT, MIXED)
FREE_TEXT = st.one_of(INTENT, RANDOM_TEXT, MIXED, LONG_TEXT)  # what reaches the MiniLM intent model
# Hypothesis never repeats an example, so a lone 'undo' is tried once; in sequences the session
# verbs come back after all kinds of drags, settings and rejections.
SEQUENCES = st.lists(st.one_of(st.sampled_from(["undo", "redo", "reset", "drag 5,5 to 20,12"]), COMMANDS),
                     min_size=1, max_size=6)

FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.floats(-5, 40)
RAW_POINTS = st.lists(st.tuples(FLOATS, FLOATS), max_size=3)


def raw_commands():
    """`Command`s built directly, not by the parser: the editor's own guards against bad points."""
    from parsers.command import Command

    return st.builds(lambda kind, hs, ts: Command(kind, handles=hs, targets=ts, message="fuzz"),
                     st.sampled_from(["drag", "points"]), RAW_POINTS, RAW_POINTS)


# -- the editor and its state -----------------------------------------------------------------------

def tiny_editor():
    """An editor on a few-thousand-parameter random generator (tests.conftest's), no autosave,
    with a step size that changes pixels within DRAG_STEPS steps (else most drags would be
    rejected as changing nothing, and accepted edits, undo and redo would go untested)."""
    from assistant.editor import Editor
    from draggan_core import DragConfig
    from stylegan2 import Generator, GeneratorConfig

    torch.manual_seed(0)
    cfg = GeneratorConfig.from_dict({"z_dim": 16, "w_dim": 16, "img_resolution": 32,
                                     "mapping_kwargs": {"num_layers": 2},
                                     "synthesis_kwargs": {"channel_base": 256, "channel_max": 16}})
    G = Generator(cfg).eval().requires_grad_(False)
    return Editor(G, 0, config=DragConfig(lr=0.05, max_steps=DRAG_STEPS), keep_session=False)


def editor_state(editor) -> tuple:
    """Everything a rejected command must leave as it was."""
    history = editor.session.history
    return (editor.session.ws.clone(), history.position, tuple(id(e) for e in history.edits),
            tuple(editor.pending.handles), tuple(editor.pending.targets), editor.config,
            json.dumps(editor.mask_region, sort_keys=True))


def same_state(a: tuple, b: tuple) -> bool:
    return torch.equal(a[0], b[0]) and a[1:] == b[1:]


def safe_save_path(path: str | None, folder: Path) -> str:
    """Generated save paths stay inside `folder`: the fuzzer runs as whoever runs it."""
    name = Path(str(path or "")).name or "unnamed"
    return str(folder / name)


@dataclass
class Applied:
    kind: str
    rejected: bool
    changed_after_rejection: bool


def apply_checked(editor, command, text: str, save_dir: Path) -> Applied:
    """Apply one parsed (or built) command and say whether a rejection changed the state."""
    if command.command == "save":
        command.path = safe_save_path(command.path, save_dir)
    editor.config = editor.config.with_overrides(max_steps=min(editor.config.max_steps, DRAG_STEPS))
    before = editor_state(editor)
    outcome = editor.apply(command, text=text)
    changed = outcome.error and not same_state(before, editor_state(editor))
    return Applied(command.command, outcome.error, changed)


def rules_parser(landmarker=None):
    """The parser without its MiniLM intent model: grammar, rules and grounding, fast enough for
    many examples."""
    from parsers import CommandParser

    return CommandParser(use_model=False, landmarker=landmarker)


# -- the report -------------------------------------------------------------------------------------

@dataclass
class Tally:
    """One stage's counts: commands tried, outcomes per command kind, and what went wrong."""

    tried: int = 0
    uncaught: int = 0
    changed_after_rejection: int = 0
    outcomes: dict[str, collections.Counter] = field(default_factory=lambda: collections.defaultdict(collections.Counter))
    failures: list[dict[str, str]] = field(default_factory=list)

    def fail(self, text: str, exc: BaseException) -> None:
        self.uncaught += 1
        if len(self.failures) < 10:
            self.failures.append({"command": text[:200], "error": "".join(traceback.format_exception_only(exc)).strip()})

    def to_json(self) -> dict[str, Any]:
        return {"commands_tried": self.tried, "uncaught_exceptions": self.uncaught,
                "state_changes_after_rejection": self.changed_after_rejection,
                "outcomes": {k: dict(v) for k, v in sorted(self.outcomes.items())}, "failures": self.failures}


def fuzz(strategy, examples: int, step, tally: Tally) -> None:
    """Run `step(value)` on `examples` values of `strategy`, counting instead of failing."""

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(value) -> None:
        try:
            step(value)
        except Exception as exc:  # counted and reported: the point of the fuzzer
            tally.fail(str(value), exc)

    run()


def main() -> int:
    sys.path.insert(0, str(Path(__file__).parent))
    from _machine import cpu_name

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=20_000, help="commands through the parser without its intent model")
    ap.add_argument("--minilm-examples", type=int, default=1_000, help="free text through the full parser")
    ap.add_argument("--apply-examples", type=int, default=1_500,
                    help="sequences of 1-6 commands parsed and applied to the editor, one after another")
    ap.add_argument("--raw-examples", type=int, default=1_000, help="built Commands with arbitrary points, applied")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from parsers import CommandParser

    editor = tiny_editor()
    editor.parser = rules_parser()
    picture = editor.image()
    full = CommandParser(landmarker=editor.parser.landmarker)
    stages: dict[str, Tally] = {name: Tally() for name in ("parse", "parse_minilm", "apply", "apply_raw")}
    seconds: dict[str, float] = {}

    def parse_only(parser, tally: Tally):
        def step(text: str) -> None:
            tally.tried += 1
            tally.outcomes["parse"][parser.parse(text, picture).command] += 1
        return step

    with tempfile.TemporaryDirectory() as tmp:
        def through_editor(tally: Tally):
            def step(values) -> None:
                for value in values if isinstance(values, list) else [values]:
                    tally.tried += 1
                    command, text = (editor.parse(value), value) if isinstance(value, str) else (value, "")
                    result = apply_checked(editor, command, text, Path(tmp))
                    tally.outcomes[result.kind]["rejected" if result.rejected else "accepted"] += 1
                    tally.changed_after_rejection += result.changed_after_rejection
            return step

        plan = [("parse", COMMANDS, args.examples, parse_only(editor.parser, stages["parse"])),
                ("parse_minilm", FREE_TEXT, args.minilm_examples, parse_only(full, stages["parse_minilm"])),
                ("apply", SEQUENCES, args.apply_examples, through_editor(stages["apply"])),
                ("apply_raw", raw_commands(), args.raw_examples, through_editor(stages["apply_raw"]))]
        for name, strategy, n, step in plan:
            t0 = time.perf_counter()
            fuzz(strategy, n, step, stages[name])
            seconds[name] = round(time.perf_counter() - t0, 1)
    total = sum(t.tried for t in stages.values())
    report = {"benchmark": "command_fuzz", "commands_tried": total,
              "uncaught_exceptions": sum(t.uncaught for t in stages.values()),
              "state_changes_after_rejection": sum(t.changed_after_rejection for t in stages.values()),
              "stages": {name: {**t.to_json(), "seconds": seconds[name]} for name, t in stages.items()},
              "drag_steps": DRAG_STEPS,
              "machine": {"cpu": cpu_name(), "threads": args.threads, "python": platform.python_version(),
                          "torch": torch.__version__}}
    print(json.dumps(report, indent=1))
    return 0 if report["uncaught_exceptions"] == 0 and report["state_changes_after_rejection"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
