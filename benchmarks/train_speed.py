"""Training speed in images/s: a baseline like NVIDIA's run (batch 64, fp32, no extras) and the
project's fast settings, measured in the same run on the same machine.

    python benchmarks/train_speed.py                      # on a GPU: baseline vs bf16 + channels_last + fused Adam
    python benchmarks/train_speed.py --compile            # also a torch.compile variant
    python benchmarks/train_speed.py --device cpu --steps 3 --batches 8   # CPU smoke figure

Prints one JSON object. Speed does not depend on image content, so the data are random pixels.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from stylegan2.training import TrainConfig, Trainer, resolve_device


def measure(config: TrainConfig, images: np.ndarray, steps: int, warmup: int) -> dict:
    """images/s over `steps` training steps after `warmup` steps (compilation, cuDNN autotuning)."""
    trainer = Trainer(config, images)
    for _ in range(warmup):
        trainer.train_step()
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
    sync()
    t = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    sync()
    dt = time.perf_counter() - t
    out = {"batch": config.batch, "bf16": trainer.amp, "channels_last": trainer.channels_last,
           "fused_adam": bool(trainer.opt_G.defaults.get("fused")), "compile": config.compile, "steps": steps,
           "images_per_s": round(steps * config.batch / dt, 2), "s_per_kimg": round(dt / (steps * config.batch) * 1000, 3)}
    if trainer.device.type == "cuda":
        out["max_memory_GiB"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        torch.cuda.reset_peak_memory_stats()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--steps", type=int, default=None, help="timed steps (default 50 on GPU, 3 on CPU)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps (default 10 on GPU, 1 on CPU)")
    ap.add_argument("--batches", default=None, help="comma list of batch sizes for the fast settings "
                                                    "(default 128,256,512 on GPU, 16 on CPU)")
    ap.add_argument("--baseline-batch", type=int, default=None, help="default 64 on GPU (as NVIDIA's run), 8 on CPU")
    ap.add_argument("--compile", action="store_true", help="add torch.compile variants")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    steps = args.steps or (50 if cuda else 3)
    warmup = args.warmup if args.warmup is not None else (10 if cuda else 1)
    batches = [int(b) for b in (args.batches or ("128,256,512" if cuda else "16")).split(",")]
    images = np.random.default_rng(0).integers(0, 256, (1024, 64, 64, 3), dtype=np.uint8)
    base_batch = args.baseline_batch or (64 if cuda else 8)
    base = TrainConfig(device=str(device), batch=base_batch, amp="none", channels_last="off", fused_adam="off")
    base_name = f"baseline (batch {base_batch}, fp32, no extras)"
    runs = {base_name: measure(base, images, steps, warmup)}
    for b in batches:
        fast = TrainConfig(device=str(device), batch=b)
        runs[f"fast batch {b}"] = measure(fast, images, steps, warmup)
        if args.compile:
            comp = TrainConfig(device=str(device), batch=b, compile=True)
            runs[f"fast batch {b} + compile"] = measure(comp, images, steps, max(warmup, 3))
    baseline = runs[base_name]["images_per_s"]
    best = max(runs.values(), key=lambda r: r["images_per_s"])
    result = {
        "machine": platform.node(), "processor": platform.processor() or platform.machine(),
        "device": torch.cuda.get_device_name(device) if cuda else "cpu",
        "torch": torch.__version__, "threads": torch.get_num_threads(),
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
