"""Generator output <-> pixels, with the official mapping (x * 127.5 + 128, clamped)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) or (C, H, W) in about [-1, 1] -> (N, H, W, C) or (H, W, C) uint8."""
    x = (img.detach().to(torch.float32) * 127.5 + 128).clamp(0, 255).to(torch.uint8).cpu()
    return (x.permute(0, 2, 3, 1) if x.ndim == 4 else x.permute(1, 2, 0)).numpy()


def to_pil(img: torch.Tensor) -> Image.Image:
    arr = to_uint8(img[0] if img.ndim == 4 else img)
    return Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)


def from_uint8(arr: np.ndarray) -> torch.Tensor:
    """(H, W, C) uint8 -> (1, C, H, W) float in [-1, 1], the inverse used for inversion targets."""
    x = torch.from_numpy(np.ascontiguousarray(arr)).to(torch.float32)
    return (x.permute(2, 0, 1).unsqueeze(0) - 127.5) / 127.5
