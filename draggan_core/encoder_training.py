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
    lr: float = 1e-3
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
    config.steps or `minutes`, whichever comes first."""
    G.eval().requires_grad_(False)
    perceptual = PerceptualDistance(encoder.features if encoder is not None else None, config.perceptual_size)
    encoder = encoder if encoder is not None else build_encoder(G, perceptual, seed=config.seed)
    encoder.train().requires_grad_(True)  # only the head: the feature network holds buffers
    opt = torch.optim.Adam(encoder.parameters(), lr=config.lr)
    gen = torch.Generator().manual_seed(config.seed)
    n_real = round(config.batch * config.real_fraction) if real_images is not None and len(real_images) else 0
    started = time.monotonic()
    for step in range(1, config.steps + 1):
        done = (step - 1) / config.steps
        if minutes is not None:
            done = max(done, (time.monotonic() - started) / (minutes * 60))
        for group in opt.param_groups:
            group["lr"] = config.lr * decayed(done, config.min_lr_fraction)
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
        if minutes is not None and time.monotonic() - started > minutes * 60:
            break
    return encoder.eval().requires_grad_(False)
