"""Block features at image resolution, computed only where the drag looks at them.

The official renderer synthesises the whole image, then resizes the chosen block's feature map
to the image size and samples it. The loss and the tracking touch only windows around the
handles, so the session computes (a) the block's map only (`until_block`, no RGB, no later
blocks) and (b) the bilinear resize only on those windows, from the low-resolution map, with
the same weights `F.interpolate(mode="bilinear", align_corners=False)` uses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from stylegan2 import Generator

from .local_synthesis import Window, WindowedSynthesis
from .patch import FeaturePatch


def resize_matrix(out_index: torch.Tensor, in_size: int, out_size: int) -> torch.Tensor:
    """(len(out_index), in_size) weights of bilinear resizing (align_corners=False) from `in_size`
    to `out_size` samples, for the output samples listed; rows for indices outside the output
    are zero (the zero padding of `grid_sample`)."""
    scale = in_size / out_size
    idx = out_index.to(torch.float32)
    src = (scale * (idx + 0.5) - 0.5).clamp(min=0)
    i0 = src.floor().long().clamp(max=in_size - 1)
    i1 = torch.where(i0 < in_size - 1, i0 + 1, i0)
    frac = src - i0.to(torch.float32)
    m = torch.zeros(len(out_index), in_size)
    rows = torch.arange(len(out_index))
    m.index_put_((rows, i1), frac, accumulate=True)
    m.index_put_((rows, i0), 1 - frac, accumulate=True)
    inside = ((out_index >= 0) & (out_index < out_size)).to(torch.float32)
    return m * inside[:, None]


def resize_full(low: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The official full resize, (1, C, H, W)."""
    if low.shape[-2:] == (height, width):
        return low
    return F.interpolate(low, [height, width], mode="bilinear", align_corners=False)


class BlockFeatures:
    """Features of one synthesis block for a generator, full or windowed."""

    def __init__(self, G: Generator, block: int):
        self.G = G
        self.block = block
        self.height = self.width = G.img_resolution

    def low(self, ws: torch.Tensor) -> torch.Tensor:
        """The block's own map (1, C, r, r), nothing after it computed."""
        return self.G.synthesis(ws, noise_mode="const", until_block=self.block, fused_modconv=False)

    def full_patch(self, low: torch.Tensor) -> FeaturePatch:
        values = resize_full(low, self.height, self.width)[0]
        return FeaturePatch(values, 0, 0, self.height, self.width)

    def window_patches(self, ws: torch.Tensor, centers: list[tuple[int, int]], half: int,
                       low: torch.Tensor | None = None) -> list[FeaturePatch]:
        """Resized features of the square windows of half-size `half` around each center (x, y),
        clipped to the image. They are cut from the block's full map `low` when one is given,
        otherwise only what the windows depend on is synthesised."""
        res = self.G.synthesis.blocks[self.block].resolution
        synth = WindowedSynthesis(self.G, ws, self.block) if low is None else None
        patches = []
        for x, y in centers:
            top, bottom = max(y - half, 0), min(y + half + 1, self.height)
            left, right = max(x - half, 0), min(x + half + 1, self.width)
            my = resize_matrix(torch.arange(top, bottom), res, self.height)
            mx = resize_matrix(torch.arange(left, right), res, self.width)
            rows = my.abs().sum(0).nonzero()[:, 0]
            cols = mx.abs().sum(0).nonzero()[:, 0]
            win = Window(int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)
            cut = synth.window(win) if synth is not None else win.crop(low, Window(0, res, 0, res))
            values = torch.einsum("yi,cij,xj->cyx", my[:, win.top:win.bottom], cut[0], mx[:, win.left:win.right])
            patches.append(FeaturePatch(values, top, left, self.height, self.width))
        return patches
