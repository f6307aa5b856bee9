"""A projected discriminator (Sauer et al., "Projected GANs Converge Faster", NeurIPS 2021).

A plain discriminator must learn what a face looks like from the same few thousand images the
generator is learning from, which on 2 CPU cores takes most of the budget. Here the images go
through a frozen ImageNet network (EfficientNet-Lite0, `stylegan2.efficientnet`) and small
trainable heads judge its features at four scales, so D gives meaningful gradients from the
first steps.

Design choices and why:
- Fixed random 1x1 projections mix channels (CCM) and add each coarser level into the finer one
  (CSM, top-down). Random and frozen, as in the paper: they spread the pretrained features over
  more channels so D cannot latch onto a few of them, at no training cost. They are regenerated
  from `projection_seed`, so only the heads enter a checkpoint.
- Heads use spectral normalisation and no BatchNorm: with separate real and fake forward passes
  BatchNorm normalises each batch on its own and hides how alike the fakes are (the low-diversity
  failure seen in a BatchNorm probe here); a minibatch standard-deviation channel before each
  head's last layer lets D see that spread instead.
- D sees images clamped to [-1, 1]: StyleGAN2's linear RGB output can drift outside the range
  real images occupy, and the frozen features reward that drift. The clamp passes gradients
  straight through (identity backward): a plain clamp has zero gradient outside the range, so a
  pixel that once overshoots never hears from D again, and a probe here ended in saturated noise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .efficientnet import FEATURE_CHANNELS, EfficientNetLite0Features

KIND = "projected"


@dataclass(frozen=True)
class ProjectedConfig:
    img_resolution: int = 64
    input_size: int = 128            # images are resized to this before the feature network
    projection_channels: tuple[int, ...] = (64, 128, 256, 512)
    head_channels: int = 256         # widest head layer (finer heads are narrower, see head_width)
    projection_seed: int = 0
    mbstd_group_size: int = 4
    kind: str = KIND

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ProjectedConfig":
        d = dict(d)
        d["projection_channels"] = tuple(d.get("projection_channels", cls.projection_channels))
        return cls(**d)


def random_projection(in_channels: int, out_channels: int, gen: torch.Generator) -> torch.Tensor:
    """A 1x1 conv weight with unit-variance outputs for unit-variance inputs (He-style scaling)."""
    return torch.randn([out_channels, in_channels, 1, 1], generator=gen) / in_channels ** 0.5


class RandomProjection(nn.Module):
    """Cross-channel (per level) and cross-scale (coarse into fine) mixing with frozen weights."""

    def __init__(self, in_channels: tuple[int, ...], out_channels: tuple[int, ...], seed: int):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        for i, (cin, cout) in enumerate(zip(in_channels, out_channels)):
            self.register_buffer(f"ccm{i}", random_projection(cin, cout, gen), persistent=False)
        for i in range(len(out_channels) - 1):
            self.register_buffer(f"csm{i}", random_projection(out_channels[i + 1], out_channels[i], gen),
                                 persistent=False)
        self.levels = len(out_channels)

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        mixed = [F.conv2d(f, getattr(self, f"ccm{i}").to(f.dtype)) for i, f in enumerate(features)]
        out = [mixed[-1]]
        for i in reversed(range(self.levels - 1)):
            coarse = F.conv2d(out[0], getattr(self, f"csm{i}").to(out[0].dtype))
            coarse = F.interpolate(coarse, size=mixed[i].shape[-2:], mode="bilinear", align_corners=False)
            out.insert(0, mixed[i] + coarse)
        return out


def minibatch_std(x: torch.Tensor, group_size: int) -> torch.Tensor:
    """Append one channel: the feature standard deviation across a group of samples, averaged.
    Samples that look alike give a small value, which D can hold against the fakes."""
    n, c, h, w = x.shape
    g = min(group_size, n)
    if n % g:
        g = 1
    y = x.float().reshape(g, -1, c, h, w)
    y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=[1, 2, 3])
    y = y.reshape(-1, 1, 1, 1).repeat(g, 1, h, w).to(x.dtype)
    return torch.cat([x, y], dim=1)


def straight_through_clamp(x: torch.Tensor) -> torch.Tensor:
    """clamp(x, -1, 1) forward, identity backward."""
    return x + (x.clamp(-1, 1) - x).detach()


def head_width(resolution: int, widest: int) -> int:
    """Channels of a head layer at a feature resolution: half as many per doubling, at least 32."""
    return max(32, min(widest, widest * 8 // resolution))


class ProjectedHead(nn.Module):
    """One scale's judge: strided 4x4 convs down to 8x8 (or the map's own size if smaller), then a
    minibatch-stddev channel and a 4x4 conv to a map of logits."""

    def __init__(self, in_channels: int, resolution: int, widest: int, mbstd_group_size: int):
        super().__init__()
        self.mbstd_group_size = mbstd_group_size
        layers: list[nn.Module] = []
        channels, res = in_channels, resolution
        while res > 8:
            out = head_width(res // 2, widest)
            layers += [spectral_norm(nn.Conv2d(channels, out, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            channels, res = out, res // 2
        self.body = nn.Sequential(*layers)
        self.out = spectral_norm(nn.Conv2d(channels + 1, 1, min(4, res)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(minibatch_std(self.body(x), self.mbstd_group_size)).flatten(1)


class ProjectedDiscriminator(nn.Module):
    """Images (N, 3, R, R) in [-1, 1] -> (N, L) logits, L summed over the four scales' maps.

    Only the heads are parameters; the feature network and projections are frozen buffers."""

    def __init__(self, config: ProjectedConfig, features: EfficientNetLite0Features | None = None):
        super().__init__()
        self.config = config
        self.features = features if features is not None else EfficientNetLite0Features()
        self.projection = RandomProjection(FEATURE_CHANNELS, config.projection_channels, config.projection_seed)
        resolutions = [config.input_size // s for s in (4, 8, 16, 32)]
        self.heads = nn.ModuleList(
            ProjectedHead(c, r, config.head_channels, config.mbstd_group_size)
            for c, r in zip(config.projection_channels, resolutions))

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = straight_through_clamp(img)
        if x.shape[-1] != self.config.input_size:
            x = F.interpolate(x, size=(self.config.input_size,) * 2, mode="bilinear", align_corners=False)
        levels = self.projection(self.features(x))
        return torch.cat([head(f) for head, f in zip(self.heads, levels)], dim=1)


def hinge_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Hinge loss: logits past +-1 stop pulling D further, which keeps a strong pretrained D from
    running away from G (the loss Projected GANs train with)."""
    return F.relu(1 - real_logits.float()).mean() + F.relu(1 + fake_logits.float()).mean()


def hinge_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return -fake_logits.float().mean()
