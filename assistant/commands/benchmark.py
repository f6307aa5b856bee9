"""`benchmark landmarks`: DragGAN's face-landmark accuracy (paper Table 1) on any checkpoint.

A command rather than a script in benchmarks/ because users run it on their own models. Progress
goes to stderr; the table (or with `--json` one JSON object) to stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import torch

from assistant import arg_types
from assistant.commands.model_report import load_any
from assistant.landmark_benchmark import BenchmarkError, LandmarkBenchmarkSettings, find_pairs, run_benchmark
from assistant.landmark_metrics import POINT_COUNTS
from assistant.landmarks68 import CELEBA_FALLBACK_BOX, Landmarks68
from draggan_core import DragConfig

QUICK = {"pairs": 4, "steps": 80}  # about 2 minutes on one busy core with the 64-px model


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("benchmark", help="measure the drag engine")
    kinds = p.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    lm = kinds.add_parser("landmarks", help="drag one face's 68 dlib landmarks onto another's (DragGAN Table 1)")
    lm.add_argument("--model", default=None, help="generator or training checkpoint (default: the embedded model)")
    lm.add_argument("--pairs", type=arg_types.positive_int, default=None,
                    help="face pairs to edit (default 100; --quick 4)")
    lm.add_argument("--points", type=int, nargs="+", choices=POINT_COUNTS, default=list(POINT_COUNTS),
                    help="landmarks dragged per edit (default: 1 5 68, each on every pair)")
    lm.add_argument("--steps", type=arg_types.int_range(1, 10_000, "the step budget"), default=None,
                    help="step budget per edit (default 200; --quick 80)")
    lm.add_argument("--quick", action="store_true", help="4 pairs, 80 steps: a few minutes on 2 CPU cores")
    lm.add_argument("--first-seed", type=arg_types.seed, default=0,
                    help="pairs use seeds FIRST+2k (source), FIRST+2k+1 (target)")
    lm.add_argument("--psi", type=arg_types.psi, default=0.7, help="truncation of the sampled faces (default 0.7)")
    lm.add_argument("--max-tries", type=arg_types.positive_int, default=None,
                    help="seed pairs tried at most (default 10 x pairs)")
    lm.add_argument("--stop-distance", type=arg_types.float_range(0.1, None, "the stop distance"), default=None,
                    help="stop when every handle is this close, px (default: the paper's 1 / 2 px at 512, "
                         "scaled, at least 1, or 0.1 with --set subpixel=true)")
    lm.add_argument("--fallback-box", action="store_true",
                    help="when dlib finds no face, predict the landmarks in the typical face box of the "
                         "CelebA framing instead of skipping the pair (for models still in training)")
    lm.add_argument("--upsample", type=arg_types.int_range(0, 4, "the upsampling"), default=0,
                    help="dlib HOG upsampling of the 256-px image (default 0)")
    lm.add_argument("--set", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                    help="a drag setting (DragConfig field), e.g. --set lr=0.004; repeatable")
    lm.add_argument("--official", action="store_true",
                    help="also run the official DragGAN setting on the same pairs (DragConfig.official at this "
                         "generator's feature block, same budget and stop rule)")
    lm.add_argument("--threads", type=arg_types.threads, default=1, help="torch CPU threads (default 1)")
    lm.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    lm.set_defaults(func=run)


def parse_value(text: str) -> bool | int | float | None:
    """A setting's value as typed: true/false, none, an integer or a number."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    try:
        return int(low)
    except ValueError:
        pass
    try:
        return float(low)
    except ValueError:
        raise BenchmarkError(f"setting value {text!r} is not a number, true/false or none") from None


