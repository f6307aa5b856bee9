"""Drag speed: the official per-step loop against DragSession, in one run, on the same drag.

Prints one JSON object. Per step: the official iteration (full synthesis, full-size resize,
`grid_sample`) and the session in the official compatibility setting are stepped alternately
from the same latent on the same handles, so CPU contention hits both alike; their tracked points
must agree at every step. Per edit: steps to converge with the official defaults (lr 1e-3) --
counted on the compatibility session, whose trajectory is the official one -- times the
official seconds per step, against a real run of the session's defaults. Peak memory: two
steps of each loop, each in a fresh process. Below 256 px (the embedded model) the official code
cannot run unchanged (there is no block 5 and its motion radius rounds to 0), so both loops use
the session's default block and minimum radii there.

    python benchmarks/drag_speed.py                  # FFHQ-512 config, random weights
    python benchmarks/drag_speed.py --model embedded # stylegan2/weights/celeba64.safetensors
    python benchmarks/drag_speed.py --steps 3 --budget 150 --threads 1 --mask-steps 2
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from draggan_core import DragConfig, DragSession, default_feature_block
from draggan_core.config import OFFICIAL_FEATURE_BLOCK
from draggan_core.official import OfficialDragLoop
from stylegan2 import Generator, GeneratorConfig, default_model_path, load_generator

FFHQ512 = {"z_dim": 512, "w_dim": 512, "img_resolution": 512, "mapping_kwargs": {"num_layers": 8},
           "synthesis_kwargs": {"channel_base": 32768, "channel_max": 512, "num_fp16_res": 4, "conv_clamp": 256}}


def build(model: str) -> tuple[str, Generator]:
    if model == "ffhq512":
        torch.manual_seed(0)
        return "FFHQ-512 config, random weights", Generator(GeneratorConfig.from_dict(FFHQ512)).eval()
    path = default_model_path()
    return f"embedded model {path.name}", load_generator(path).eval()


def drag_points(res: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Two handles moved about 6% of the image width, fixed per resolution."""
    s = res / 512
    handles = [(round(200 * s), round(260 * s)), (round(330 * s), round(250 * s))]
    targets = [(round(224 * s), round(236 * s)), (round(310 * s), round(280 * s))]
    return handles, targets


def editable_disks(res: int, handles) -> np.ndarray:
    """True (may change) within 15% of the image size of each handle, like the fixture's mask."""
    yy, xx = np.mgrid[0:res, 0:res]
    return np.any([(xx - x) ** 2 + (yy - y) ** 2 <= (0.15 * res) ** 2 for x, y in handles], axis=0)


def compat_settings(G: Generator) -> tuple[DragConfig, dict]:
    """The compatibility config and the matching official-loop arguments. Below 256 px the
    official code cannot run as it is (no block 5; a motion radius that rounds to 0), so there
    both use the session's default block and minimum pixel radii, everything else official."""
    num_blocks = len(G.synthesis.blocks)
    block = OFFICIAL_FEATURE_BLOCK if num_blocks > OFFICIAL_FEATURE_BLOCK + 1 else default_feature_block(num_blocks)
    config = DragConfig.official(feature_block=block)
    radii = config.radii(G.img_resolution)
    scale = 512 / G.img_resolution
    return config, {"feature_idx": block, "r1": radii.motion * scale, "r2": radii.tracking * scale}


def official_loop(G: Generator, ws: torch.Tensor, handles, targets, fixed: torch.Tensor | None = None):
    return OfficialDragLoop(G, ws, [[y, x] for x, y in handles], [[y, x] for x, y in targets], lr=1e-3,
                            fixed_mask=fixed, **compat_settings(G)[1])


def per_step(G: Generator, ws: torch.Tensor, handles, targets, steps: int, masked: bool = False) -> dict:
    mask = editable_disks(G.img_resolution, handles) if masked else None
    fixed = torch.from_numpy((~mask).astype(np.float32)) if masked else None
    official = official_loop(G, ws, handles, targets, fixed)
    session = DragSession(G, ws, compat_settings(G)[0])
    session.start_drag(handles, targets, mask=mask)
    t_off, t_ses, identical = [], [], True
    for i in range(steps + 1):
        t0 = time.perf_counter()
        it = official.iterate()
        t1 = time.perf_counter()
        res = session.step()
        t2 = time.perf_counter()
        if i:  # the first step of each is a warm-up
            t_off.append(t1 - t0)
            t_ses.append(t2 - t1)
        identical &= res.points == [(x, y) for y, x in it.points]
    ws_diff = float((official.ws - session.ws).abs().max())
    off, ses = statistics.median(t_off), statistics.median(t_ses)
    return {"steps_timed": steps, "official_s_per_step": round(off, 4), "session_s_per_step": round(ses, 4),
            "ratio": round(off / ses, 2), "identical_points_every_step": identical, "max_abs_ws_diff": ws_diff}


