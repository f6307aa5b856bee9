"""Images as half-block terminal cells, with the drag's points and mask drawn over them.

A cell shows two stacked pixels: the upper one as the foreground colour of '▀', the lower one as
the background. Terminal cells are about twice as tall as wide, so these pixels are close to
square and need nothing but true colour. The same `Fit` that places the picture in the cells maps
a clicked cell back to image pixels, so what the user clicks is where the handle lands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image

Point = tuple[float, float]

HANDLE_RGB = (235, 45, 45)
TARGET_RGB = (50, 120, 255)
TRACKED_RGB = (255, 150, 40)
LINK_RGB = (235, 235, 235)
MASK_RGB = (255, 220, 0)
BACKGROUND_RGB = (16, 16, 20)


@dataclass(frozen=True)
class Fit:
    """Where an `image_w` x `image_h` picture lands in a box of cells.

    `scale` is display pixels per image pixel; the display picture is `disp_w` x `disp_h`
    half-block pixels, its top-left at cell (`off_x`, `off_y`).
    """

    image_w: int
    image_h: int
    scale: float
    disp_w: int
    disp_h: int
    off_x: int
    off_y: int

    @property
    def cells_h(self) -> int:
        return (self.disp_h + 1) // 2

    def cell_to_pixel(self, cx: int, cy: int) -> Point | None:
        """Image coordinates under the centre of cell (cx, cy), or None off the picture."""
        dx, cy_rel = cx - self.off_x, cy - self.off_y
        if not (0 <= dx < self.disp_w and 0 <= cy_rel < self.cells_h):
            return None
        # A cell spans display rows 2*cy_rel and 2*cy_rel + 1; its centre is the line between them.
        x = (dx + 0.5) / self.scale - 0.5
        y = (2 * cy_rel + 1) / self.scale - 0.5
        x = min(max(x, 0.0), self.image_w - 1.0)
        y = min(max(y, 0.0), self.image_h - 1.0)
        return (round(x, 1), round(y, 1))

    def pixel_to_display(self, x: float, y: float) -> tuple[int, int]:
        """Display pixel that shows image point (x, y) (pixel centres at integer coordinates)."""
        dx = int(np.floor((x + 0.5) * self.scale))
        dy = int(np.floor((y + 0.5) * self.scale))
        return min(max(dx, 0), self.disp_w - 1), min(max(dy, 0), self.disp_h - 1)


def fit_image(image_w: int, image_h: int, cells_w: int, cells_h: int) -> Fit:
    """The largest aspect-preserving placement of the picture, centred in the cells."""
    if image_w <= 0 or image_h <= 0:
        raise ValueError("image has no pixels")
    cells_w, cells_h = max(cells_w, 1), max(cells_h, 1)
    scale = min(cells_w / image_w, 2 * cells_h / image_h)
    disp_w = max(1, min(cells_w, int(round(image_w * scale))))
    disp_h = max(1, min(2 * cells_h, int(round(image_h * scale))))
    off_x = (cells_w - disp_w) // 2
    off_y = (cells_h - (disp_h + 1) // 2) // 2
    return Fit(image_w, image_h, scale, disp_w, disp_h, off_x, off_y)


def _resize(image: np.ndarray, w: int, h: int) -> np.ndarray:
    if image.shape[1] == w and image.shape[0] == h:
        return image.copy()
    upscale = w >= image.shape[1]
    method = Image.Resampling.NEAREST if upscale else Image.Resampling.BOX
    return np.array(Image.fromarray(image).resize((w, h), method))


def mask_outline(mask: np.ndarray) -> np.ndarray:
    """True on mask pixels that touch a pixel outside the mask (4-neighbourhood) or the border."""
    m = np.pad(mask.astype(bool), 1, constant_values=False)
    inner = m[1:-1, 1:-1]
    interior = inner & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
    return inner & ~interior


def _line(canvas: np.ndarray, a: tuple[int, int], b: tuple[int, int], rgb: tuple[int, int, int]) -> None:
    n = max(abs(b[0] - a[0]), abs(b[1] - a[1]), 1)
    xs = np.rint(np.linspace(a[0], b[0], n + 1)).astype(int)
    ys = np.rint(np.linspace(a[1], b[1], n + 1)).astype(int)
    canvas[ys, xs] = rgb


def _marker(canvas: np.ndarray, centre: tuple[int, int], radius: int, rgb: tuple[int, int, int]) -> None:
    h, w = canvas.shape[:2]
    x, y = centre
    canvas[max(y - radius, 0):min(y + radius + 1, h), x] = rgb
    canvas[y, max(x - radius, 0):min(x + radius + 1, w)] = rgb


def compose(image: np.ndarray, fit: Fit, handles: Sequence[Point] = (), targets: Sequence[Point] = (),
            mask: np.ndarray | None = None, tracked: Sequence[Point] = ()) -> np.ndarray:
    """The display picture: the resized image with mask outline, handle->target links and markers.

    `tracked` are the handles' current positions during a drag; they are drawn in place of the
    handles they follow, so the user sees the points travel.
    """
    canvas = _resize(np.ascontiguousarray(image[..., :3]), fit.disp_w, fit.disp_h)
    if mask is not None:
        small = _resize(mask.astype(np.uint8) * 255, fit.disp_w, fit.disp_h) >= 128
        canvas[mask_outline(small)] = MASK_RGB
    radius = max(1, min(fit.disp_w, fit.disp_h) // 40)
    shown = list(tracked) if tracked else list(handles)
    for i, t in enumerate(targets):
        if i < len(shown):
            _line(canvas, fit.pixel_to_display(*shown[i]), fit.pixel_to_display(*t), LINK_RGB)
    for t in targets:
        _marker(canvas, fit.pixel_to_display(*t), radius, TARGET_RGB)
    for h in shown:
        _marker(canvas, fit.pixel_to_display(*h), radius, TRACKED_RGB if tracked else HANDLE_RGB)
    return canvas


def cell_rows(display: np.ndarray, fit: Fit, cells_w: int, cells_h: int) -> tuple[np.ndarray, np.ndarray]:
    """Top and bottom colours of every cell, (cells_h, cells_w, 3) each, background outside."""
    full = np.empty((2 * cells_h, cells_w, 3), dtype=np.uint8)
    full[:] = BACKGROUND_RGB
    y0, x0 = 2 * fit.off_y, fit.off_x
    h = min(display.shape[0], full.shape[0] - y0)
    w = min(display.shape[1], full.shape[1] - x0)
    full[y0:y0 + h, x0:x0 + w] = display[:h, :w]
    return full[0::2], full[1::2]
