"""`train-encoder`: train the instant-inversion encoder for a generator (the embedded one by default).

An encoder is tied to the exact generator weights it was trained against (their fingerprint is
in its file), so it is retrained whenever the generator changes. The default output sits beside
the generator (`celeba64.safetensors` -> `celeba64-encoder.safetensors`), where photo editing
looks for it. Real crops come from the face data set with the face model's held-out images
(9,501-10,000 of celeba10k) left out by `--limit`, so inversion can be judged on faces neither
network saw.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from assistant import arg_types
from draggan_core.encoder import encoder_path_for, generator_fingerprint, save_encoder
from draggan_core.encoder_training import EncoderStep, EncoderTrainConfig, train_encoder
from stylegan2 import default_model_path, load_generator
from stylegan2.dataset import load_images

DEFAULTS = EncoderTrainConfig()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-encoder", help="train the instant-inversion encoder for a generator",
                       description="Train the encoder that maps an aligned face crop to a W+ latent in one pass.")
    p.add_argument("--model", default=None, help="generator checkpoint (default: the embedded model)")
    p.add_argument("--data", default=None, help="real face crops (folder/.zip/.tar.gz); none: generated samples only")
    p.add_argument("--limit", type=arg_types.positive_int, default=9500, help="use only the first N images (default 9500: the hold-out)")
    p.add_argument("-o", "--out", default=None, help="encoder file (default: beside the generator)")
    p.add_argument("--steps", type=arg_types.positive_int, default=DEFAULTS.steps)
    p.add_argument("--minutes", type=arg_types.positive_float, default=None, help="stop after this many minutes")
    p.add_argument("--batch", type=arg_types.int_range(1, 65_536, "the batch size"), default=DEFAULTS.batch)
    p.add_argument("--lr", type=arg_types.float_range(0.0, 1.0, "the learning rate", low_open=True), default=DEFAULTS.lr)
    p.add_argument("--threads", type=arg_types.threads, default=None, help="CPU threads for torch")
    p.set_defaults(func=run)


class StepPrinter:
    """One progress line every `seconds` on stderr."""

    def __init__(self, seconds: float = 10.0):
        self.seconds, self.last = seconds, 0.0

    def __call__(self, s: EncoderStep) -> None:
        now = time.monotonic()
        if now - self.last >= self.seconds or s.step == s.total:
            print(f"step {s.step}/{s.total}  loss {s.loss:.4f}  latent {s.latent_loss:.4f}  image {s.image_loss:.4f}",
                  file=sys.stderr, flush=True)
            self.last = now


def run(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    model = Path(args.model) if args.model else default_model_path()
    G = load_generator(model)
    real = load_images(args.data, G.img_resolution, limit=args.limit) if args.data else None
    config = EncoderTrainConfig(steps=args.steps, batch=args.batch, lr=args.lr,
                                real_fraction=DEFAULTS.real_fraction if real is not None else 0.0)
    print(f"training an encoder for {model} on {len(real) if real is not None else 0} real crops "
          f"+ generated samples", file=sys.stderr, flush=True)
    encoder = train_encoder(G, real, config, args.minutes, StepPrinter())
    out = Path(args.out) if args.out else encoder_path_for(model)
    save_encoder(encoder, out, generator_fingerprint(G), {"generator": model.name, "train_config": str(config.to_dict())})
    print(f"wrote {out}", file=sys.stderr)
    return 0
