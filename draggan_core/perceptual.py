"""A perceptual distance that sees faces: LPIPS-style comparison of deep ImageNet features.

Pixel error and MS-SSIM reward a blurry average: a reconstruction that misses an eyelid by a
pixel scores almost as well as one that has it. Distances between deep features (Zhang et al.,
"The Unreasonable Effectiveness of Deep Features as a Perceptual Metric", 2018) punish exactly
the missing structure. LPIPS proper adds weights learned from human judgements, which cannot be
had offline here; its un-learned variant -- each layer's features scaled to unit length per
position, squared differences averaged over space, layers averaged -- already tracks perception
far better than pixels, and needs only the frozen EfficientNet-Lite0 that ships as a package.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from stylegan2.efficientnet import EfficientNetLite0Features


def unit_channels(x: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Scale the channel vector at every position to unit length (LPIPS' normalisation): each
    layer then counts by the direction of its features, not by their magnitude."""
    return x / (x.square().sum(dim=1, keepdim=True) + eps).sqrt()


def feature_distance(a: list[torch.Tensor], b: list[torch.Tensor]) -> torch.Tensor:
    """(N,) distance between two lists of feature maps: per layer, the squared difference of
    unit-normalised features summed over channels and averaged over positions; layers averaged."""
    per_layer = [(unit_channels(x) - unit_channels(y)).square().sum(dim=1).mean(dim=[1, 2]) for x, y in zip(a, b)]
    return torch.stack(per_layer).mean(dim=0)


class PerceptualDistance(nn.Module):
    """d(image, target) for images in [-1, 1]; 64-px faces are upsampled so the finest feature
    layer still sees eyes and mouth at a few pixels each. `features_of` lets a loop compute a
    fixed target's features once."""

    def __init__(self, features: EfficientNetLite0Features | None = None, input_size: int = 128):
        super().__init__()
        self.features = features if features is not None else EfficientNetLite0Features()
        self.input_size = input_size

    def features_of(self, img: torch.Tensor) -> list[torch.Tensor]:
        if img.shape[-1] != self.input_size:
            img = F.interpolate(img, size=(self.input_size,) * 2, mode="bilinear", align_corners=False)
        return self.features(img.float())

    def forward(self, img: torch.Tensor, target: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        target_features = target if isinstance(target, list) else self.features_of(target)
        return feature_distance(self.features_of(img), target_features)
