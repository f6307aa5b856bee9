"""Training the inversion encoder against one generator.

Two kinds of example, in every batch:
- the generator's own samples, whose latents are known: the encoder is told the answer (a
  latent loss in units of w's spread), which pins the picture down without redrawing it;
- real training crops, whose latents nobody knows: judged by the redrawn picture (pixels plus
  the perceptual distance), which is what teaches it the faces users bring.
Only the real crops are redrawn (a batch of generated samples alone is judged by its pictures):
on a CPU the generator's backward pass and the perceptual network are most of a step's cost,
and the perceptual loss looks at the crops at 64 px rather than 128, four times cheaper.
Some samples get per-layer style mixing so the rows of W+ are not always equal: photos need
W+, and an encoder that only ever saw W would never use the extra freedom.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np
import torch

from .encoder import EncoderConfig, LatentEncoder
from .inversion import w_statistics
from .perceptual import PerceptualDistance


@dataclass(frozen=True)
class EncoderTrainConfig:
    steps: int = 3000
    batch: int = 16
    # 1e-3 trained the 142.3-kimg generator's encoder but diverged on the 324.9-kimg one (latent
    # loss 1 -> 385 by step 221, image loss 1.6 -> 29); 3e-4 fell steadily for 300 steps on the
    # same data. The guard below catches a divergence that comes later.
    lr: float = 3e-4
    guard_every: int = 50          # the loss is judged as a mean over windows of this many steps
    guard_ratio: float = 2.0       # a window this much worse than the best one so far: diverged
    real_fraction: float = 0.5     # share of each batch taken from real crops (when there are any)
    mixing: float = 0.5            # share of generated samples with per-layer style mixing
    latent_weight: float = 1.0
    pixel_weight: float = 1.0
    perceptual_weight: float = 1.0
    perceptual_size: int = 64      # input side of the perceptual network in the training loss
    min_lr_fraction: float = 0.05  # the step size decays (cosine) to this share of lr by the end
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EncoderStep:
    step: int
    total: int
    loss: float
    latent_loss: float
    image_loss: float


def sample_latents(G, n: int, mixing: float, gen: torch.Generator) -> torch.Tensor:
    """(n, num_ws, w_dim) latents the generator really produces: mapped z, and for a `mixing`
    share of them the rows from a random cutoff on taken from a second z."""
    z = torch.randn(n, G.z_dim, generator=gen)
    with torch.no_grad():
        ws = G.mapping(z, None)
        z2 = torch.randn(n, G.z_dim, generator=gen)
        ws2 = G.mapping(z2, None)
    cutoff = torch.randint(1, G.num_ws, (n,), generator=gen)
    mixed = torch.rand(n, generator=gen) < mixing
    rows = torch.arange(G.num_ws).view(1, -1, 1)
    take_second = (rows >= cutoff.view(-1, 1, 1)) & mixed.view(-1, 1, 1)
    return torch.where(take_second, ws2, ws)


def real_batch(images: np.ndarray, n: int, gen: torch.Generator) -> torch.Tensor:
    """n random crops (uint8 N x H x W x 3) as (n, 3, H, W) in [-1, 1], randomly mirrored."""
    idx = torch.randint(len(images), (n,), generator=gen).numpy()
    x = torch.from_numpy(images[idx]).permute(0, 3, 1, 2).float() / 127.5 - 1
    flip = torch.rand(n, generator=gen) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)


def encoder_loss(encoder: LatentEncoder, G, perceptual: PerceptualDistance, images: torch.Tensor,
                 known_ws: torch.Tensor | None, config: EncoderTrainConfig) -> tuple[torch.Tensor, float, float]:
    """Total loss and its latent and image parts. `known_ws` holds the true latents of the first
    len(known_ws) images (the generated ones); the rest are real photos, and only they are
    redrawn and compared as pictures (all of them when the batch has no real photo)."""
    pred = encoder(images)
    known = len(known_ws) if known_ws is not None else 0
    latent = images.new_zeros(())
    if known:
        latent = ((pred[:known] - known_ws) / encoder.w_spread).square().mean()
    judged = slice(known, None) if known < len(images) else slice(None)
    redrawn = G.synthesis(pred[judged], noise_mode="const")
    target = images[judged]
    image = config.pixel_weight * (redrawn - target).square().mean()
    image = image + config.perceptual_weight * perceptual(redrawn, target).mean()
    return config.latent_weight * latent + image, float(latent.detach()), float(image.detach())


def window_verdict(mean: float, best: float, ratio: float) -> str:
    """"better" (a new best window), "diverged" (more than `ratio` times the best: step back) or
    "steady". A mean that is not finite has diverged whatever the best was."""
    if not math.isfinite(mean) or mean > ratio * best:
        return "diverged"
    return "better" if mean < best else "steady"


def _snapshot(encoder: LatentEncoder) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in encoder.named_parameters()}


def _restore(encoder: LatentEncoder, snapshot: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for name, p in encoder.named_parameters():
            p.copy_(snapshot[name])


def decayed(done: float, floor: float) -> float:
    """Cosine decay from 1 to `floor` as `done` goes 0 -> 1: a run stopped by its time budget
    still ends with small steps, which settle the head instead of leaving it mid-jump."""
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(max(done, 0.0), 1.0)))


def build_encoder(G, perceptual: PerceptualDistance, samples: int = 2000, seed: int = 0) -> LatentEncoder:
    w_avg, spread = w_statistics(G, samples, seed)
    config = EncoderConfig(num_ws=G.num_ws, w_dim=G.w_dim)
    return LatentEncoder(config, w_avg, spread, perceptual.features)


def train_encoder(G, real_images: np.ndarray | None, config: EncoderTrainConfig, minutes: float | None = None,
                  progress: Callable[[EncoderStep], None] | None = None,
                  encoder: LatentEncoder | None = None) -> LatentEncoder:
    """Train (or continue training) an encoder for G; G itself is never changed. Stops after
    config.steps or `minutes`, whichever comes first.

    Guarded against divergence, which a time-budgeted run cannot afford to find out about at the
    end: the head's weights are kept from the best window of `guard_every` steps (the first step's
    loss, on the starting weights, is the first best), and a window `guard_ratio` times worse puts
    them back, resets Adam's moments and halves the step size. A run that ends diverged returns
    the best weights it had."""
    G.eval().requires_grad_(False)
    perceptual = PerceptualDistance(encoder.features if encoder is not None else None, config.perceptual_size)
    encoder = encoder if encoder is not None else build_encoder(G, perceptual, seed=config.seed)
    encoder.train().requires_grad_(True)  # only the head: the feature network holds buffers
    opt = torch.optim.Adam(encoder.parameters(), lr=config.lr)
    gen = torch.Generator().manual_seed(config.seed)
    n_real = round(config.batch * config.real_fraction) if real_images is not None and len(real_images) else 0
    started = time.monotonic()
    best, best_weights, window, lr_scale = math.inf, _snapshot(encoder), [], 1.0
    for step in range(1, config.steps + 1):
        done = (step - 1) / config.steps
        if minutes is not None:
            done = max(done, (time.monotonic() - started) / (minutes * 60))
        for group in opt.param_groups:
            group["lr"] = config.lr * lr_scale * decayed(done, config.min_lr_fraction)
        ws = sample_latents(G, config.batch - n_real, config.mixing, gen)
        with torch.no_grad():
            fake = G.synthesis(ws, noise_mode="const")
        images = torch.cat([fake, real_batch(real_images, n_real, gen)]) if n_real else fake
        loss, latent, image = encoder_loss(encoder, G, perceptual, images, ws, config)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress is not None:
            progress(EncoderStep(step, config.steps, float(loss.detach()), latent, image))
        window.append(float(loss.detach()))
        if step == 1:  # the starting weights' own loss: what the first window must not be far worse than
            best = window[0]
        if len(window) == config.guard_every:
            mean = sum(window) / len(window)
            verdict = window_verdict(mean, best, config.guard_ratio)
            if verdict == "better":
                best, best_weights = mean, _snapshot(encoder)
            elif verdict == "diverged":
                _restore(encoder, best_weights)
                opt = torch.optim.Adam(encoder.parameters(), lr=config.lr)
                lr_scale /= 2
            window = []
        if minutes is not None and time.monotonic() - started > minutes * 60:
            break
    if window and window_verdict(sum(window) / len(window), best, config.guard_ratio) == "diverged":
        _restore(encoder, best_weights)
    return encoder.eval().requires_grad_(False)
