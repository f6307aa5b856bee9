"""The StyleGAN2 training loop: alternating G and D steps, lazy R1, EMA generator, checkpoints.

The loop keeps the whole data set on the device and draws batches by index (no DataLoader), so
on a GPU every step is a fixed sequence of kernels; the GPU speed features (bf16 autocast,
channels_last, fused Adam) switch on automatically on CUDA and stay off on CPU unless asked for:
`--amp bf16` pays on a CPU with avx512_bf16 (1.4x measured here), not on one without it;
torch.compile is an option because compiling costs minutes.
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, TextIO

import numpy as np
import torch

from .augment import diff_augment, parse_policy
from .config import GeneratorConfig
from .dataset import ImageBank
from .discriminator import DiscriminatorConfig
from .distributed import (broadcast_modules, check_same, context, from_rank0, local_device, mean_over_ranks,
                          random_state, rank0_flags, rank_rows, sync_gradients)
from .loading import save_generator
from .losses import discriminator_loss, generator_loss, lazy_adam_params, mapped_ws, r1_penalty, r1_weight
from .networks import Generator
from .projected import KIND as PROJECTED, ProjectedConfig, hinge_discriminator_loss, hinge_generator_loss
from .sample_grid import save_grid
from .train_checkpoint import (TrainingState, build_discriminator, load_training_checkpoint, restore_optimizer,
                               save_training_checkpoint)
from .widen import widen_state

GRID_SEEDS = list(range(64))
# Settings that define the networks: fixed by a checkpoint, ignored when resuming.
ARCHITECTURE_FIELDS = ("resolution", "z_dim", "w_dim", "mapping_layers", "channel_base", "channel_max",
                       "discriminator", "projected_input")
DISCRIMINATORS = ("resnet", PROJECTED)


@dataclass
class TrainConfig:
    """Defaults are the shipped celeba64 model (architecture justified in docs/model-card-celeba64.md)
    and the optimisation settings of NVIDIA's StyleGAN2 run on this data (../shared/notes/training.md)."""

    resolution: int = 64
    z_dim: int = 512
    w_dim: int = 512
    mapping_layers: int = 2
    channel_base: int = 4096
    channel_max: int = 256
    batch: int = 64
    lr: float = 0.0025
    d_lr: float | None = None        # None: the same as lr
    discriminator: str = "resnet"    # "resnet" (NVIDIA's, logistic loss + R1) or "projected" (hinge loss)
    projected_input: int = 128       # the projected D's input size (images are upsampled to it)
    beta1: float = 0.0
    beta2: float = 0.99
    r1_gamma: float = 0.05
    r1_interval: int = 16
    style_mixing: float = 0.9
    augment: str = "color,translation,cutout"
    xflip: bool = True
    ema_kimg: float = 20.0
    ema_rampup: float = 0.05
    seed: int = 0
    device: str = "auto"
    amp: str = "auto"
    channels_last: str = "auto"
    fused_adam: str = "auto"
    compile: bool = False

    def generator_config(self) -> GeneratorConfig:
        return GeneratorConfig.from_dict({
            "z_dim": self.z_dim, "w_dim": self.w_dim, "img_resolution": self.resolution,
            "mapping_kwargs": {"num_layers": self.mapping_layers},
            "synthesis_kwargs": {"channel_base": self.channel_base, "channel_max": self.channel_max},
        })

    def discriminator_config(self) -> DiscriminatorConfig | ProjectedConfig:
        if self.discriminator not in DISCRIMINATORS:
            raise ValueError(f"discriminator must be one of {', '.join(DISCRIMINATORS)}, got {self.discriminator!r}")
        if self.discriminator == PROJECTED:
            return ProjectedConfig(img_resolution=self.resolution, input_size=self.projected_input)
        return DiscriminatorConfig(img_resolution=self.resolution, channel_base=self.channel_base,
                                   channel_max=self.channel_max)

    @property
    def uses_r1(self) -> bool:
        """R1 belongs to the resnet D's logistic loss; the projected D's hinge loss and spectral
        norm bound its gradients instead (as in Projected GANs)."""
        return self.discriminator != PROJECTED and self.r1_interval > 0 and self.r1_gamma > 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _auto(flag: str, on_cuda: bool) -> bool:
    """'auto' -> on for CUDA only; 'on'/'off' force it."""
    if flag not in ("auto", "on", "off"):
        raise ValueError(f"expected auto, on or off, got {flag!r}")
    return on_cuda if flag == "auto" else flag == "on"


def ema_beta(batch: int, cur_nimg: int, ema_kimg: float, rampup: float | None) -> float:
    """Per-step decay so G_ema's half-life is ema_kimg thousand images (shorter at the start
    with a ramp-up, so G_ema is not stuck near the random initialisation)."""
    ema_nimg = ema_kimg * 1000
    if rampup:
        ema_nimg = min(ema_nimg, cur_nimg * rampup)
    return 0.5 ** (batch / max(ema_nimg, 1e-8))


