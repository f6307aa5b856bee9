"""Which feature block should drive a drag at a given resolution? Evidence for the defaults.

For each candidate block (and step size), runs the same random drags on a small random-weight
generator and measures, besides steps and convergence, whether the *content* followed: the
handle's RGB patch from the original image is searched (least squares) in the edited image near
the handle's path, giving where the content really went. Tracking error = tracked point vs that
content point; content distance = content point vs target. Prints JSON.

    python benchmarks/drag_block_choice.py --resolution 64 --blocks 2 3 4
    python benchmarks/drag_block_choice.py --resolution 256 --blocks 4 5 6 --lrs 0.001 0.002 0.004
    python benchmarks/drag_block_choice.py --embedded --blocks 2 3 4
"""

from __future__ import annotations

import argparse
import json
import math
import statistics

import numpy as np
import torch
import torch.nn.functional as F

from draggan_core import DragConfig, DragSession
from stylegan2 import Generator, GeneratorConfig, default_model_path, load_generator


def random_generator(resolution: int, seed: int) -> Generator:
    """Random weights perturbed like the parity fixture's generator (non-zero noise and biases),
    so images have structure at every scale."""
    torch.manual_seed(seed)
    G = Generator(GeneratorConfig.from_dict({
        "z_dim": 64, "w_dim": 64, "img_resolution": resolution, "mapping_kwargs": {"num_layers": 2},
        "synthesis_kwargs": {"channel_base": 4096, "channel_max": 64, "num_fp16_res": 0, "conv_clamp": 256}}))
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):
                p.uniform_(0.05, 0.15)
            elif name.startswith("synthesis") and name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
            elif "torgb.weight" in name:
                p.mul_(0.35)
    return G.eval().requires_grad_(False)


def content_point(img0: torch.Tensor, img1: torch.Tensor, handle: tuple[int, int], target: tuple[int, int],
                  radius: int) -> tuple[int, int]:
    """Where the RGB patch around `handle` in img0 best matches img1, searched in the box around
    the handle-to-target segment."""
    res = img0.shape[-1]
    pad = F.pad(img0, [radius] * 4, mode="replicate")
    x, y = handle
    patch = pad[0, :, y:y + 2 * radius + 1, x:x + 2 * radius + 1]
    margin = max(3, res // 16)
    x0, x1 = max(min(x, target[0]) - margin, 0), min(max(x, target[0]) + margin, res - 1)
    y0, y1 = max(min(y, target[1]) - margin, 0), min(max(y, target[1]) + margin, res - 1)
    pad1 = F.pad(img1, [radius] * 4, mode="replicate")[0]
    best, where = math.inf, handle
    for cy in range(y0, y1 + 1):
        for cx in range(x0, x1 + 1):
            d = float((pad1[:, cy:cy + 2 * radius + 1, cx:cx + 2 * radius + 1] - patch).square().sum())
            if d < best:
                best, where = d, (cx, cy)
    return where


def drags(resolution: int, count: int, seed: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    rng = np.random.RandomState(seed)
    out = []
    for _ in range(count):
        h = tuple(int(v) for v in rng.randint(resolution // 4, 3 * resolution // 4, size=2))
        angle = rng.uniform(0, 2 * math.pi)
        length = rng.uniform(0.08, 0.14) * resolution
        t = (int(round(h[0] + length * math.cos(angle))), int(round(h[1] + length * math.sin(angle))))
        out.append((h, t))
    return out


def evaluate(G: Generator, block: int, lr: float, cases, budget: int, seeds: list[int]) -> dict:
    res = G.img_resolution
    patch_r = max(2, res // 32)
    stats = {"converged": 0, "steps": [], "tracked_dist": [], "content_dist": [], "tracking_error": [],
             "content_dist_start": []}
    for seed in seeds:
        for handle, target in cases:
            s = DragSession(G, G.ws_from_seed(seed), DragConfig(feature_block=block, lr=lr, max_steps=budget))
            img0 = s.image()
            s.start_drag([handle], [target])
            r = s.run()
            content = content_point(img0, s.image(), handle, target, patch_r)
            stats["converged"] += r.status == "converged"
            stats["steps"].append(r.steps)
            stats["tracked_dist"].append(r.distances[0])
            stats["content_dist"].append(math.dist(content, target))
            stats["content_dist_start"].append(math.dist(handle, target))
            stats["tracking_error"].append(math.dist(content, r.points[0]))
    n = len(stats["steps"])
    return {"block": block, "block_resolution": G.synthesis.blocks[block].resolution, "lr": lr, "drags": n,
            "converged": stats["converged"],
            **{f"median_{k}": round(statistics.median(v), 2) for k, v in stats.items() if isinstance(v, list)},
            **{f"mean_{k}": round(statistics.fmean(v), 2) for k, v in stats.items() if isinstance(v, list)}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolution", type=int, default=64, help="of the random generator")
    ap.add_argument("--embedded", action="store_true", help="use the embedded model instead of random weights")
    ap.add_argument("--blocks", type=int, nargs="+", default=[2, 3, 4])
    ap.add_argument("--lrs", type=float, nargs="+", default=None,
                    help="step sizes to try (default: DragConfig's for the generator's resolution)")
    ap.add_argument("--drags", type=int, default=4)
    ap.add_argument("--latents", type=int, default=2)
    ap.add_argument("--budget", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    G = load_generator(default_model_path()).eval().requires_grad_(False) if args.embedded else \
        random_generator(args.resolution, seed=0)
    cases = drags(G.img_resolution, args.drags, seed=1)
    lrs = args.lrs or [DragConfig().step_size(G.img_resolution)]
    results = [evaluate(G, b, lr, cases, args.budget, list(range(args.latents))) for b in args.blocks for lr in lrs]
    model = f"embedded {default_model_path().name}" if args.embedded else "random weights"
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "model": model,
                      "resolution": G.img_resolution,
                      "budget": args.budget, "results": results}, indent=1))


if __name__ == "__main__":
    main()
