"""`info CHECKPOINT`: what a generator file holds, read safely."""

from __future__ import annotations

import argparse
import json

from stylegan2 import load_generator


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="describe a generator checkpoint")
    p.add_argument("checkpoint", nargs="?", help="checkpoint file (default: the embedded model)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def describe(G) -> dict:
    cfg = G.config
    return {
        "path": G.source_path,
        "resolution": G.img_resolution,
        "img_channels": G.img_channels,
        "z_dim": G.z_dim,
        "w_dim": G.w_dim,
        "c_dim": G.c_dim,
        "num_ws": G.num_ws,
        "mapping_layers": cfg.mapping.num_layers,
        "blocks": [
            {"index": i, "name": f"b{b.resolution}", "resolution": b.resolution, "channels": b.conv1.weight.shape[0]}
            for i, b in enumerate(G.synthesis.blocks)
        ],
        "parameters": G.num_parameters(),
    }


def run(args: argparse.Namespace) -> int:
    info = describe(load_generator(args.checkpoint))
    if args.json:
        print(json.dumps(info))
        return 0
    print(f"{info['path']}")
    print(f"  resolution {info['resolution']}x{info['resolution']}, {info['img_channels']} channels")
    print(f"  z_dim {info['z_dim']}, w_dim {info['w_dim']}, c_dim {info['c_dim']}, num_ws {info['num_ws']}, "
          f"mapping layers {info['mapping_layers']}")
    print(f"  parameters {info['parameters']:,}")
    for b in info["blocks"]:
        print(f"  block {b['index']}: {b['name']:>6}  {b['resolution']:>4}px  {b['channels']:>4} channels")
    return 0