def drag_config(settings: list[str]) -> DragConfig:
    """DragConfig() with the `NAME=VALUE` overrides (unknown names are a DragInputError), the
    stall test off unless set: the protocol runs each edit to its stop distance or budget, as the
    figures in docs/drag-core.md were measured (`--set stall_patience=40` measures the early stop)."""
    overrides = {}
    for item in settings:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise BenchmarkError(f"--set takes NAME=VALUE, got {item!r}")
        overrides[name.strip()] = parse_value(value)
    return DragConfig(stall_patience=None).with_overrides(**overrides)


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def official_config() -> DragConfig:
    """The official DragGAN setting at the generator's own feature block (block 5 where there is
    one; a 64-px generator has no 128-px block)."""
    return DragConfig.official(feature_block=None)


def format_table(results: list[dict]) -> str:
    lines = [f"{'points':>6} {'edits':>5} {'MD px':>7} {'no-edit':>7} {'MD@512':>7} {'no-edit@512':>11} "
             f"{'ratio':>6} {'paper':>6} {'tracked':>7} {'steps':>6} {'s/edit':>7} {'face':>5} {'floor':>6}"]
    for r in results:
        cells = [r["md_px"], r["no_edit_px"], r["md_512"], r["no_edit_512"], r["md_ratio"], r["paper_ratio"],
                 r["tracked_md_px"], r["steps_per_edit"], r["seconds_per_edit"], r["face_found"], r["floor_ratio"]]
        if any(math.isnan(c) for c in cells):
            lines.append(f"{r['points']:>6} {r['edits']:>5}  (no usable pair)")
            continue
        lines.append(f"{r['points']:>6} {r['edits']:>5} {cells[0]:7.2f} {cells[1]:7.2f} {cells[2]:7.2f} "
                     f"{cells[3]:11.2f} {cells[4]:6.2f} {cells[5]:6.2f} {cells[6]:7.2f} {cells[7]:6.1f} "
                     f"{cells[8]:7.2f} {cells[9]:5.0%} {cells[10]:6.2f}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    defaults = QUICK if args.quick else {"pairs": 100, "steps": 200}
    settings = LandmarkBenchmarkSettings(
        pairs=args.pairs if args.pairs is not None else defaults["pairs"],
        point_counts=tuple(dict.fromkeys(args.points)), first_seed=args.first_seed, psi=args.psi,
        max_steps=args.steps if args.steps is not None else defaults["steps"], max_tries=args.max_tries,
        stop_distance=args.stop_distance)
    config = drag_config(args.settings)
    if args.stop_distance is not None:
        config = config.with_overrides(stop_distance=args.stop_distance)  # refused here, before any model loads
    detector = Landmarks68(upsample=args.upsample, fallback_box=CELEBA_FALLBACK_BOX if args.fallback_box else None)
    G = load_any(args.model)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(max(1, args.threads))
    t0 = time.monotonic()
    try:
        found = find_pairs(G, detector, settings, progress)
        bench = run_benchmark(G, detector, settings, config, progress, found)
        official = run_benchmark(G, detector, settings, official_config(), progress, found) if args.official else None
    finally:
        torch.set_num_threads(threads_before)
    report = {"model": getattr(G, "source_path", args.model or "embedded"), **bench.to_json(),
              "fallback_box": list(CELEBA_FALLBACK_BOX) if args.fallback_box else None,
              "seconds": round(time.monotonic() - t0, 1), "threads": args.threads}
    if official is not None:
        report["official"] = {key: official.to_json()[key] for key in ("drag_config", "results", "edits")}
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    pairs = report["pairs"]
    print(f"model {report['model']} ({bench.resolution} px); pairs: {pairs['used']} used, "
          f"{pairs['skipped_no_face']} skipped (no face), {pairs['with_fallback_box']} with the fallback box")
    print(format_table(bench.summary()))
    if official is not None:
        print("official DragGAN setting, same pairs:")
        print(format_table(official.summary()))
    print(f"MD@512 = MD x 512/{bench.resolution}; ratio = MD / no-edit (paper: DragGAN on FFHQ-512); "
          f"tracked = where the tracker put the handles; face = edited pictures where dlib still finds a face; "
          f"floor = dlib's own MD when the source face only moves 1 px, over no-edit (the least ratio it can "
          f"report); {report['seconds']} s")
    return 0
