"""Does a named-part drag move its part on the embedded model, with and without its mask?

For each setting, one parsed command on one seed is grounded on MediaPipe landmarks and dragged
for a fixed budget (stall test off): the farthest handle's distance at the start, its best and last,
and how much the picture changed inside and outside the part's mask (mean of the largest channel
change per pixel, 0-255). A drag that moves only what the mask allows changes the inside far more
than the outside; one that changes both alike moved the whole face (an entangled latent).

    python benchmarks/masked_drag.py --seed 3 --text "open the mouth a lot" \
        --setting lr=0.002 --setting lr=0.01,lambda_mask=1 --setting lr=0.01,mask=off
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch

from _machine import cpu_name
from draggan_core import DragConfig, DragSession
from parsers import CommandParser
from stylegan2 import default_model_path, load_generator
from stylegan2.imaging import to_uint8


def parse_setting(text: str) -> tuple[dict, bool]:
    """'lr=0.01,lambda_mask=1,mask=off' -> DragConfig overrides and whether the mask is used."""
    overrides, use_mask = {}, True
    for item in filter(None, text.split(",")):
        name, _, value = item.partition("=")
        if name == "mask":
            use_mask = value != "off"
        else:
            overrides[name] = float(value) if "." in value or "e" in value else int(value)
    return overrides, use_mask


def run(G, seed: int, text: str, setting: str, steps: int) -> dict:
    ws = G.ws_from_seed(seed, 0.7)
    start = to_uint8(G.synthesis(ws, noise_mode="const"))[0]
    command = CommandParser().parse(text, image=start)
    if command.command != "drag" or command.mask is None:
        raise SystemExit(f"error: {text!r} is not a masked part edit on seed {seed}: {command.message}")
    size = G.img_resolution
    mask = command.mask_array(size, size)
    overrides, use_mask = parse_setting(setting)
    session = DragSession(G, ws, DragConfig(stall_patience=None, **overrides))
    session.start_drag(command.handles, command.targets, mask if use_mask else None)
    farthest = []
    for _ in range(steps):
        result = session.step()
        farthest.append(max(result.distances))
        if result.done:
            break
    session.finish_drag("budget")
    change = np.abs(to_uint8(session.image())[0].astype(int) - start.astype(int)).max(-1)
    return {"setting": setting, "mask": use_mask, "steps": len(farthest), "start_px": round(farthest[0], 2),
            "best_px": round(min(farthest), 2), "last_px": round(farthest[-1], 2),
            "change_inside_mask": round(float(change[mask].mean()), 2),
            "change_outside_mask": round(float(change[~mask].mean()), 2)}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--text", default="open the mouth a lot")
    ap.add_argument("--setting", action="append", default=None, help="NAME=VALUE,... (mask=off drops the mask)")
    ap.add_argument("--steps", type=int, default=80)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    G = load_generator(args.model or default_model_path())
    settings = args.setting or ["lr=0.002", "lr=0.002,mask=off"]
    rows = [run(G, args.seed, args.text, s, args.steps) for s in settings]
    print(json.dumps({"benchmark": "masked_drag", "machine": {"cpu": cpu_name(), "cpus": os.cpu_count(),
                      "torch": torch.__version__, "threads": args.threads},
                      "model": args.model or "embedded", "seed": args.seed, "text": args.text,
                      "steps": args.steps, "results": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
