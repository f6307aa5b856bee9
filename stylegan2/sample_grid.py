"""Sample grids: many seeds tiled into one PNG, the quickest way to judge a generator by eye."""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image

from .imaging import to_uint8
from .networks import Generator


def tile(images: np.ndarray, cols: int | None = None) -> np.ndarray:
    """(N, H, W, C) uint8 -> one (rows*H, cols*W, C) image, row-major, black where N < rows*cols."""
    n, h, w, c = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = np.zeros((rows * h, cols * w, c), dtype=np.uint8)
    for i, img in enumerate(images):
        r, k = divmod(i, cols)
        out[r * h:(r + 1) * h, k * w:(k + 1) * w] = img
    return out


@torch.no_grad()
def generate_images(G: Generator, z: torch.Tensor, psi: float = 1.0, batch_size: int = 32,
                    noise_mode: str = "const") -> np.ndarray:
    """(N, H, W, 3) uint8 for latents z, in batches on G's device."""
    device = G.mapping.w_avg.device
    out = []
    for start in range(0, z.shape[0], batch_size):
        zb = z[start:start + batch_size].to(device)
        ws = G.mapping(zb, None, truncation_psi=psi)
        out.append(to_uint8(G.synthesis(ws, noise_mode=noise_mode, fused_modconv=False)))
    return np.concatenate(out)


def seed_latents(G: Generator, seeds: list[int]) -> torch.Tensor:
    return torch.cat([G.z_from_seed(s) for s in seeds])


def save_grid(G: Generator, path, seeds: list[int], psi: float = 1.0, cols: int | None = None) -> np.ndarray:
    grid = tile(generate_images(G, seed_latents(G, seeds), psi=psi), cols)
    Image.fromarray(grid).save(path)
    return grid
