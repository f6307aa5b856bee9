"""Accuracy and speed of the command parser on a labelled set, per category, as one JSON object.

    python benchmarks/parser_accuracy.py --cases tests/data/parser_heldout_20261201.jsonl
    python benchmarks/parser_accuracy.py            # the project's own labelled set

Each command is parsed by a fresh parser state (no "last part" carried over), so a case never
depends on the one before it. Times are per parse after one warm-up pass (models loaded), on
`--threads` torch threads; the parser itself runs MiniLM on one thread. Grounded parses (on
scikit-image's astronaut, landmarks detected once per picture) and landmark detection are timed
too, because that is what the app does with a picture on screen.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from parsers import CommandParser  # noqa: E402
from tests.parser_labels import CASES_PATH, load_cases, mismatches  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def evaluate(parser: CommandParser, cases: list[dict]) -> dict:
    """Accuracy overall, per category and on the spoken subset; parse times after a warm-up pass."""
    def parse(text: str) -> dict:
        parser.reset_context()
        return parser.parse(text).to_json()

    for case in cases:
        parse(case["text"])
    times, failures = [], []
    by_category: dict[str, list[bool]] = defaultdict(list)
    for case in cases:
        t0 = time.perf_counter()
        got = parse(case["text"])
        times.append(time.perf_counter() - t0)
        bad = mismatches(case, got)
        by_category[case["category"]].append(not bad)
        if case["spoken"]:
            by_category["(spoken)"].append(not bad)
        if bad:
            failures.append({"text": case["text"], "category": case["category"], "wrong": bad,
                             "message": got.get("message")})
    n = len(cases)
    return {"cases": n, "accuracy": round(1 - len(failures) / n, 4),
            "per_category": {k: {"n": len(v), "accuracy": round(sum(v) / len(v), 4)}
                             for k, v in sorted(by_category.items())},
            "parse_mean_ms": round(1000 * statistics.mean(times), 2),
            "parse_p95_ms": round(1000 * percentile(times, 0.95), 2),
            "parse_max_ms": round(1000 * max(times), 2), "failures": failures}


def grounded_timing(parser: CommandParser, cases: list[dict]) -> dict:
    from skimage.data import astronaut

    image = astronaut()
    t0 = time.perf_counter()
    parser.landmarks(image[:, ::-1])
    first_ms = 1000 * (time.perf_counter() - t0)
    t0 = time.perf_counter()
    parser.landmarks(image)
    detect_ms = 1000 * (time.perf_counter() - t0)
    texts = [c["text"] for c in cases if c["expect"].get("command") == "drag" and "action" in c["expect"]][:200]
    times = []
    for text in texts:
        parser.reset_context()
        t0 = time.perf_counter()
        parser.parse(text, image)
        times.append(time.perf_counter() - t0)
    return {"landmark_first_detection_with_load_ms": round(first_ms, 2), "landmark_detection_ms": round(detect_ms, 2),
            "grounded_parse_mean_ms": round(1000 * statistics.mean(times), 2) if times else None,
            "grounded_parse_p95_ms": round(1000 * percentile(times, 0.95), 2) if times else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cases", type=Path, default=CASES_PATH)
    ap.add_argument("--no-grounding", action="store_true", help="skip the timings on a photograph")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cases = load_cases(args.cases)
    parser = CommandParser()
    t0 = time.perf_counter()
    parser.parse("open the mouth")
    load_s = time.perf_counter() - t0
    result = evaluate(parser, cases)
    report = {
        "benchmark": "parser_accuracy",
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(), "loadavg": [round(x, 2) for x in os.getloadavg()],
                    "python": platform.python_version()},
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "cases_file": str(args.cases), "model_load_and_first_parse_s": round(load_s, 2),
        **{k: v for k, v in result.items() if k != "failures"},
    }
    if not args.no_grounding:
        report["grounded"] = grounded_timing(parser, cases)
    report["failures"] = result["failures"]
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