def _vm_hwm_kb() -> int:
    """This process's peak resident set (Linux VmHWM; unlike ru_maxrss it starts afresh at exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def _peak_rss_child(model: str, which: str, threads: int, seed: int, queue) -> None:
    torch.set_num_threads(threads)
    _, G = build(model)
    G.requires_grad_(False)
    ws = G.ws_from_seed(seed, 0.7)
    handles, targets = drag_points(G.img_resolution)
    before = _vm_hwm_kb()
    if which == "official":
        loop = official_loop(G, ws, handles, targets)
        for _ in range(2):
            loop.iterate()
    else:
        session = DragSession(G, ws, compat_settings(G)[0])
        session.start_drag(handles, targets)
        for _ in range(2):
            session.step()
    after = _vm_hwm_kb()
    queue.put((round(after / 1024, 1), round((after - before) / 1024, 1)))


def peak_memory(model: str, threads: int, seed: int) -> dict:
    """Peak RSS of two steps, each loop in a fresh process (so neither inherits the other's heap)."""
    ctx = multiprocessing.get_context("spawn")
    out = {}
    for which in ("official", "session"):
        queue = ctx.Queue()
        proc = ctx.Process(target=_peak_rss_child, args=(model, which, threads, seed, queue))
        proc.start()
        total, extra = queue.get()
        proc.join()
        out[f"{which}_peak_rss_mb"] = total
        out[f"{which}_peak_above_model_mb"] = extra
    return out


def per_edit(G: Generator, ws: torch.Tensor, handles, targets, budget: int, official_s_per_step: float) -> dict:
    compat = DragSession(G, ws, compat_settings(G)[0])
    compat.start_drag(handles, targets)
    off = compat.run(max_steps=budget)
    fast = DragSession(G, ws, DragConfig())
    fast.start_drag(handles, targets)
    ses = fast.run(max_steps=budget)
    official_seconds = off.steps * official_s_per_step
    return {"budget": budget,
            "official_defaults": {"status": off.status, "steps": off.steps, "final_max_distance": max(off.distances),
                                  "seconds_estimated": round(official_seconds, 2),
                                  "compat_session_seconds": round(off.seconds, 2)},
            "session_defaults": {"status": ses.status, "steps": ses.steps, "final_max_distance": max(ses.distances),
                                 "seconds": round(ses.seconds, 2),
                                 "lr": DragConfig().step_size(G.img_resolution)},
            "seconds_ratio": round(official_seconds / ses.seconds, 2) if ses.seconds else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["ffhq512", "embedded"], default="ffhq512")
    ap.add_argument("--steps", type=int, default=5, help="timed steps per loop (after one warm-up)")
    ap.add_argument("--budget", type=int, default=300, help="step budget for the per-edit comparison")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-edit", action="store_true", help="only the per-step and memory figures")
    ap.add_argument("--mask-steps", type=int, default=0,
                    help="also time this many steps with a mask (the mask term needs the full feature map)")
    args = ap.parse_args()
    if args.model == "embedded" and not default_model_path().is_file():
        raise SystemExit(f"no embedded model at {default_model_path()}")
    torch.set_num_threads(args.threads)
    name, G = build(args.model)
    G.requires_grad_(False)
    ws = G.ws_from_seed(args.seed, 0.7)
    handles, targets = drag_points(G.img_resolution)
    report = {"machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                          "cpu_count": os.cpu_count()},
              "torch": torch.__version__, "threads": torch.get_num_threads(), "model": name,
              "resolution": G.img_resolution, "handles_xy": handles, "targets_xy": targets}
    report["per_step"] = per_step(G, ws, handles, targets, args.steps)
    if args.mask_steps:
        report["per_step_with_mask"] = per_step(G, ws, handles, targets, args.mask_steps, masked=True)
    report["memory"] = peak_memory(args.model, args.threads, args.seed)
    if not args.skip_edit:
        report["per_edit"] = per_edit(G, ws, handles, targets, args.budget, report["per_step"]["official_s_per_step"])
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
