"""Accuracy and speed of the command parser on the labelled set, with two baselines from the same run.

    python benchmarks/parser_accuracy.py [--threads 2] [--cases tests/data/parser_cases.jsonl]

- `parser`: the product (grammar + rules + MiniLM fallback).
- `rules_only`: the same without MiniLM (what the embeddings add).
- `embedding_only`: grammar for explicit commands, then the nearest labelled example by MiniLM
  similarity alone (the approach the rules exist to correct: opposites, sides, negation).

Times are per parse after one warm-up pass over the whole set (models loaded, caches of the
embedding bank filled); text-only parses, plus parses grounded on scikit-image's astronaut with
its landmarks already detected (the parser detects once per picture), plus landmark detection
itself (the first call includes loading MediaPipe). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from parsers import Command, CommandParser  # noqa: E402
from parsers.grammar import parse_explicit  # noqa: E402
from tests.parser_labels import CASES_PATH, load_cases, mismatches  # noqa: E402


class EmbeddingOnly:
    """Baseline: nearest example's action and part, nothing else."""

    def __init__(self, full: CommandParser):
        self.matcher = full.matcher

    def parse(self, text: str) -> Command:
        explicit = parse_explicit(text) if text.strip() else None
        if explicit is not None:
            return explicit
        sim, ex = self.matcher.ranked(text or " ")[0]
        if sim < self.matcher.threshold or ex.action is None:
            return Command("unknown")
        return Command("drag", action=ex.action, part=ex.part, side="both" if ex.part in ("eyes", "eyebrows") else None)


def evaluate(parse, cases: list[dict]) -> dict:
    for case in cases:  # warm-up: models, bank embeddings, regex and typo caches
        parse(case["text"])
    times, wrong, wrong_ap = [], [], 0
    for case in cases:
        t0 = time.perf_counter()
        got = parse(case["text"]).to_json()
        times.append(time.perf_counter() - t0)
        bad = mismatches(case, got)
        if bad:
            wrong.append({"text": case["text"], "wrong": bad})
        if [b for b in bad if not b.startswith("side")]:
            wrong_ap += 1
    n = len(cases)
    return {"accuracy": round(1 - len(wrong) / n, 4), "accuracy_ignoring_side": round(1 - wrong_ap / n, 4),
            "mean_ms": round(1000 * statistics.mean(times), 2),
            "p95_ms": round(1000 * sorted(times)[int(0.95 * (n - 1))], 2),
            "max_ms": round(1000 * max(times), 2), "failures": wrong}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cases", type=Path, default=CASES_PATH)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cases = load_cases(args.cases)

    full = CommandParser()
    rules = CommandParser(use_embeddings=False)

    def fresh(parser):
        def parse(text):
            parser.last_part = None
            return parser.parse(text)
        return parse

    t0 = time.perf_counter()
    full.matcher.bank  # noqa: B018 -- loads MiniLM and embeds the example bank
    load_s = time.perf_counter() - t0
    results = {
        "parser": evaluate(fresh(full), cases),
        "rules_only": evaluate(fresh(rules), cases),
        "embedding_only": evaluate(EmbeddingOnly(full).parse, cases),
    }

    from skimage.data import astronaut

    image = astronaut()
    t0 = time.perf_counter()
    full.landmarks(image[:, ::-1])
    first_detect_ms = 1000 * (time.perf_counter() - t0)
    t0 = time.perf_counter()
    full.landmarks(image)
    detect_ms = 1000 * (time.perf_counter() - t0)
    grounded = [c["text"] for c in cases if c["command"] == "drag" and "action" in c]
    for text in grounded:
        full.parse(text, image)
    times = []
    for text in grounded:
        t0 = time.perf_counter()
        full.parse(text, image)
        times.append(time.perf_counter() - t0)
    print(json.dumps({
        "benchmark": "parser_accuracy",
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(), "python": platform.python_version()},
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cases": len(cases),
        "cases_file": str(args.cases),
        "minilm_load_and_bank_s": round(load_s, 2),
        "landmark_first_detection_with_load_ms": round(first_detect_ms, 2),
        "landmark_detection_ms": round(detect_ms, 2),
        "grounded_parse_mean_ms": round(1000 * statistics.mean(times), 2),
        **{name: {k: v for k, v in r.items() if k != "failures"} for name, r in results.items()},
        "failures": {name: r["failures"] for name, r in results.items()},
    }, indent=1))


if __name__ == "__main__":
    main()
