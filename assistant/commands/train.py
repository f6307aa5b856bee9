"""`train`: train (or resume) the StyleGAN2 face generator on a folder / .zip / .tar(.gz) of images.

A GPU session runs it in pieces of at most 10 minutes: `--minutes 9 --resume auto` continues
from the output folder's `latest.safetensors` every time. `python3 -m assistant.commands.train`
runs it without the rest of the CLI, whose UI and speech dependencies a bare GPU machine lacks.
Under `torchrun` it is one job in several processes (docs/training.md): rank 0 decides where to
resume from and is the only one that writes or prints.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import TextIO

import torch
from torch.distributed.elastic.multiprocessing.errors import record

from assistant import arg_types
from assistant.arg_types import OneLineParser
from stylegan2.dataset import DataError, load_images
from stylegan2.distributed import (DEFAULT_TIMEOUT_S, DistContext, DistributedError, from_rank0, init_from_env,
                                   shutdown)
from stylegan2.errors import CheckpointError
from stylegan2.training import RunLimits, TrainConfig, Trainer, resolve_device, run_training

DEFAULTS = TrainConfig()
STOPPED = 130  # exit status of a run stopped by Ctrl-C or `kill` (after its last checkpoint), as shells report SIGINT
LEARNING_RATE = arg_types.float_range(0.0, 1.0, "the learning rate", low_open=True)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train or resume the StyleGAN2 generator",
                       description="Train a StyleGAN2 generator (defaults: the shipped celeba64 model).")
    p.add_argument("data", help="folder, .zip or .tar(.gz) of images (e.g. ../shared/data/celeba10k.tar.gz)")
    p.add_argument("--out", default="runs/celeba64", help="output folder (checkpoints, grids, log)")
    p.add_argument("--resume", default=None,
                   help="training checkpoint to continue from, or 'auto' for OUT/latest.safetensors if present")
    p.add_argument("--kimg", type=arg_types.positive_float, default=5000,
                   help="stop when this many thousand images were shown")
    p.add_argument("--minutes", type=arg_types.positive_float, default=None,
                   help="stop (and checkpoint) after this many minutes")
    p.add_argument("--cpu-minutes", type=arg_types.positive_float, default=None,
                   help="stop (and checkpoint) after this much process CPU time: pilots compared at an equal CPU budget")
    p.add_argument("--batch", type=arg_types.int_range(1, 65_536, "the batch size"), default=DEFAULTS.batch)
    p.add_argument("--lr", type=LEARNING_RATE, default=DEFAULTS.lr)
    p.add_argument("--d-lr", type=LEARNING_RATE, default=DEFAULTS.d_lr,
                   help="discriminator learning rate (default: --lr)")
    p.add_argument("--discriminator", choices=["resnet", "projected"], default=DEFAULTS.discriminator,
                   help="resnet: NVIDIA's D with R1; projected: frozen EfficientNet-Lite0 features + small heads")
    p.add_argument("--projected-input", type=arg_types.int_range(16, 1024, "the projected D's input size"),
                   default=DEFAULTS.projected_input, help="the projected D's input size (images are upsampled to it)")
    p.add_argument("--ema-kimg", type=arg_types.positive_float, default=DEFAULTS.ema_kimg,
                   help="G_ema half-life in thousand images")
    p.add_argument("--r1-gamma", type=arg_types.non_negative_float, default=DEFAULTS.r1_gamma)
    p.add_argument("--augment", default=DEFAULTS.augment, help="DiffAugment policy, or 'none'")
    p.add_argument("--channel-base", type=arg_types.positive_int, default=DEFAULTS.channel_base)
    p.add_argument("--channel-max", type=arg_types.positive_int, default=DEFAULTS.channel_max)
    p.add_argument("--widen", action="store_true",
                   help="with --resume: first grow the checkpoint's networks to --channel-base/--channel-max, "
                        "keeping what they compute (new channels start from random weights)")
    p.add_argument("--mapping-layers", type=arg_types.int_range(1, 64, "the mapping layers"),
                   default=DEFAULTS.mapping_layers)
    p.add_argument("--resolution", type=arg_types.resolution, default=DEFAULTS.resolution)
    p.add_argument("--crop", choices=["auto", "celeba", "none"], default="auto")
    p.add_argument("--limit", type=arg_types.positive_int, default=None, help="use only the first N images")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    p.add_argument("--amp", choices=["auto", "bf16", "none"], default="auto", help="bf16 autocast (auto: on CUDA)")
    p.add_argument("--channels-last", choices=["auto", "on", "off"], default="auto")
    p.add_argument("--fused-adam", choices=["auto", "on", "off"], default="auto")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile G's synthesis and D (for GPUs: compiling takes minutes, far longer on CPU)")
    p.add_argument("--threads", type=arg_types.threads, default=None, help="CPU threads for torch")
    p.add_argument("--seed", type=arg_types.seed, default=0)
    p.add_argument("--dist-timeout", type=arg_types.positive_float, default=DEFAULT_TIMEOUT_S,
                   help="under torchrun: seconds a process waits for the others before it gives up")
    p.add_argument("--checkpoint-minutes", type=arg_types.positive_float, default=5.0)
    p.add_argument("--grid-kimg", type=arg_types.positive_float, default=50.0, help="write a sample grid every N kimg")
    p.add_argument("--export-to", default=None,
                   help="at the end also write WEIGHTS_DIR/celeba64.safetensors and a compact resumable "
                        "WEIGHTS_DIR/training/celeba64-train.safetensors (fp16 nets, bf16 Adam moments)")
    p.add_argument("--checkpoint-only", action="store_true",
                   help="with --export-to: write only the resumable checkpoint (G_ema inside it), leaving the "
                        "shipped generator alone -- for a run that does not beat it yet")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(resolution=args.resolution, mapping_layers=args.mapping_layers, channel_base=args.channel_base,
                       channel_max=args.channel_max, batch=args.batch, lr=args.lr, d_lr=args.d_lr,
                       discriminator=args.discriminator, projected_input=args.projected_input,
                       ema_kimg=args.ema_kimg, r1_gamma=args.r1_gamma,
                       augment=args.augment, seed=args.seed, device=args.device, amp=args.amp,
                       channels_last=args.channels_last, fused_adam=args.fused_adam, compile=args.compile)


def resume_point(resume: str | None, out: str) -> Path | None:
    """The checkpoint to continue from: `auto` is OUT/latest.safetensors if it exists."""
    if resume != "auto":
        return Path(resume) if resume is not None else None
    latest = Path(out) / "latest.safetensors"
    return latest if latest.is_file() else None


def stop_cleanly_on_signals() -> None:
    """`kill` (SIGTERM) and Ctrl-C both end a run through KeyboardInterrupt, which `run_training`
    turns into a last checkpoint. Needed because a run started in the background (`cmd &` in a
    script) inherits SIGINT ignored, and `kill` sends SIGTERM: either way it died mid-run without
    saving what it had trained since its last periodic checkpoint."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def run(args: argparse.Namespace) -> int:
    stop_cleanly_on_signals()
    if args.threads:
        torch.set_num_threads(args.threads)
    config = config_from_args(args)
    job = init_from_env(resolve_device(config.device), args.dist_timeout)
    try:
        with open(os.devnull, "w") as sink:
            return _train(args, config, job, sys.stderr if job.is_writer else sink)
    finally:
        shutdown()


