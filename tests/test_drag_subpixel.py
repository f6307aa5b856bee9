"""Sub-pixel drags (DragConfig.subpixel): tracking between pixels and pushing handles closer than
1 px, for generators whose pixels are coarse (the embedded 64-px model)."""

from __future__ import annotations

import math

import pytest
import torch

from draggan_core import DragConfig, DragInputError, DragSession, FeaturePatch, track_point
from draggan_core.guided_tracking import track_point_near_line
from draggan_core.motion import motion_loss
from draggan_core.subpixel import parabola_offset, refine_minimum
from tests.conftest import tiny_generator

pytestmark = pytest.mark.usefixtures("one_thread")


def test_parabola_offset_finds_the_vertex():
    # f(x) = (x - 0.3)^2 sampled at -1, 0, 1
    assert parabola_offset(1.69, 0.09, 0.49) == pytest.approx(0.3)
    assert parabola_offset(1.0, 0.0, 1.0) == 0.0
    assert parabola_offset(2.0, 2.0, 2.0) == 0.0  # flat: no curvature, stay on the pixel
    assert parabola_offset(0.0, 1.0, 5.0) == -0.5  # not a minimum (clamped to the pixel's edge)


def test_refine_minimum_keeps_whole_pixels_at_borders_and_excluded_neighbours():
    d = torch.tensor([[4.0, 1.0, 0.0, 1.0], [5.0, 2.0, 1.0, 2.0]])
    dx, dy = refine_minimum(d, 0, 2)
    assert dx == 0.0 and dy == 0.0  # symmetric along x; row 0 is the top border
    d[0, 1] = 0.5
    dx, _ = refine_minimum(d, 0, 2)
    assert dx < 0
    d[0, 3] = math.inf
    assert refine_minimum(d, 0, 2) == (0.0, 0.0)


def _smooth_patch(cx: float, cy: float) -> tuple[FeaturePatch, torch.Tensor]:
    """Features (x, y) per pixel so the match distance to (cx, cy) is smallest between pixels."""
    ys, xs = torch.meshgrid(torch.arange(20.0), torch.arange(20.0), indexing="ij")
    return FeaturePatch(torch.stack([xs, ys]), 0, 0, 20, 20), torch.tensor([cx, cy])


def test_subpixel_tracking_lands_between_pixels_and_plain_tracking_does_not():
    patch, ref = _smooth_patch(10.3, 7.8)
    assert track_point(patch, ref, (9, 8), 3) == (10, 8)
    x, y = track_point(patch, ref, (9, 8), 3, subpixel=True)
    assert abs(x - 10.3) < 0.25 and abs(y - 7.8) < 0.25
    x, y = track_point_near_line(patch, ref, (9, 8), 3, (9, 8), (15, 8), width=1.0, subpixel=True)
    assert 10.0 < x < 10.5 and 7.5 < y <= 8.0


def test_features_between_pixels_are_bilinear():
    patch, _ = _smooth_patch(0, 0)
    assert patch.feature((3, 4)).tolist() == [3.0, 4.0]
    assert patch.feature((3.25, 4.5)).tolist() == pytest.approx([3.25, 4.5])


def test_subpixel_motion_pushes_a_handle_within_one_pixel():
    values = torch.randn(4, 20, 20, requires_grad=True)
    patch = FeaturePatch(values, 0, 0, 20, 20)
    assert motion_loss(patch, (10, 10), (10.6, 10), 3).item() == 0.0  # the official rule
    loss = motion_loss(patch, (10, 10), (10.6, 10), 3, subpixel=True)
    assert loss.item() > 0 and loss.requires_grad


def test_stop_distances_under_a_pixel_need_subpixel():
    with pytest.raises(DragInputError, match="at least 1 pixel"):
        DragConfig(stop_distance=0.5)
    assert DragConfig(stop_distance=0.5, subpixel=True).radii(64).stop == 0.5
    with pytest.raises(DragInputError, match="at least 0.1 pixel"):
        DragConfig(stop_distance=0.05, subpixel=True)
    assert DragConfig().min_stop_distance == 1.0 and DragConfig(subpixel=True).min_stop_distance == 0.1
    assert not DragConfig().subpixel and not DragConfig.official().subpixel


def test_a_subpixel_drag_keeps_fractional_handles_and_moves_the_picture():
    G = tiny_generator(32, seed=1)
    session = DragSession(G, G.ws_from_seed(3), DragConfig(lr=0.05, stop_distance=0.3, subpixel=True))
    before = session.image().clone()
    session.start_drag([(12.4, 16.0)], [(13.0, 16.0)])  # 0.6 px: refused as "nothing to drag" in whole pixels
    results = [session.step() for _ in range(4)]
    assert session._drag.handles == [(12.4, 16.0)]
    assert any(not float(c).is_integer() for r in results for c in r.points[0])
    session.finish_drag("budget")
    assert not torch.equal(session.image(), before)
    plain = DragSession(G, G.ws_from_seed(3), DragConfig(lr=0.05))
    with pytest.raises(DragInputError, match="nothing to drag"):
        plain.start_drag([(12.4, 16.0)], [(13.0, 16.0)])
