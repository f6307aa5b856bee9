"""The image preview: half-block picture with points and mask, clicks become image points."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from assistant.halfblock import Fit, Point, cell_rows, compose, fit_image

UPPER_HALF = "\u2580"


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
                style = styles[key] = Style(color=Color.from_rgb(*a), bgcolor=Color.from_rgb(*b))
            segments.append(Segment(UPPER_HALF, style))
        strips.append(Strip(segments, len(segments)))
    return strips


class ImagePreview(Widget):
    """Draws the current image; left click reports an image point, right click asks to clear."""

    class Clicked(Message):
        """A left click on the picture, in image pixels."""

        def __init__(self, point: Point) -> None:
            super().__init__()
            self.point = point

    class ClearRequested(Message):
        """A right click anywhere on the preview."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
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

    def on_resize(self, event: events.Resize) -> None:
        self._strips = None

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
        offset = event.get_content_offset(self)
        fit = self.fit
        if offset is None or fit is None:
            return
        point = fit.cell_to_pixel(offset.x, offset.y)
        if point is not None:
            self.post_message(self.Clicked(point))
