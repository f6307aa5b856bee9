"""`parse TEXT [--image IMG | --model CKPT --seed N] [--json] [--batch FILE|-]`.

Prints what the parser makes of a line: the command, the intent and, on an image, the handle
and target points and the mask. `parse_line` is the one text -> JSON-object step; other inputs
(e.g. audio) only need to produce the text first.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Iterable

import numpy as np

from assistant import arg_types
from assistant.commands.transcribe import add_speech_options, speech_config
from parsers import CommandParser, Transcriber
from parsers.images import load_image


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("parse", help="turn a typed command into handles, targets and a mask")
    p.add_argument("text", nargs="?", help="the command, e.g. \"open the mouth a little\"")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--image", help="picture to find the face in (PNG, JPEG, ...)")
    source.add_argument("--model", nargs="?", const="", default=None, metavar="CHECKPOINT",
                        help="ground on a generated sample (no value: the embedded model)")
    p.add_argument("--seed", type=arg_types.seed, default=None, help="seed of the generated sample (default 0)")
    p.add_argument("--psi", type=arg_types.psi, default=0.7, help="truncation psi for the sample (default 0.7)")
    p.add_argument("--batch", metavar="FILE", help="one command per line ('-' = stdin); one JSON line each")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--audio", metavar="FILE", help="a spoken command (WAV, FLAC, MP3, OGG) instead of TEXT")
    add_speech_options(p)
    p.set_defaults(func=run)


def generated_image(checkpoint: str | None, seed: int, psi: float) -> np.ndarray:
    """The sample the editor would show for this checkpoint and seed, as H x W x 3 uint8."""
    import torch

    from stylegan2 import load_generator
    from stylegan2.imaging import to_uint8

    G = load_generator(checkpoint or None)
    with torch.no_grad():
        img = G.synthesis(G.ws_from_seed(seed, psi), noise_mode="const")
    arr = to_uint8(img)[0]
    return np.repeat(arr, 3, axis=2) if arr.shape[2] == 1 else arr


def parse_line(parser: CommandParser, text: str, image: np.ndarray | None) -> dict[str, Any]:
    return parser.parse(text, image).to_json()


def _human(obj: dict[str, Any]) -> str:
    lines = [f"{obj['command']}: {obj['message']}"]
    for h, t in zip(obj["handles"], obj["targets"]):
        lines.append(f"  ({h[0]:.1f}, {h[1]:.1f}) -> ({t[0]:.1f}, {t[1]:.1f})")
    if obj["mask"]:
        lines.append(f"  mask bbox {obj['mask']['bbox']}")
    if obj["suggestions"]:
        lines.append("  try: " + " | ".join(obj["suggestions"]))
    return "\n".join(lines)


def _lines(source: str) -> Iterable[str]:
    if source == "-":
        yield from sys.stdin
        return
    with open(source, encoding="utf-8", errors="replace") as fh:
        yield from fh


def run(args: argparse.Namespace) -> int:
    heard = None
    if args.audio is not None:
        if args.text is not None or args.batch is not None:
            print("error: give only one of TEXT, --batch FILE and --audio FILE", file=sys.stderr)
            return 2
        heard = Transcriber(speech_config(args)).transcribe(args.audio)
        args.text = heard.text
        for warning in heard.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        if not args.json:
            print(f"heard: {heard.text}", file=sys.stderr)
    if (args.text is None) == (args.batch is None):
        print("error: give either TEXT or --batch FILE", file=sys.stderr)
        return 2
    image = None
    if args.image:
        image = load_image(args.image)
    elif args.model is not None or args.seed is not None:
        image = generated_image(args.model, args.seed or 0, args.psi)
    parser = CommandParser()
    texts = [args.text] if args.batch is None else (line.rstrip("\r\n") for line in _lines(args.batch))
    for text in texts:
        obj = parse_line(parser, text, image)
        if heard is not None:
            obj["speech"] = heard.to_json()
        print(json.dumps(obj) if args.json or args.batch else _human(obj), flush=True)
    parser.landmarker.close()
    return 0
