"""Training speed in images/s: a baseline like NVIDIA's run (batch 64, fp32, no extras) and the
project's fast settings, measured in the same run on the same machine.

    python benchmarks/train_speed.py                      # on a GPU: baseline vs bf16 + channels_last + fused Adam
    python benchmarks/train_speed.py --compile            # also a torch.compile variant
    python benchmarks/train_speed.py --device cpu --steps 3 --batches 8   # CPU smoke figure
    python benchmarks/train_speed.py --processes 1,8      # 8 GPUs: one process per GPU vs one in all
    python benchmarks/train_speed.py --device cpu --steps 3 --batches 8 --processes 1,2   # the overhead of 2
    python benchmarks/train_speed.py --device cpu --threads 1 --recipes   # the face-model recipes on this CPU

Prints one JSON object. Speed does not depend on image content, so the data are random pixels.
With N processes (torch.multiprocessing, one job as under torchrun) every batch is the global
batch, split N ways, and images/s counts the whole job; on a CPU the processes share the cores,
so the figure shows the cost of splitting, on N GPUs it shows the scaling.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from stylegan2.distributed import barrier, init_from_env, run_local, shutdown
from stylegan2.training import TrainConfig, Trainer, resolve_device


def measure(config: TrainConfig, images: np.ndarray, steps: int, warmup: int) -> dict:
    """images/s over `steps` training steps after `warmup` steps (compilation, cuDNN autotuning)."""
    trainer = Trainer(config, images)
    for _ in range(warmup):
        trainer.train_step()
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
    sync()
    barrier()
    t = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    sync()
    barrier()
    dt = time.perf_counter() - t
    out = {"batch": config.batch, "bf16": trainer.amp, "channels_last": trainer.channels_last,
           "fused_adam": bool(trainer.opt_G.defaults.get("fused")), "compile": config.compile, "steps": steps,
           "images_per_s": round(steps * config.batch / dt, 2), "s_per_kimg": round(dt / (steps * config.batch) * 1000, 3)}
    if trainer.device.type == "cuda":
        out["max_memory_GiB"] = round(torch.cuda.max_memory_allocated(trainer.device) / 2**30, 2)
        torch.cuda.reset_peak_memory_stats(trainer.device)
    return out


def _measure_in_job(config: TrainConfig, steps: int, warmup: int, threads: int, result: str) -> None:
    """One process of an N-process measurement; rank 0 writes the figures to `result`."""
    torch.set_num_threads(threads)
    job = init_from_env(resolve_device(config.device))
    try:
        out = measure(config, bench_images(), steps, warmup)
        if job.is_writer:
            Path(result).write_text(json.dumps({**out, "processes": job.world_size,
                                                "batch_per_process": config.batch // job.world_size}))
    finally:
        shutdown()


def measure_processes(config: TrainConfig, images: np.ndarray, processes: int, steps: int, warmup: int,
                      threads: int | None) -> dict:
    """`measure` in a job of `processes` local processes (one per GPU on CUDA), which make
    their own copy of `bench_images`."""
    if processes == 1:
        return measure(config, images, steps, warmup)
    threads = threads or max(1, (os.cpu_count() or 1) // processes)
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "rank0.json"
        run_local(_measure_in_job, processes, config, steps, warmup, threads, str(result))
        return json.loads(result.read_text())


# The face-model recipes compared on the CPU (docs/training.md): what the earlier placeholder was
# trained with, what the current CPU run uses, and the projected-discriminator pilot.
RECIPES = {
    "earlier placeholder: 4096/256, fp32, batch 16": dict(batch=16, amp="none"),
    "current CPU run: 1024/128, bf16, batch 16": dict(channel_base=1024, channel_max=128, batch=16, amp="bf16"),
    "projected-D pilot: 1024/128, bf16, batch 16": dict(channel_base=1024, channel_max=128, batch=16, amp="bf16",
                                                       discriminator="projected", lr=0.002),
}


def bench_images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (1024, 64, 64, 3), dtype=np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--steps", type=int, default=None, help="timed steps (default 50 on GPU, 3 on CPU)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps (default 10 on GPU, 1 on CPU)")
    ap.add_argument("--batches", default=None, help="comma list of batch sizes for the fast settings "
                                                    "(default 128,256,512 on GPU, 16 on CPU)")
    ap.add_argument("--baseline-batch", type=int, default=None, help="default 64 on GPU (as NVIDIA's run), 8 on CPU")
    ap.add_argument("--compile", action="store_true", help="add torch.compile variants")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads per process (default: all cores, shared out among N processes)")
    ap.add_argument("--recipes", action="store_true", help="also the face-model recipes (RECIPES), one process each")
    ap.add_argument("--processes", default="1",
                    help="comma list of process counts for the fast settings, e.g. 1,2 (one process per GPU)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    steps = args.steps or (50 if cuda else 3)
    warmup = args.warmup if args.warmup is not None else (10 if cuda else 1)
    batches = [int(b) for b in (args.batches or ("128,256,512" if cuda else "16")).split(",")]
    processes = [int(n) for n in args.processes.split(",")]
    if cuda and max(processes) > torch.cuda.device_count():
        ap.error(f"{max(processes)} processes need as many GPUs; this machine has {torch.cuda.device_count()}")
    images = bench_images()
    base_batch = args.baseline_batch or (64 if cuda else 8)
    base = TrainConfig(device=str(device), batch=base_batch, amp="none", channels_last="off", fused_adam="off")
    base_name = f"baseline (batch {base_batch}, fp32, no extras)"
    runs = {base_name: measure(base, images, steps, warmup)}
    device_name = "cuda" if cuda else str(device)  # each process of a job takes its own GPU
    for b in batches:
        for n in processes:
            name = f"fast batch {b}" + (f", {n} processes" if n > 1 else "")
            fast = TrainConfig(device=device_name if n > 1 else str(device), batch=b)
            runs[name] = measure_processes(fast, images, n, steps, warmup, args.threads)
            single = runs.get(f"fast batch {b}")
            if n > 1 and single:
                runs[name]["vs_1_process"] = round(runs[name]["images_per_s"] / single["images_per_s"], 2)
        if args.compile:
            comp = TrainConfig(device=str(device), batch=b, compile=True)
            runs[f"fast batch {b} + compile"] = measure(comp, images, steps, max(warmup, 3))
    if args.recipes:
        for name, settings in RECIPES.items():
            runs[name] = measure(TrainConfig(device=str(device), **settings), images, steps, warmup)
        old = runs[next(iter(RECIPES))]["images_per_s"]
        for name in RECIPES:
            runs[name]["vs_earlier_placeholder"] = round(runs[name]["images_per_s"] / old, 2)
    baseline = runs[base_name]["images_per_s"]
    best = max(runs.values(), key=lambda r: r["images_per_s"])
    result = {
        "machine": platform.node(), "processor": platform.processor() or platform.machine(),
        "device": torch.cuda.get_device_name(device) if cuda else "cpu",
        "torch": torch.__version__, "threads": torch.get_num_threads(), "processes": processes,
        "model": {k: v for k, v in TrainConfig().to_dict().items()
                  if k in ("resolution", "z_dim", "w_dim", "mapping_layers", "channel_base", "channel_max",
                           "augment", "r1_interval", "style_mixing")},
        "runs": runs,
        "baseline_images_per_s": baseline,
        "best_images_per_s": best["images_per_s"],
        "speedup_vs_baseline": round(best["images_per_s"] / baseline, 2),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
