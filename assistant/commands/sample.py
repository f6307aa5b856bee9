"""`sample`: images from seeds, with truncation and style mixing.

Many seeds go to a folder of PNGs or a uint8 N x H x W x 3 `.npz` (what face_fd.py reads).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from assistant import arg_types
from assistant.arg_types import SEED_MAX, UsageError, check_index
from stylegan2 import load_generator
from stylegan2.imaging import to_uint8

MAX_SEEDS = 100_000  # a run's images are held in memory for the .npz; more is a typo, not a plan


def parse_seeds(text: str) -> list[int]:
    """'7', '0-99', '1,5,10-12' -> list of seeds, each a valid seed, at most MAX_SEEDS in all."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part, flags=re.ASCII)
        if not m:
            raise argparse.ArgumentTypeError(f"bad seed list {text!r}: use N, A-B or a comma-separated mix")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise argparse.ArgumentTypeError(f"bad seed range {part!r}: end before start")
        if hi > SEED_MAX:
            raise argparse.ArgumentTypeError(f"bad seed {hi}: seeds go from 0 to {SEED_MAX:,}")
        if len(seeds) + hi - lo + 1 > MAX_SEEDS:
            raise argparse.ArgumentTypeError(f"{text!r} is more than {MAX_SEEDS:,} seeds; split the run")
        seeds.extend(range(lo, hi + 1))
    return seeds


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="generate images from seeds")
    p.add_argument("checkpoint", nargs="?", help="checkpoint file (default: the embedded model)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--seed", type=arg_types.seed, default=0, help="one seed (default 0)")
    group.add_argument("--seeds", type=parse_seeds, help="several seeds: 0-1999 or 1,5,9-12")
    p.add_argument("--psi", type=arg_types.psi, default=0.7, help="truncation psi (1 = none; default 0.7)")
    p.add_argument("--cutoff", type=arg_types.positive_int, default=None, help="truncate only the first CUTOFF ws rows")
    p.add_argument("--mix-seed", type=arg_types.seed, default=None,
                   help="style mixing: take later ws rows from this seed")
    p.add_argument("--mix-from", type=arg_types.int_range(0, None, "--mix-from"), default=None,
                   help="first ws row taken from --mix-seed (default num_ws/2)")
    p.add_argument("--noise", choices=["const", "random", "none"], default="const", help="noise mode")
    p.add_argument("--batch-size", type=arg_types.int_range(1, 1024, "the batch size"), default=16)
    p.add_argument("-o", "--output", default="sample.png",
                   help="PNG for one seed; a folder or .npz for several (default sample.png)")
    p.set_defaults(func=run)


def generate(G, seeds: list[int], psi: float, cutoff: int | None = None, mix_seed: int | None = None,
             mix_from: int | None = None, noise: str = "const", batch_size: int = 16):
    """Yield (seed, uint8 HxWxC) in seed order, batching the generator."""
    mix_ws = None
    if cutoff is not None and cutoff > G.num_ws:
        raise UsageError(f"--cutoff must be in 1..{G.num_ws} for this model (its num_ws), got {cutoff}")
    if mix_seed is not None:
        mix_from = G.num_ws // 2 if mix_from is None else mix_from
        check_index(mix_from, G.num_ws, "--mix-from")
        mix_ws = G.ws_from_seed(mix_seed, psi)
    c = None
    for start in range(0, len(seeds), batch_size):
        chunk = seeds[start:start + batch_size]
        z = torch.cat([G.z_from_seed(s) for s in chunk])
        if G.c_dim:
            c = torch.zeros([len(chunk), G.c_dim])
        with torch.no_grad():
            ws = G.mapping(z, c, truncation_psi=psi, truncation_cutoff=cutoff)
            if mix_ws is not None:
                ws[:, mix_from:] = mix_ws[:, mix_from:]
            imgs = to_uint8(G.synthesis(ws, noise_mode=noise, fused_modconv=False))
        yield from zip(chunk, imgs)


def _save_png(arr: np.ndarray, path: Path) -> None:
    Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr).save(path)


def run(args: argparse.Namespace) -> int:
    G = load_generator(args.checkpoint)
    seeds = args.seeds if args.seeds is not None else [args.seed]
    out = Path(args.output)
    images = generate(G, seeds, args.psi, args.cutoff, args.mix_seed, args.mix_from, args.noise, args.batch_size)
    if out.suffix.lower() == ".npz":
        out.parent.mkdir(parents=True, exist_ok=True)
        got = list(images)
        np.savez_compressed(out, images=np.stack([a for _, a in got]), seeds=np.array([s for s, _ in got]))
    elif len(seeds) == 1 and out.suffix:
        out.parent.mkdir(parents=True, exist_ok=True)
        _save_png(next(iter(images))[1], out)
    else:
        if out.suffix:
            raise UsageError(f"{out}: several seeds need a folder or a .npz file")
        out.mkdir(parents=True, exist_ok=True)
        for seed, arr in images:
            _save_png(arr, out / f"seed{seed:05d}.png")
    print(f"wrote {len(seeds)} image(s) to {out}", file=sys.stderr)
    return 0
