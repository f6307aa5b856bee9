"""StyleGAN2 discriminator (resnet architecture) with NVIDIA's module layout and parameter names.

Names follow `stylegan2-ada-pytorch`'s `Discriminator` (`b64.fromrgb`, `b32.conv0`, `b4.mbstd`,
`b4.fc`, `b4.out`, ...) so a D from an official pickle could be fine-tuned here and the training
checkpoints read the same to anyone who knows the official code. Unconditional only: the
project trains one face model and never needs class labels.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from .networks import Conv2dLayer, FullyConnectedLayer


@dataclass(frozen=True)
class DiscriminatorConfig:
    img_resolution: int = 64
    img_channels: int = 3
    channel_base: int = 4096
    channel_max: int = 256
    conv_clamp: float | None = 256
    mbstd_group_size: int = 4
    mbstd_num_channels: int = 1

    def channels(self, res: int) -> int:
        return min(self.channel_base // res, self.channel_max)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DiscriminatorConfig":
        return cls(**d)


class DiscriminatorBlock(nn.Module):
    """fromrgb (first block only) -> conv0 -> conv1 (down 2), plus a 1x1 down-sampling skip;
    both branches scaled by sqrt(1/2) so the sum keeps unit variance."""

    def __init__(self, in_channels: int, tmp_channels: int, out_channels: int, img_channels: int,
                 conv_clamp: float | None = None):
        super().__init__()
        self.in_channels = in_channels
        if in_channels == 0:
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, 1, activation="lrelu", conv_clamp=conv_clamp)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3, activation="lrelu", conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, activation="lrelu", down=2, conv_clamp=conv_clamp)
        self.skip = Conv2dLayer(tmp_channels, out_channels, 1, bias=False, down=2)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor) -> torch.Tensor:
        if self.in_channels == 0:
            x = self.fromrgb(img)
        y = self.skip(x, gain=math.sqrt(0.5))
        x = self.conv1(self.conv0(x), gain=math.sqrt(0.5))
        return y + x


def minibatch_stddev(x: torch.Tensor, group_size: int, num_channels: int = 1) -> torch.Tensor:
    """Append the standard deviation across small groups of samples as extra feature maps,
    so D can see a lack of variety (mode collapse) within a batch.

    Groups are samples i, i + N/G, i + 2N/G, ... as in the official layer; N must be divisible
    by the group size (smaller batches use the whole batch as one group)."""
    n, c, h, w = x.shape
    g = min(group_size, n)
    if n % g:
        raise ValueError(f"batch size {n} is not divisible by the minibatch-stddev group size {g}")
    y = x.reshape(g, -1, num_channels, c // num_channels, h, w).float()
    y = (y - y.mean(dim=0)).square().mean(dim=0)
    y = (y + 1e-8).sqrt().mean(dim=[2, 3, 4])
    y = y.reshape(-1, num_channels, 1, 1).repeat(g, 1, h, w).to(x.dtype)
    return torch.cat([x, y], dim=1)


class MinibatchStdLayer(nn.Module):
    def __init__(self, group_size: int, num_channels: int = 1):
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return minibatch_stddev(x, self.group_size, self.num_channels)


class DiscriminatorEpilogue(nn.Module):
    """4x4 head: minibatch stddev -> 3x3 conv -> fully connected -> one logit."""

    def __init__(self, in_channels: int, resolution: int, mbstd_group_size: int = 4, mbstd_num_channels: int = 1,
                 conv_clamp: float | None = None):
        super().__init__()
        self.mbstd = MinibatchStdLayer(mbstd_group_size, mbstd_num_channels) if mbstd_num_channels > 0 else None
        self.conv = Conv2dLayer(in_channels + mbstd_num_channels, in_channels, 3, activation="lrelu",
                                conv_clamp=conv_clamp)
        self.fc = FullyConnectedLayer(in_channels * resolution**2, in_channels, activation="lrelu")
        self.out = FullyConnectedLayer(in_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.conv(x)
        x = self.fc(x.flatten(1).to(torch.float32))
        return self.out(x)


class Discriminator(nn.Module):
    def __init__(self, config: DiscriminatorConfig):
        super().__init__()
        self.config = config
        res = config.img_resolution
        if res < 8 or res & (res - 1):
            raise ValueError(f"discriminator resolution must be a power of two >= 8, got {res}")
        self.block_resolutions = [2**i for i in range(int(math.log2(res)), 2, -1)]
        for r in self.block_resolutions:
            block = DiscriminatorBlock(config.channels(r) if r < res else 0, config.channels(r),
                                       config.channels(r // 2), config.img_channels, conv_clamp=config.conv_clamp)
            setattr(self, f"b{r}", block)
        self.b4 = DiscriminatorEpilogue(config.channels(4), 4, config.mbstd_group_size, config.mbstd_num_channels,
                                        conv_clamp=config.conv_clamp)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """Logits (N, 1) for images (N, C, H, W) in about [-1, 1]."""
        x = None
        for r in self.block_resolutions:
            x = getattr(self, f"b{r}")(x, img)
        return self.b4(x)
