"""A window of the image-resolution feature map, with the pixel where it starts.

The loss and the tracking only ever look at a few pixels around each point, so they take a
`FeaturePatch` rather than the full resized map; the full map is just a patch at (0, 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class FeaturePatch:
    values: torch.Tensor  # (C, h, w) features at image resolution
    top: int  # image row of values[:, 0, :]
    left: int  # image column of values[:, :, 0]
    height: int  # full image height (for the borders)
    width: int

    def covers(self, rows: torch.Tensor, cols: torch.Tensor) -> bool:
        h, w = self.values.shape[-2:]
        return bool(rows.numel() == 0 or (rows.min() >= self.top and rows.max() < self.top + h
                                          and cols.min() >= self.left and cols.max() < self.left + w))

    def at(self, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        """Features (C, n) at integer image pixels that lie inside the patch."""
        return self.values[:, rows - self.top, cols - self.left]

    def feature(self, point: tuple[float, float]) -> torch.Tensor:
        """The feature (C,) at a point (x, y): read directly at a pixel, bilinear between pixels."""
        x, y = point
        if float(x).is_integer() and float(y).is_integer():
            return self.at(torch.tensor([int(y)]), torch.tensor([int(x)]))[:, 0]
        return self.sample(torch.tensor([float(y)]), torch.tensor([float(x)]))[:, 0]

    def window(self, row0: int, row1: int, col0: int, col1: int) -> torch.Tensor:
        """Features (C, row1-row0, col1-col0) of an image-pixel window inside the patch."""
        return self.values[:, row0 - self.top:row1 - self.top, col0 - self.left:col1 - self.left]

    def sample(self, ys: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
        """Bilinear values (C, n) at fractional image positions, zero outside the image: what
        `grid_sample(..., align_corners=True, padding_mode="zeros")` gives on the full map."""
        y0 = torch.floor(ys)
        x0 = torch.floor(xs)
        fy = ys - y0
        fx = xs - x0
        y0 = y0.long()
        x0 = x0.long()
        out = 0
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                r = y0 + dy
                c = x0 + dx
                inside = (r >= 0) & (r < self.height) & (c >= 0) & (c < self.width)
                r = torch.where(inside, r, torch.full_like(r, self.top))
                c = torch.where(inside, c, torch.full_like(c, self.left))
                weight = wy * wx * inside.to(wy.dtype)
                out = out + self.at(r, c) * weight
        return out