def _train(args: argparse.Namespace, config: TrainConfig, job: DistContext, say: TextIO) -> int:
    """The run itself; `say` is stderr on rank 0 and a sink on the other ranks."""
    resume = from_rank0(resume_point, args.resume, args.out)
    if args.widen and resume is None:
        raise CheckpointError("--widen grows a resumed checkpoint: give --resume too")
    print(f"loading {args.data} ...", file=say, flush=True)
    images = load_images(args.data, config.resolution, args.crop, args.limit)
    if resume is not None:
        overrides = {k: getattr(config, k) for k in ("batch", "device", "amp", "channels_last", "fused_adam",
                                                    "compile", "lr", "d_lr", "r1_gamma", "augment", "ema_kimg")}
        widen_to = (config.channel_base, config.channel_max) if args.widen else None
        trainer = Trainer.resume(resume, images, overrides, widen_to)
        note = "with" if trainer.optimizer_restored else "without"
        print(f"resumed {resume} at {trainer.cur_nimg / 1000:.1f} kimg ({note} optimiser state)",
              file=say, flush=True)
    else:
        trainer = Trainer(config, images)
    G = trainer.state.G
    print(f"{len(images)} images, G {G.num_parameters() / 1e6:.2f} M params, "
          f"D {sum(p.numel() for p in trainer.state.D.parameters()) / 1e6:.2f} M params, "
          f"device {trainer.device}, batch {trainer.config.batch}, bf16 {trainer.amp}, "
          f"channels_last {trainer.channels_last}, augment {trainer.config.augment}", file=say, flush=True)
    if job.world_size > 1:
        print(job.describe(trainer.config.batch), file=say, flush=True)
    limits = RunLimits(args.kimg, args.minutes, args.cpu_minutes, args.checkpoint_minutes, args.grid_kimg)
    try:
        ckpt = run_training(trainer, args.out, limits)
    except KeyboardInterrupt:  # run_training has saved its last checkpoint on the way out
        print(f"stopped: checkpoint {Path(args.out) / 'latest.safetensors'} at {trainer.cur_nimg / 1000:.1f} kimg",
              file=say)
        return STOPPED
    print(f"checkpoint {ckpt} at {trainer.cur_nimg / 1000:.1f} kimg", file=say)
    if args.export_to and job.is_writer:
        gen, train_ckpt = trainer.export(args.export_to, ship=not args.checkpoint_only)
        print(f"exported {train_ckpt}" + (f" and {gen}" if gen else ""), file=say)
    return 0


@record  # under torchrun, a rank's uncaught exception goes into torchrun's summary of the failed job
def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python3 -m assistant.commands.train")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["train", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args)
    except (DataError, CheckpointError, DistributedError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
