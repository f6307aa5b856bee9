"""Image similarity measures usable both as losses (differentiable) and as reported figures.

SSIM compares local means, contrasts and correlations, so it rewards keeping structure (edges,
texture) that a pixel loss averages away; the multi-scale version repeats the contrast/structure
term on halved copies. The textbook 11-px window does not fit the coarse scales of a 64-px face,
so the window shrinks with the image; borders are mirrored for the filtering and, as in the
standard definition, left out of the average.

Images are NCHW tensors in [-1, 1] (generator range); the measures are computed on [0, 1].
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WINDOW = 11
SIGMA = 1.5
C1 = 0.01**2
C2 = 0.03**2
MIN_COARSEST_SIDE = 8


def gaussian_kernel(size: int, sigma: float) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    k = torch.exp(-(x**2) / (2 * sigma**2))
    return k / k.sum()


def _window_for(side: int) -> tuple[int, float]:
    """The standard 11-px / sigma 1.5 window, shrunk (odd, same shape) for images under 11 px."""
    size = min(WINDOW, side if side % 2 else side - 1)
    size = max(size, 1)
    return size, SIGMA * size / WINDOW


def _blur(x: torch.Tensor, size: int, sigma: float) -> torch.Tensor:
    if size == 1:
        return x
    c = x.shape[1]
    k = gaussian_kernel(size, sigma).to(x)
    pad = size // 2
    x = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, size).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(x, k.view(1, 1, size, 1).repeat(c, 1, 1, 1), groups=c)


def _ssim_terms(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image mean SSIM and mean contrast-structure term, inputs in [0, 1]."""
    size, sigma = _window_for(min(x.shape[-2:]))
    mx, my = _blur(x, size, sigma), _blur(y, size, sigma)
    vx = _blur(x * x, size, sigma) - mx * mx
    vy = _blur(y * y, size, sigma) - my * my
    cov = _blur(x * y, size, sigma) - mx * my
    cs = (2 * cov + C2) / (vx + vy + C2)
    lum = (2 * mx * my + C1) / (mx * mx + my * my + C1)
    pad = size // 2
    if min(x.shape[-2:]) > 2 * pad:  # average where the window lies inside the image, as is standard
        cs, lum = cs[..., pad:-pad or None, pad:-pad or None], lum[..., pad:-pad or None, pad:-pad or None]
    return (lum * cs).flatten(1).mean(1), cs.flatten(1).mean(1)


def _check(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"expected two NCHW images of the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Structural similarity per image, (N,), 1 for identical images."""
    _check(x, y)
    return _ssim_terms((x + 1) / 2, (y + 1) / 2)[0]


def num_scales(side: int) -> int:
    """As many halvings as keep the coarsest image at least 8 px, at most the standard five."""
    return max(1, min(len(MS_SSIM_WEIGHTS), 1 + int(math.floor(math.log2(max(side, 1) / MIN_COARSEST_SIDE)))))


def ms_ssim(x: torch.Tensor, y: torch.Tensor, scales: int | None = None) -> torch.Tensor:
    """Multi-scale SSIM per image, (N,), with the standard scale weights renormalised to the
    scales used. Terms are floored at a small positive value so the fractional powers keep a
    finite gradient when a term dips to or below zero early in an optimisation."""
    _check(x, y)
    scales = scales or num_scales(min(x.shape[-2:]))
    weights = torch.tensor(MS_SSIM_WEIGHTS[:scales], dtype=x.dtype, device=x.device)
    weights = weights / weights.sum()
    x, y = (x + 1) / 2, (y + 1) / 2
    out = torch.ones(x.shape[0], dtype=x.dtype, device=x.device)
    for j in range(scales):
        full, cs = _ssim_terms(x, y)
        term = full if j == scales - 1 else cs
        out = out * term.clamp_min(1e-6) ** weights[j]
        if j < scales - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    return out


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image, (N,), for the [-1, 1] range (peak-to-peak 2),
    i.e. the same figure as on 8-bit pixels."""
    _check(x, y)
    mse = ((x - y) ** 2).flatten(1).mean(1).clamp_min(1e-12)
    return 10 * torch.log10(4.0 / mse)
