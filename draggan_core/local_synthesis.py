"""Synthesis of one block's features on small windows only.

Every synthesis layer is local (3x3 convolutions, a 4-tap upsampling filter, per-pixel noise,
per-channel bias and activation; the style modulation does not depend on position). A window
of block k's output therefore depends only on a slightly larger window of block k-1's output,
and so on down to the block where the windows stop being small; from there on the map is
computed in full, once, and shared by every window. Zero padding happens only at the real image
border: windows are clipped to the map, and whatever is computed next to an interior window edge
(wrong, because the conv saw zeros there) is cut off before it is used.

The modulated convolutions take the non-fused path (scale the activations, convolve with the
frozen weights): the gradient then needs no weight-gradient convolution, which halves the
backward pass; it agrees with the fused path to ~1e-6 (the fixtures README measured the same
for the official code, with identical tracked points).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from stylegan2 import Generator
from stylegan2.networks import SynthesisBlock, SynthesisLayer
from stylegan2.ops import bias_act, modulated_conv2d

UP_MARGIN = 2  # input pixels of context the upsampling conv needs on each side
FULL_AREA_FRACTION = 0.5  # compute the whole map once windows would cover this much of it
MIN_WINDOW_RESOLUTION = 32  # blocks up to this resolution are cheap: compute them in full


@dataclass(frozen=True)
class Window:
    """Rows [top, bottom) and columns [left, right) of a block's map."""

    top: int
    bottom: int
    left: int
    right: int

    def grow(self, by: int, size: int) -> "Window":
        return Window(max(self.top - by, 0), min(self.bottom + by, size),
                      max(self.left - by, 0), min(self.right + by, size))

    def halve(self, margin: int, size: int) -> "Window":
        """The window of the previous (half-resolution) block an upsampling conv needs."""
        return Window(max(self.top // 2 - margin, 0), min((self.bottom + 1) // 2 + margin, size),
                      max(self.left // 2 - margin, 0), min((self.right + 1) // 2 + margin, size))

    @property
    def area(self) -> int:
        return (self.bottom - self.top) * (self.right - self.left)

    def crop(self, x: torch.Tensor, origin: "Window") -> torch.Tensor:
        """This window cut out of `x`, which holds the map on `origin`."""
        return x[:, :, self.top - origin.top:self.bottom - origin.top, self.left - origin.left:self.right - origin.left]


def _local(block: SynthesisBlock) -> bool:
    """Whether the margins above hold for this block: 3x3 convs, a 4-tap (4x4) upsampling filter
    and no resnet skip, which is every official generator. Blocks built otherwise (a network
    pickle may ask for any kernel, filter or architecture) are synthesised in full."""
    return (block.in_channels != 0 and block.architecture != "resnet"
            and block.conv0.weight.shape[-2:] == block.conv1.weight.shape[-2:] == (3, 3)
            and block.conv0.resample_filter.shape == (4, 4))


def _layer(layer: SynthesisLayer, x: torch.Tensor, w: torch.Tensor, out: Window) -> torch.Tensor:
    """`SynthesisLayer.forward` (noise_mode="const") on a window: `out` is where its output lies."""
    styles = layer.affine(w)
    noise = None
    if layer.use_noise:
        noise = layer.noise_const[out.top:out.bottom, out.left:out.right] * layer.noise_strength
    x = modulated_conv2d(x, layer.weight, styles, noise=noise, up=layer.up, padding=layer.padding,
                         resample_filter=layer.resample_filter, flip_weight=(layer.up == 1), fused_modconv=False)
    return bias_act(x, layer.bias.to(x.dtype), act=layer.activation, gain=layer.act_gain, clamp=layer.conv_clamp)


class WindowedSynthesis:
    """Block `block`'s features on windows, for one latent; the shared full map is computed once."""

    def __init__(self, G: Generator, ws: torch.Tensor, block: int):
        self.G = G
        self.ws = ws.to(torch.float32)
        self.block = block
        self.blocks = G.synthesis.blocks
        self._full: dict[int, torch.Tensor] = {}

    def full(self, k: int) -> torch.Tensor:
        if k not in self._full:
            self._full[k] = self.G.synthesis(self.ws, noise_mode="const", until_block=k, fused_modconv=False)
        return self._full[k]

    def window(self, win: Window, k: int | None = None) -> torch.Tensor:
        """Block k's output (1, C, h, w) on `win` (block k's pixel coordinates)."""
        k = self.block if k is None else k
        blk = self.blocks[k]
        res = blk.resolution
        mid = win.grow(1, res)  # conv1 (3x3) needs one more pixel of conv0's output
        if (not _local(blk) or res <= MIN_WINDOW_RESOLUTION or k in self._full
                or mid.area >= FULL_AREA_FRACTION * res * res):
            return win.crop(self.full(k), Window(0, res, 0, res))
        below = mid.halve(UP_MARGIN, res // 2)
        x = self.window(below, k - 1)
        up_out = Window(2 * below.top, 2 * below.bottom, 2 * below.left, 2 * below.right)
        first = 2 * k - 1
        y = _layer(blk.conv0, x, self.ws[:, first], up_out)
        y = mid.crop(y, up_out)
        z = _layer(blk.conv1, y, self.ws[:, first + 1], mid)
        return win.crop(z, mid)
