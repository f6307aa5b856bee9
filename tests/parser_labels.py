"""Labelled command sets and how a parse is scored against them.

Two formats are read: the project's flat lines (`{"text", "command", "action", ...}`,
tests/data/parser_cases.jsonl) and the held-out format written by people who never saw the parser
(`{"text", "category", "expect": {...}, "spoken": bool}`). Both become `{"text", "category",
"spoken", "expect"}`, so the accuracy test and benchmarks/parser_accuracy.py count the same way.
"""

from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).parent / "data"
CASES_PATH = DATA / "parser_cases.jsonl"
HELDOUT_PATH = DATA / "parser_heldout_20261201.jsonl"
FIELDS = ("command", "action", "part", "side", "amount", "handles", "targets", "settings", "path")
POINT_TOLERANCE = 0.01


def _as_case(raw: dict) -> dict:
    expect = raw.get("expect") or {k: v for k, v in raw.items() if k in FIELDS}
    return {"text": raw["text"], "category": raw.get("category", "labelled"), "spoken": bool(raw.get("spoken")),
            "expect": expect}


def load_cases(path: Path = CASES_PATH) -> list[dict]:
    return [_as_case(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def _same(field: str, want, got) -> bool:
    if field in ("handles", "targets"):
        got = got or []
        return len(want) == len(got) and all(abs(float(a) - float(b)) <= POINT_TOLERANCE
                                             for p, q in zip(want, got) for a, b in zip(p, q))
    if field == "settings":
        got = got or {}
        return all(k in got and _same("value", v, got[k]) for k, v in want.items())
    if isinstance(want, float) or isinstance(got, float):
        return want is not None and got is not None and abs(float(want) - float(got)) <= 1e-6
    return want == got


def mismatches(case: dict, got: dict) -> list[str]:
    """'field: expected X, got Y' for every labelled field the parse got wrong."""
    expect = case["expect"]
    return [f"{f}: expected {expect[f]!r}, got {got.get(f)!r}" for f in FIELDS
            if f in expect and not _same(f, expect[f], got.get(f))]