@torch.no_grad()
def update_ema(G_ema: torch.nn.Module, G: torch.nn.Module, beta: float) -> None:
    torch._foreach_lerp_(list(G_ema.parameters()), list(G.parameters()), 1 - beta)
    for b_ema, b in zip(G_ema.buffers(), G.buffers()):
        b_ema.copy_(b)


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


class Trainer:
    """One training run. Build it fresh from a config, or from a checkpoint to resume.

    Under torchrun every process builds one, on the same images; each computes its rows of
    every batch and `sync_gradients` goes before every optimiser step (`stylegan2.distributed`),
    so config.batch is always the global batch and a run means the same on any number of
    processes."""

    def __init__(self, config: TrainConfig, images: np.ndarray, state: TrainingState | None = None):
        self.config = config
        self.device = local_device(resolve_device(config.device))
        cuda = self.device.type == "cuda"
        if config.amp not in ("auto", "bf16", "none"):
            raise ValueError(f"amp must be auto, bf16 or none, got {config.amp!r}")
        self.amp = config.amp == "bf16" or (config.amp == "auto" and cuda)
        self.channels_last = _auto(config.channels_last, cuda)
        fused = _auto(config.fused_adam, cuda)
        self.policy = parse_policy(config.augment)
        torch.manual_seed(config.seed + (state.cur_nimg if state is not None else 0))
        if state is None:
            G = Generator(config.generator_config())
            state = TrainingState(G, build_discriminator(config.discriminator_config()), copy.deepcopy(G))
        self.state = state
        fmt = torch.channels_last if self.channels_last else torch.preserve_format
        for net in (state.G, state.D, state.G_ema):
            net.to(self.device, memory_format=fmt).train().requires_grad_(False)
        state.G_ema.eval()
        broadcast_modules(state.G, state.D, state.G_ema)
        check_same(np.ascontiguousarray(images).data, "training images")
        self.rows = rank_rows(config.batch, state.D.config.mbstd_group_size)
        self.bank = ImageBank(images, self.device, xflip=config.xflip)
        betas = (config.beta1, config.beta2)
        self.opt_G = torch.optim.Adam(state.G.parameters(), lr=config.lr, betas=betas, eps=1e-8,
                                      fused=fused or None)
        d_lr, d_betas = config.lr if config.d_lr is None else config.d_lr, betas
        if config.uses_r1:
            d_lr, d_betas = lazy_adam_params(d_lr, betas, config.r1_interval)
        projected = config.discriminator == PROJECTED
        self.g_loss = hinge_generator_loss if projected else generator_loss
        self.d_loss = hinge_discriminator_loss if projected else discriminator_loss
        self.opt_D = torch.optim.Adam(state.D.parameters(), lr=d_lr, betas=d_betas, eps=1e-8, fused=fused or None)
        pairs = (("G", self.opt_G, state.G), ("D", self.opt_D, state.D))
        self.optimizer_restored = all(name in state.optimizers for name, _, _ in pairs) and all(
            [restore_optimizer(opt, net, state.optimizers[name]) for name, opt, net in pairs])
        self.synthesis_fwd: Callable = state.G.synthesis
        self.D_fwd: Callable = state.D
        if config.compile:
            self.synthesis_fwd = torch.compile(state.G.synthesis)
            self.D_fwd = torch.compile(state.D)
        self.step_index = 0

    @classmethod
    def resume(cls, path: str | Path, images: np.ndarray, overrides: dict[str, Any] | None = None,
               widen_to: tuple[int, int] | None = None) -> "Trainer":
        """Continue from a checkpoint: its architecture wins; run settings (batch, device, speed
        features) may be overridden for the new machine. Under torchrun rank 0 reads the file
        and hands the state to the others, whose machines need not have it.

        widen_to: (channel_base, channel_max) to grow the networks to first, keeping what they
        compute (`stylegan2.widen`; every rank widens alike, from the same seed)."""
        state = from_rank0(load_training_checkpoint, path)
        if widen_to is not None:
            state = widen_state(state, *widen_to)
        cfg = state.train_config | {k: v for k, v in (overrides or {}).items() if k not in ARCHITECTURE_FIELDS}
        return cls(TrainConfig.from_dict(cfg), images, state)

    @property
    def cur_nimg(self) -> int:
        return self.state.cur_nimg

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def _images(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def _generate(self, batch: int, update_w_avg: bool) -> torch.Tensor:
        """This process's rows of a batch of `batch` fakes. The mapping runs on the whole batch
        (a few small matrix products): the latents and style mixing are drawn for all of it, and
        w_avg moves by the whole batch's mean, the same on every rank."""
        z = torch.randn([batch, self.config.z_dim], device=self.device)
        with torch.autocast(self.device.type, enabled=False):  # w_avg's update mixes dtypes under bf16
            ws = mapped_ws(self.state.G, z, self.config.style_mixing, update_w_avg=update_w_avg)
        return self.synthesis_fwd(self.rows.take(ws), noise_mode="random", fused_modconv=False,
                                  batch_rows=self.rows)

    def _D(self, img: torch.Tensor) -> torch.Tensor:
        return self.D_fwd(self._images(diff_augment(img, self.policy, self.rows)))

    def train_step(self) -> dict[str, torch.Tensor]:
        """One G step, one D step and, every r1_interval steps, one R1 step; then the EMA.

        Returns the losses as detached device tensors: reading them (`float`) would make the
        CPU wait for the GPU every step."""
        cfg, G, D = self.config, self.state.G, self.state.D
        stats: dict[str, torch.Tensor] = {}

        G.requires_grad_(True)
        with self._autocast():
            loss_G = self.g_loss(self._D(self._generate(cfg.batch, update_w_avg=False)))
        self.opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
        sync_gradients(G)
        self.opt_G.step()
        G.requires_grad_(False)
        stats["loss_G"] = loss_G.detach()

        D.requires_grad_(True)
        with torch.no_grad(), self._autocast():
            fake = self._generate(cfg.batch, update_w_avg=True)
        real = self.bank.batch(cfg.batch, rows=self.rows)
        with self._autocast():
            loss_D = self.d_loss(self._D(real), self._D(fake))
        self.opt_D.zero_grad(set_to_none=True)
        loss_D.backward()
        sync_gradients(D)
        self.opt_D.step()
        stats["loss_D"] = loss_D.detach()

        if cfg.uses_r1 and self.step_index % cfg.r1_interval == 0:
            real = self.bank.batch(cfg.batch, rows=self.rows).requires_grad_(True)
            with self._autocast():
                logits = self._D(real)
            penalty = r1_penalty(logits, real)
            self.opt_D.zero_grad(set_to_none=True)
            (penalty.mean() * r1_weight(cfg.r1_gamma, cfg.r1_interval)).backward()
            sync_gradients(D)
            self.opt_D.step()
            stats["r1"] = penalty.detach().mean()
        D.requires_grad_(False)

        self.state.cur_nimg += cfg.batch
        update_ema(self.state.G_ema, G, ema_beta(cfg.batch, self.state.cur_nimg, cfg.ema_kimg, cfg.ema_rampup))
        self.step_index += 1
        return stats

    def save(self, path: str | Path, half: bool = False, with_optimizer: bool = True) -> Path:
        self.state.train_config = self.config.to_dict()
        opts = {"G": (self.opt_G, self.state.G), "D": (self.opt_D, self.state.D)} if with_optimizer else None
        return save_training_checkpoint(path, self.state, opts, half=half)

    def export(self, weights_dir: str | Path, name: str = "celeba64", ship: bool = True) -> tuple[Path | None, Path]:
        self.state.train_config = self.config.to_dict()
        opts = {"G": (self.opt_G, self.state.G), "D": (self.opt_D, self.state.D)}
        return export_weights(self.state, weights_dir, name, opts, ship)


def export_weights(state: TrainingState, weights_dir: str | Path, name: str = "celeba64",
                   optimizers: dict[str, tuple[torch.optim.Optimizer, torch.nn.Module]] | None = None,
                   ship: bool = True) -> tuple[Path | None, Path]:
    """What the repository keeps: with `ship`, G_ema as the fp16 generator file users get, and
    always an fp16 resumable checkpoint under `training/` (G and D, Adam's moments in bf16 when
    `optimizers` are given) -- what the next training session, on any machine, starts from.
    A shipped G_ema is stored once, in the generator file, and referenced from the checkpoint;
    without `ship` (a run that does not beat the shipped model yet) the checkpoint holds it."""
    weights_dir = Path(weights_dir)
    gen = None
    if ship:
        G = copy.deepcopy(state.G_ema).to("cpu", torch.float16, memory_format=torch.contiguous_format)
        gen = save_generator(G, weights_dir / f"{name}.safetensors", {"kimg": f"{state.cur_nimg / 1000:.1f}"})
    light = TrainingState(state.G, state.D, state.G_ema, state.cur_nimg, state.train_config,
                          cpu_seconds=state.cpu_seconds)
    ckpt = save_training_checkpoint(weights_dir / "training" / f"{name}-train.safetensors", light, optimizers,
                                    half=True, g_ema_file=gen, moments_dtype=torch.bfloat16)
    return gen, ckpt


def _device_sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class RunLimits:
    total_kimg: float
    minutes: float | None = None
    cpu_minutes: float | None = None   # a budget in process CPU time: pilots compare at equal CPU cost
    checkpoint_minutes: float = 5.0
    grid_kimg: float = 50.0
    progress_seconds: float = 10.0


def run_training(trainer: Trainer, out_dir: str | Path, limits: RunLimits, stream: TextIO = sys.stderr) -> Path:
    """Train until total_kimg or the time limit, writing `latest.safetensors` (resumable, with
    Adam state), `G_ema.safetensors` (a generator for `sample`/`model-report`), sample grids and
    `log.jsonl`. Returns the checkpoint path; a KeyboardInterrupt still saves first.

    Under torchrun only rank 0 writes and prints, and the time limits and progress lines follow
    rank 0's clock on every rank (`rank0_flags`); the CPU budget is rank 0's process time."""
    job = context()
    out = Path(out_dir)
    ckpt_path = out / "latest.safetensors"
    if job.is_writer:
        out.mkdir(parents=True, exist_ok=True)
    log = (out / "log.jsonl").open("a") if job.is_writer else open(os.devnull, "w")
    stream = stream if job.is_writer else log
    start_nimg = trainer.cur_nimg
    target_nimg = int(limits.total_kimg * 1000)
    t0 = last_ckpt = last_print = time.time()
    cpu0, cpu_base = time.process_time(), trainer.state.cpu_seconds
    next_grid = (math.floor(trainer.cur_nimg / 1000 / limits.grid_kimg) + 1) * limits.grid_kimg
    sums: dict[str, list[torch.Tensor]] = {}

    def spent_cpu() -> float:
        trainer.state.cpu_seconds = cpu_base + time.process_time() - cpu0
        return time.process_time() - cpu0

    def checkpoint() -> None:
        if not job.is_writer:
            return
        spent_cpu()
        trainer.save(ckpt_path)
        G = copy.deepcopy(trainer.state.G_ema).to("cpu", memory_format=torch.contiguous_format)
        save_generator(G, out / "G_ema.safetensors", {"kimg": f"{trainer.cur_nimg / 1000:.1f}"})

    def grid(kimg: int) -> None:
        if job.is_writer:
            save_grid(trainer.state.G_ema, out / f"grid-{kimg:06d}.png", GRID_SEEDS, cols=8)

    if trainer.cur_nimg == 0:
        grid(0)
    try:
        while trainer.cur_nimg < target_nimg:
            time_up, cpu_up = rank0_flags(limits.minutes is not None and time.time() - t0 > limits.minutes * 60,
                                          limits.cpu_minutes is not None and spent_cpu() > limits.cpu_minutes * 60)
            if time_up:
                print(f"time limit of {limits.minutes:g} min reached", file=stream, flush=True)
                break
            if cpu_up:
                print(f"CPU budget of {limits.cpu_minutes:g} min reached", file=stream, flush=True)
                break
            for k, v in trainer.train_step().items():
                sums.setdefault(k, []).append(v)
            now = time.time()
            (report,) = rank0_flags(now - last_print >= limits.progress_seconds or trainer.cur_nimg >= target_nimg)
            if report:
                _device_sync(trainer.device)
                rate = (trainer.cur_nimg - start_nimg) / max(now - t0, 1e-9)
                left = (target_nimg - trainer.cur_nimg) / max(rate, 1e-9)
                if limits.minutes is not None:
                    left = min(left, limits.minutes * 60 - (now - t0))
                means = mean_over_ranks({k: torch.stack(v).mean() for k, v in sums.items()})
                check_same(random_state(trainer.device), "random number generators")
                spent_cpu()
                cpu_hours = trainer.state.cpu_seconds / 3600
                line = (f"kimg {trainer.cur_nimg / 1000:9.1f}/{limits.total_kimg:g}  {rate:7.1f} img/s  "
                        f"cpu {cpu_hours:.2f} h  ETA {format_duration(left)}  "
                        + "  ".join(f"{k} {v:.3f}" for k, v in means.items()))
                print(line, file=stream, flush=True)
                log.write(json.dumps({"kimg": trainer.cur_nimg / 1000, "img_per_s": rate, "time": now,
                                      "cpu_hours": cpu_hours, "world_size": job.world_size, **means}) + "\n")
                log.flush()
                sums.clear()
                last_print = now
            if trainer.cur_nimg / 1000 >= next_grid:
                grid(int(trainer.cur_nimg / 1000))
                next_grid += limits.grid_kimg
            if now - last_ckpt >= limits.checkpoint_minutes * 60:
                checkpoint()
                last_ckpt = now
    finally:
        checkpoint()
        log.close()
    return ckpt_path
