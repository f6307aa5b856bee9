"""The labelled command set (tests/data/parser_cases.jsonl) and how a parse is scored against it.

Shared by the accuracy test and benchmarks/parser_accuracy.py so both count the same way.
"""

from __future__ import annotations

import json
from pathlib import Path

CASES_PATH = Path(__file__).parent / "data" / "parser_cases.jsonl"
FIELDS = ("command", "action", "part", "side")


def load_cases(path: Path = CASES_PATH) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def mismatches(case: dict, got: dict) -> list[str]:
    """'field: expected X, got Y' for every labelled field the parse got wrong."""
    return [f"{f}: expected {case[f]!r}, got {got.get(f)!r}" for f in FIELDS if f in case and got.get(f) != case[f]]
