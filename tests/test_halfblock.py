"""Half-block geometry: placement, click <-> pixel mapping, overlays drawn where the points are."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.halfblock import (BACKGROUND_RGB, HANDLE_RGB, MASK_RGB, TARGET_RGB, cell_rows, compose, fit_image,
                                 mask_outline)


def test_fit_keeps_aspect_and_centres():
    fit = fit_image(64, 64, 80, 20)  # 20 rows = 40 half-block pixels: height limits
    assert (fit.disp_w, fit.disp_h) == (40, 40)
    assert fit.off_x == 20 and fit.off_y == 0
    wide = fit_image(64, 32, 40, 40)  # width limits
    assert wide.disp_w == 40 and wide.disp_h == 20
    assert wide.off_y == (40 - 10) // 2


@pytest.mark.parametrize("size,cells", [((32, 32), (60, 29)), ((64, 64), (30, 10)), ((256, 256), (100, 40))])
def test_click_maps_back_to_the_pixel_under_it(size, cells):
    fit = fit_image(*size, *cells)
    for x, y in [(0, 0), (size[0] - 1, size[1] - 1), (size[0] / 3, size[1] / 2)]:
        dx, dy = fit.pixel_to_display(x, y)
        point = fit.cell_to_pixel(fit.off_x + dx, fit.off_y + dy // 2)
        assert point is not None
        # One cell covers 1/scale pixels across and 2/scale down.
        assert abs(point[0] - x) <= 1 / fit.scale + 1e-6
        assert abs(point[1] - y) <= 2 / fit.scale + 1e-6


def test_click_outside_the_picture_is_none():
    fit = fit_image(32, 32, 60, 10)
    assert fit.cell_to_pixel(fit.off_x - 1, 0) is None
    assert fit.cell_to_pixel(fit.off_x + fit.disp_w, 0) is None
    assert fit.cell_to_pixel(fit.off_x, fit.cells_h) is None


def test_compose_draws_points_and_mask_outline():
    image = np.full((32, 32, 3), 128, np.uint8)
    fit = fit_image(32, 32, 64, 32)  # scale 2
    mask = np.zeros((32, 32), bool)
    mask[8:24, 8:24] = True
    out = compose(image, fit, handles=[(4, 4)], targets=[(28, 4)], mask=mask)
    assert out.shape == (64, 64, 3)
    assert tuple(out[fit.pixel_to_display(4, 4)[::-1]]) == HANDLE_RGB
    assert tuple(out[fit.pixel_to_display(28, 4)[::-1]]) == TARGET_RGB
    assert tuple(out[16, 16]) == MASK_RGB  # display (16, 16) is the mask's top-left corner
    assert tuple(out[32, 32]) == (128, 128, 128)  # inside the mask, untouched
    assert (image == 128).all(), "compose must not draw on the caller's image"


def test_mask_outline_is_the_border_only():
    mask = np.zeros((6, 6), bool)
    mask[1:5, 1:5] = True
    edge = mask_outline(mask)
    assert edge.sum() == 12 and not edge[2:4, 2:4].any()


def test_cell_rows_split_even_and_odd_rows():
    display = np.arange(4 * 2 * 3, dtype=np.uint8).reshape(4, 2, 3)
    fit = fit_image(2, 4, 2, 2)
    top, bottom = cell_rows(display, fit, 3, 2)
    assert top.shape == (2, 3, 3)
    assert (top[:, fit.off_x:fit.off_x + 2] == display[0::2]).all()
    assert (bottom[:, fit.off_x:fit.off_x + 2] == display[1::2]).all()
    assert tuple(top[0, 2]) == BACKGROUND_RGB
