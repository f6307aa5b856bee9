"""Checkpoint fuzzing at scale: mutations of valid checkpoints in every supported format, one report.

    python benchmarks/checkpoint_fuzz.py                            # 10,000 mutations, seed 0
    python benchmarks/checkpoint_fuzz.py --mutations 50000 --seed 7

Uses the CI test's mutations, oracle and payloads (tests/checkpoint_mutations.py,
tests/hostile_pickles.py): every hostile, structural and format-confusion case once,
--config-per-base random config values per base file, and byte damage for the rest. Prints one
JSON object with the counts per format and per kind; "failures" (a load with other tensors than
the file holds, a message of more than one line, any other exception, code that ran) must be 0,
and the first ones are listed. Exits with status 1 if there are any.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _machine import cpu_name  # noqa: E402
from tests.checkpoint_mutations import FAILURES, OUTCOMES, Report, build_corpus, run  # noqa: E402
from tests.hostile_pickles import payloads  # noqa: E402


def counts(groups: dict, key=lambda name: name) -> dict:
    """{group: {"tried": n, outcome: n, ...}} with groups merged by `key`, outcomes that occurred only."""
    merged: dict = {}
    for name, counter in groups.items():
        merged.setdefault(key(name), []).append(counter)
    out = {}
    for name, counters in sorted(merged.items()):
        total = sum(counters, start=type(counters[0])())
        out[name] = {"tried": sum(total.values()), **{o: total[o] for o in OUTCOMES if total[o]}}
    return out


def report_json(report: Report, args: argparse.Namespace, seconds: float) -> dict:
    outcomes = report.outcomes()
    return {
        "command": " ".join(["python", "benchmarks/checkpoint_fuzz.py", *sys.argv[1:]]),
        "mutations": report.total,
        "seed": args.seed,
        "seconds": round(seconds, 1),
        "outcomes": {o: outcomes[o] for o in OUTCOMES},
        "failures": sum(outcomes[o] for o in FAILURES),
        "payloads": {"kinds": len(payloads(Path("m"))), "running_code_under_plain_pickle": sum(
            p.real for p in payloads(Path("m")))},
        "by_format": counts(report.by_format),
        "by_family": counts(report.by_kind, lambda kind: kind.split(":")[0]),
        "by_kind": counts(report.by_kind),
        "first_failures": report.failures[:20],
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "threads": torch.get_num_threads(),
                    "python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
                    "platform": platform.platform()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mutations", type=int, default=10_000, help="total mutations (at least the fixed cases)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--config-per-base", type=int, default=100, help="random config values per base file")
    args = ap.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # torch warns about some mutated files; the outcomes are what counts
    with tempfile.TemporaryDirectory() as tmp:
        corpus = build_corpus(Path(tmp), args.seed)
        start = time.perf_counter()
        report = run(corpus, Path(tmp), args.mutations, args.seed, args.config_per_base)
        seconds = time.perf_counter() - start
    result = report_json(report, args, seconds)
    print(json.dumps(result, indent=1))
    sys.exit(1 if result["failures"] else 0)


if __name__ == "__main__":
    main()
