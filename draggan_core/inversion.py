"""GAN inversion: find a latent (and slightly tuned weights) that make the generator draw a photo.

DragGAN can only edit what its generator draws, so a user's photo is first reconstructed:

1. W: one w vector, started at the mapping's average, with decaying noise added to it early on
   so the search does not settle in the first basin (as NVIDIA's projector does);
2. W+: one w per layer, started from stage 1 -- closer fits, still a latent the drag can move;
3. pivotal tuning: the W+ latent is frozen and a copy of the synthesis network is fine-tuned
   until it draws the photo faithfully (Roich et al., "Pivotal Tuning for Latent-based Editing
   of Real Images"). The caller's generator is never changed.

The loss is mean squared pixel error plus (1 - MS-SSIM) plus, with `perceptual_weight`, an
LPIPS-style distance on frozen EfficientNet-Lite0 features (`draggan_core.perceptual`), which
punishes missing structure (an eyelid, a mouth corner) that pixels barely notice.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Callable

import torch

from .errors import DragInputError
from .image_metrics import ms_ssim, psnr, ssim
from .perceptual import PerceptualDistance

STAGE_FIELDS = ("w_steps", "wplus_steps", "pti_steps")
REFINE_WPLUS_STEPS = 0
REFINE_PTI_STEPS = 30
REFINE_PTI_LR = 3e-3


@dataclass(frozen=True)
class InversionConfig:
    """Steps and step sizes of the three stages; latent step sizes are in units of the per-
    dimension spread of w, so one setting suits generators whose w scales differ.

    The tuning step size is above the PTI paper's 3e-4: with the ~150 steps a CPU can afford,
    1e-3 reached 22.8 dB PSNR on the astronaut crop where 3e-4 reached 21.7 (placeholder model)."""

    w_steps: int = 150
    wplus_steps: int = 100
    pti_steps: int = 150
    w_lr: float = 0.1
    wplus_lr: float = 0.02
    pti_lr: float = 1e-3
    noise_start: float = 0.05
    noise_ramp: float = 0.75
    pixel_weight: float = 1.0
    ssim_weight: float = 1.0
    perceptual_weight: float = 0.0
    w_avg_samples: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("w_steps", "wplus_steps", "pti_steps", "w_avg_samples"):
            if getattr(self, name) < 0:
                raise DragInputError(f"inversion setting {name} must not be negative")
        if self.w_avg_samples < 2:
            raise DragInputError("w_avg_samples must be at least 2")
        for name in ("w_lr", "wplus_lr", "pti_lr"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise DragInputError(f"inversion step size {name} must be a positive number, got {value}")
        weights = (self.pixel_weight, self.ssim_weight, self.perceptual_weight)
        if min(weights) < 0 or sum(weights) == 0 or not all(math.isfinite(w) for w in weights):
            raise DragInputError("the loss weights must be finite, not negative and not all zero")

    @classmethod
    def refinement(cls, **overrides: Any) -> "InversionConfig":
        """After an encoder's guess (`invert(..., start=)`): the guess is the pivot as it is (no
        W and, by default, no W+ steps) and 30 steps of pivotal tuning at three times the full
        run's step size make the generator draw the photo around it, in seconds. Measured on
        held-out faces (`benchmarks/refinement_choice.py`, docs/photos.md): spending the same 30
        steps partly on W+ (10 + 20) or on W+ alone scored lower, and a 1e-2 tuning step overshot."""
        return replace(cls(w_steps=0, wplus_steps=REFINE_WPLUS_STEPS, pti_steps=REFINE_PTI_STEPS,
                           pti_lr=REFINE_PTI_LR), **overrides)

    @classmethod
    def fast(cls, **overrides: Any) -> "InversionConfig":
        """A short run for previews and tests: a rough fit in a few dozen steps."""
        return replace(cls(w_steps=30, wplus_steps=20, pti_steps=30, w_avg_samples=256), **overrides)

    def with_budget(self, total_steps: int) -> "InversionConfig":
        """The same settings with `total_steps` shared among the stages in this config's
        proportions; a stage this config skips (0 steps) stays skipped."""
        names = [n for n in STAGE_FIELDS if getattr(self, n)] or list(STAGE_FIELDS)
        if total_steps < len(names):
            raise DragInputError(f"an inversion needs at least {len(names)} steps (one per stage), got {total_steps}")
        steps = {n: 0 for n in STAGE_FIELDS}
        for n in names[:-1]:
            steps[n] = max(1, round(total_steps * getattr(self, n) / max(self.total_steps, 1)))
        steps[names[-1]] = max(1, total_steps - sum(steps.values()))
        return replace(self, **steps)

    def with_overrides(self, **overrides: Any) -> "InversionConfig":
        unknown = set(overrides) - {f.name for f in fields(self)}
        if unknown:
            raise DragInputError(f"unknown inversion setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **overrides)

    @property
    def total_steps(self) -> int:
        return self.w_steps + self.wplus_steps + self.pti_steps

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class InversionStep:
    """What a progress callback gets after every step."""

    stage: str
    step: int  # 1-based, counted over all stages
    total: int
    loss: float
    image: torch.Tensor  # the reconstruction this step was scored on, (1, C, H, W), detached


@dataclass
class InversionResult:
    ws: torch.Tensor  # (1, num_ws, w_dim): the pivot latent
    generator: Any  # the tuned copy (eval mode, frozen); the input generator when PTI did not run
    status: str  # done | cancelled | nonfinite
    steps: int
    losses: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0

    def image(self) -> torch.Tensor:
        with torch.no_grad():
            return self.generator.synthesis(self.ws, noise_mode="const")


class ReconstructionLoss:
    """The weighted loss against one fixed target; the target's deep features are computed once."""

    def __init__(self, target: torch.Tensor, config: InversionConfig, perceptual: PerceptualDistance | None = None):
        self.target, self.config = target, config
        self.perceptual = None
        if config.perceptual_weight:
            self.perceptual = (perceptual or PerceptualDistance()).to(target.device)
            with torch.no_grad():
                self.target_features = self.perceptual.features_of(target)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        config, target = self.config, self.target
        loss = image.new_zeros(())
        if config.pixel_weight:
            loss = loss + config.pixel_weight * ((image - target) ** 2).mean()
        if config.ssim_weight:
            loss = loss + config.ssim_weight * (1 - ms_ssim(image, target)).mean()
        if self.perceptual is not None:
            loss = loss + config.perceptual_weight * self.perceptual(image, self.target_features).mean()
        return loss


