"""The image preview: half-block picture with points and mask, clicks become image points."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Sequence

import numpy as np
from PIL import Image
from rich.color import Color, ColorType
from rich.color_triplet import ColorTriplet
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from assistant.halfblock import Fit, Point, cell_rows, compose, fit_image

UPPER_HALF = "\u2580"


@lru_cache(maxsize=1 << 16)
def _truecolor(r: int, g: int, b: int) -> Color:
    # Color.from_rgb is several times slower; this builds the same value directly.
    return Color(f"#{r:02x}{g:02x}{b:02x}", ColorType.TRUECOLOR, triplet=ColorTriplet(r, g, b))


def cell_strips(top: np.ndarray, bottom: np.ndarray) -> list[Strip]:
    """One Strip per cell row: '▀' in the top colour over the bottom colour."""
    styles: dict[tuple[int, ...], Style] = {}
    strips = []
    for row_top, row_bottom in zip(top, bottom):
        segments = []
        for a, b in zip(row_top.tolist(), row_bottom.tolist()):
            key = (*a, *b)
            style = styles.get(key)
            if style is None:
                style = styles[key] = Style.from_color(_truecolor(*a), _truecolor(*b))
            segments.append(Segment(UPPER_HALF, style))
        strips.append(Strip(segments, len(segments)))
    return strips


@dataclass(frozen=True)
class GraphicsBackend:
    """A textual-image widget class that draws real pixels (sixel or kitty), and the terminal's
    cell size in pixels."""

    widget: Callable[[Image.Image], Widget]
    cell_pixels: tuple[int, int]


def detect_graphics() -> GraphicsBackend | None:
    """The terminal's pixel graphics, or None where only half-blocks work.

    Must run before Textual takes over the terminal: textual-image asks the terminal directly.
    """
    try:
        from textual_image import renderable
        from textual_image._terminal import get_cell_size
        from textual_image.widget import Image as BestImage
    except Exception:  # any failure to query the terminal means: no graphics
        return None
    if renderable.Image not in (renderable.SixelImage, renderable.TGPImage):
        return None
    size = get_cell_size()
    return GraphicsBackend(BestImage, (max(size.width, 1), max(size.height, 1)))


class ImagePreview(Widget):
    """Draws the current image; left click reports an image point, right click asks to clear."""

    class Clicked(Message):
        """A left click on the picture, in image pixels."""

        def __init__(self, point: Point) -> None:
            super().__init__()
            self.point = point

    class ClearRequested(Message):
        """A right click anywhere on the preview."""

    def __init__(self, *, id: str | None = None, graphics: GraphicsBackend | None = None) -> None:
        super().__init__(id=id)
        self.graphics = graphics
        self._graphic: Widget | None = None
        self._image: np.ndarray | None = None
        self._handles: list[Point] = []
        self._targets: list[Point] = []
        self._tracked: list[Point] = []
        self._mask: np.ndarray | None = None
        self._strips: list[Strip] | None = None
        self._fit: Fit | None = None

    @property
    def image(self) -> np.ndarray | None:
        return self._image

    @property
    def fit(self) -> Fit | None:
        """The placement used by the last render (None before the first image)."""
        if self._strips is None:
            self._rebuild()
        return self._fit

    def show(self, image: np.ndarray | None = None, *, handles: Sequence[Point] | None = None,
             targets: Sequence[Point] | None = None, mask: np.ndarray | None | bool = False,
             tracked: Sequence[Point] | None = None) -> None:
        """Update any of picture and overlays; unspecified ones keep their value (mask=None clears)."""
        if image is not None:
            self._image = image
        if handles is not None:
            self._handles = list(handles)
        if targets is not None:
            self._targets = list(targets)
        if tracked is not None:
            self._tracked = list(tracked)
        if mask is not False:
            self._mask = mask  # type: ignore[assignment]
        self._strips = None
        self.refresh()
        self._update_graphic()

    def on_resize(self, event: events.Resize) -> None:
        self._strips = None
        self._update_graphic()

    def _update_graphic(self) -> None:
        """In sixel/kitty terminals, lay a full-resolution picture over the half-block one."""
        if self.graphics is None or self._image is None:
            return
        fit = self.fit
        if fit is None:
            return
        cell_w, cell_h = self.graphics.cell_pixels
        w, h = fit.disp_w * cell_w, fit.cells_h * cell_h
        scale = min(w / fit.image_w, h / fit.image_h)
        hi = Fit(fit.image_w, fit.image_h, scale, w, h, 0, 0)
        picture = Image.fromarray(compose(self._image, hi, self._handles, self._targets, self._mask, self._tracked))
        if self._graphic is None:
            self._graphic = self.graphics.widget(picture)
            self.mount(self._graphic)
        else:
            self._graphic.image = picture
        self._graphic.styles.width = fit.disp_w
        self._graphic.styles.height = fit.cells_h
        self._graphic.styles.offset = (fit.off_x, fit.off_y)

    def _rebuild(self) -> None:
        w, h = self.content_size.width, self.content_size.height
        blank = Strip([Segment(" " * max(w, 0))])
        if self._image is None or w <= 0 or h <= 0:
            self._fit = None
            self._strips = [blank] * max(h, 0)
            return
        fit = fit_image(self._image.shape[1], self._image.shape[0], w, h)
        display = compose(self._image, fit, self._handles, self._targets, self._mask, self._tracked)
        top, bottom = cell_rows(display, fit, w, h)
        self._fit, self._strips = fit, cell_strips(top, bottom)

    def render_line(self, y: int) -> Strip:
        if self._strips is None:
            self._rebuild()
        assert self._strips is not None
        return self._strips[y] if 0 <= y < len(self._strips) else Strip.blank(self.content_size.width)

    def on_click(self, event: events.Click) -> None:
        event.stop()
        if event.button == 3:
            self.post_message(self.ClearRequested())
            return
        if event.button != 1:
            return
        # Screen coordinates: the click may come from the graphics child, whose offsets differ.
        region = self.content_region
        fit = self.fit
        if fit is None or not region.contains(event.screen_x, event.screen_y):
            return
        point = fit.cell_to_pixel(event.screen_x - region.x, event.screen_y - region.y)
        if point is not None:
            self.post_message(self.Clicked(point))
