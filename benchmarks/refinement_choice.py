"""Which short refinement after the encoder's guess: W+ steps, pivotal-tuning steps, step sizes.

`InversionConfig.refinement()` was chosen with this: the same held-out faces and photo placement
as `inversion_quality.py`, every candidate from the same encoder guess, scored by PSNR, the
perceptual distance and seconds. Prints one JSON object.

    python benchmarks/refinement_choice.py --faces 6
    python benchmarks/refinement_choice.py --faces 6 --candidates 30:0:1e-3:0.02 10:20:3e-3:0.05
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from _machine import cpu_name
from inversion_quality import CELEBA, as_photo, held_out_faces

from assistant.photo import PhotoError, prepare_photo
from draggan_core.encoder import find_encoder
from draggan_core.image_metrics import psnr
from draggan_core.inversion import InversionConfig, invert
from draggan_core.perceptual import PerceptualDistance
from stylegan2 import default_model_path, load_generator

CANDIDATES = ("30:0:1e-3:0.02", "30:0:1e-3:0.05", "10:20:1e-3:0.02", "10:20:3e-3:0.02", "10:20:3e-3:0.05",
              "0:30:3e-3:0.02", "10:20:1e-2:0.02")


def candidate(text: str) -> InversionConfig:
    """'W+:PTI:PTI_LR:W+_LR' -> the refinement with those W+ steps, tuning steps, tuning step
    size and W+ step size (in units of w's spread)."""
    wplus, pti, lr, wplus_lr = text.split(":")
    return InversionConfig.refinement(wplus_steps=int(wplus), pti_steps=int(pti), pti_lr=float(lr),
                                      wplus_lr=float(wplus_lr))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--data", default=str(CELEBA))
    ap.add_argument("--faces", type=int, default=6)
    ap.add_argument("--candidates", nargs="+", default=list(CANDIDATES), metavar="W+:PTI:PTI_LR:W+_LR")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    path = Path(args.model) if args.model else default_model_path()
    G = load_generator(path)
    lookup = find_encoder(G)
    if lookup.encoder is None:
        raise SystemExit(f"error: {lookup.reason}")
    configs = {c: candidate(c) for c in args.candidates}
    perceptual = PerceptualDistance(lookup.encoder.features)
    load_before = os.getloadavg()
    scores: dict[str, list[dict]] = {c: [] for c in configs}
    for i, (name, face) in enumerate(held_out_faces(Path(args.data))):
        if i == args.faces:
            break
        try:
            crop = prepare_photo(as_photo(face, np.random.default_rng([0, i])), G.img_resolution, name=name)
        except PhotoError:
            continue
        target = crop.target()
        with torch.no_grad():
            start = lookup.encoder(target)
        for text, config in configs.items():
            began = time.perf_counter()
            result = invert(G, target, config, perceptual=perceptual, start=start)
            seconds = time.perf_counter() - began
            with torch.no_grad():
                image = result.image()
                scores[text].append({"psnr": float(psnr(image, target)[0]),
                                     "perceptual": float(perceptual(image, target)[0]), "seconds": seconds})
    print(json.dumps({
        "benchmark": "refinement_choice",
        "machine": {"cpu": cpu_name(), "cpus": os.cpu_count(), "torch": torch.__version__,
                    "threads": torch.get_num_threads(),
                    "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)]},
        "model": str(path), "encoder": str(lookup.path),
        "faces": len(next(iter(scores.values()))),
        "candidates": {text: {key: round(statistics.mean(r[key] for r in rows), 4)
                              for key in ("psnr", "perceptual", "seconds")}
                       for text, rows in scores.items() if rows},
    }, indent=1))


if __name__ == "__main__":
    main()