def w_statistics(G, samples: int, seed: int) -> tuple[torch.Tensor, float]:
    """The mapping's average w (1, w_dim) and the per-dimension spread of w around it, from
    `samples` random z (the stored w_avg is used as the centre when the model has one)."""
    device = G.mapping.w_avg.device
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(samples, G.z_dim, generator=gen).to(device)
    c = torch.zeros(samples, G.c_dim, device=device) if G.c_dim else None
    with torch.no_grad():
        w = G.mapping(z, c)[:, 0, :]
    centre = G.mapping.w_avg.detach().clone()
    if not torch.any(centre != 0):
        centre = w.mean(0)
    spread = float(((w - centre) ** 2).mean().sqrt())
    return centre.unsqueeze(0), spread


def check_target(G, target: torch.Tensor) -> None:
    res = G.img_resolution
    if target.ndim != 4 or tuple(target.shape) != (1, G.img_channels, res, res):
        raise DragInputError(f"the image to invert must be (1, {G.img_channels}, {res}, {res}) "
                             f"for this generator, got {tuple(target.shape)}")
    if not torch.isfinite(target).all():
        raise DragInputError("the image to invert contains NaN or infinite values")


class _Runner:
    """Shared step loop: counting, progress, cancellation and the non-finite guard."""

    def __init__(self, total: int, progress: Callable[[InversionStep], None] | None,
                 cancel: Callable[[], bool] | threading.Event | None):
        self.total = total
        self.progress = progress
        self.is_cancelled = cancel.is_set if isinstance(cancel, threading.Event) else cancel
        self.step = 0
        self.status = "done"
        self.losses: dict[str, list[float]] = {}

    def stop(self) -> bool:
        if self.status != "done":
            return True
        if self.is_cancelled is not None and self.is_cancelled():
            self.status = "cancelled"
        return self.status != "done"

    def record(self, stage: str, loss: torch.Tensor, image: torch.Tensor) -> bool:
        """Book one step; False (and status 'nonfinite') when the loss blew up."""
        value = float(loss.detach())
        if not math.isfinite(value):
            self.status = "nonfinite"
            return False
        self.step += 1
        self.losses.setdefault(stage, []).append(value)
        if self.progress is not None:
            self.progress(InversionStep(stage, self.step, self.total, value, image.detach()))
        return True


def invert(G, target: torch.Tensor, config: InversionConfig | None = None,
           progress: Callable[[InversionStep], None] | None = None,
           cancel: Callable[[], bool] | threading.Event | None = None,
           perceptual: PerceptualDistance | None = None, start: torch.Tensor | None = None) -> InversionResult:
    """Reconstruct `target` ((1, C, H, W) in [-1, 1]) with G. Cancelling keeps what was reached:
    the result is usable, only less faithful. `perceptual`: a loaded distance to reuse across calls.
    `start`: a W+ latent (1, num_ws, w_dim) to refine, e.g. an encoder's guess: the W stage is
    then skipped and W+ starts there."""
    config = config or InversionConfig()
    check_target(G, target)
    started = time.monotonic()
    target = target.to(G.mapping.w_avg.device, torch.float32)
    loss_fn = ReconstructionLoss(target, config, perceptual)
    if start is not None:
        if tuple(start.shape) != (1, G.num_ws, G.w_dim) or not torch.isfinite(start).all():
            raise DragInputError(f"a starting latent must be finite and (1, {G.num_ws}, {G.w_dim}), "
                                 f"got {tuple(start.shape)}")
        config = replace(config, w_steps=0)
    runner = _Runner(config.total_steps, progress, cancel)
    noise_rng = torch.Generator().manual_seed(config.seed)
    w_avg, spread = w_statistics(G, config.w_avg_samples, config.seed)
    spread = max(spread, 1e-8)

    noise_scale = config.noise_start * spread * math.sqrt(G.w_dim)
    ramp = max(config.w_steps * config.noise_ramp, 1)

    def w_noise(i: int) -> torch.Tensor:
        left = max(0.0, 1 - i / ramp)
        return torch.randn(w_avg.shape, generator=noise_rng).to(w_avg.device) * noise_scale * left**2

    if start is None:
        w = _fit_latent(G, loss_fn, runner, "w", w_avg, config.w_steps, config.w_lr * spread,
                        to_ws=lambda x: x.unsqueeze(1).repeat(1, G.num_ws, 1), noise=w_noise)
        start = w.unsqueeze(1).repeat(1, G.num_ws, 1)
    ws = _fit_latent(G, loss_fn, runner, "w+", start.to(w_avg.device, torch.float32), config.wplus_steps,
                     config.wplus_lr * spread, to_ws=lambda x: x)

    tuned = G
    if config.pti_steps and not runner.stop():
        tuned = pivotal_tuning(G, ws, loss_fn, runner)
    return InversionResult(ws, tuned, runner.status, runner.step, runner.losses, time.monotonic() - started)


def _fit_latent(G, loss_fn: ReconstructionLoss, runner: _Runner, stage: str, start: torch.Tensor,
                steps: int, lr: float, to_ws: Callable[[torch.Tensor], torch.Tensor],
                noise: Callable[[int], torch.Tensor] | None = None) -> torch.Tensor:
    """Adam on one latent tensor. Returns where it got to, or, if a loss turned non-finite, the
    last value that still scored a finite loss."""
    param = start.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([param], lr=lr, betas=(0.9, 0.999))
    for i in range(steps):
        if runner.stop():
            break
        scored = param.detach().clone()
        image = G.synthesis(to_ws(param if noise is None else param + noise(i)), noise_mode="const")
        loss = loss_fn(image)
        if not runner.record(stage, loss, image):
            return scored
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return param.detach().clone()


def pivotal_tuning(G, ws: torch.Tensor, loss_fn: ReconstructionLoss, runner: _Runner):
    """Fine-tune a copy of G's synthesis network so that G(ws) draws the target; a step that
    makes the loss non-finite is not kept."""
    tuned = copy.deepcopy(G).train(False)
    tuned.requires_grad_(False)
    params = [p for p in tuned.synthesis.parameters()]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=loss_fn.config.pti_lr)
    previous = None
    for _ in range(loss_fn.config.pti_steps):
        if runner.stop():
            break
        image = tuned.synthesis(ws, noise_mode="const")
        loss = loss_fn(image)
        if not runner.record("pti", loss, image):
            if previous is not None:
                with torch.no_grad():
                    for p, kept in zip(params, previous):
                        p.copy_(kept)
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if not all(torch.isfinite(p.grad).all() for p in params if p.grad is not None):
            runner.status = "nonfinite"
            break
        previous = [p.detach().clone() for p in params]
        opt.step()
    return tuned.requires_grad_(False)


def reconstruction_quality(result_image: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """PSNR (dB), SSIM and MS-SSIM of a reconstruction against its target."""
    with torch.no_grad():
        return {"psnr": float(psnr(result_image, target)[0]), "ssim": float(ssim(result_image, target)[0]),
                "ms_ssim": float(ms_ssim(result_image, target)[0])}
