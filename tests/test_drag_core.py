"""Pure pieces of the drag: radii, motion loss, sampling, resizing, windowed synthesis, tracking, stop."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from draggan_core import (DragConfig, DragInputError, FeaturePatch, default_feature_block, disk_pixels, mask_loss,
                          motion_direction, motion_loss, point_distances, targets_reached, track_point)
from draggan_core.features import BlockFeatures, resize_matrix
from draggan_core.local_synthesis import Window, WindowedSynthesis
from stylegan2 import Generator, GeneratorConfig
from tests.conftest import FIXTURES, tiny_generator


def test_radii_scale_like_the_official_code_with_minimums():
    cfg = DragConfig()
    assert (cfg.radii(512).motion, cfg.radii(512).tracking, cfg.radii(512).stop) == (3, 12, 2.0)
    assert (cfg.radii(256).motion, cfg.radii(256).tracking) == (2, 6)
    assert (cfg.radii(64).motion, cfg.radii(64).tracking) == (2, 3)  # official rounding gives 0 and 2
    assert cfg.radii(1024).stop == 4.0


def test_default_feature_block_per_resolution():
    assert default_feature_block(9) == 5  # 512 px: official b128
    assert default_feature_block(7) == 5  # 256 px: official b128
    assert default_feature_block(5) == 3  # 64 px: b32


def test_motion_direction_is_a_unit_vector():
    d = motion_direction((10, 10), (13, 14))
    assert torch.linalg.norm(d).item() == pytest.approx(1.0, abs=1e-6)
    assert d.tolist() == pytest.approx([0.6, 0.8], abs=1e-6)


def test_disk_pixels_integer_and_official_grid():
    rows, cols = disk_pixels((20, 30), 2, 64, 64, linspace_grid=False)
    assert len(rows) == 9 and set(zip(rows.tolist(), cols.tolist())) >= {(30, 20), (28 + 1, 20), (30, 21)}
    # The fixture JSON records the official renderer's disk sizes for its handles.
    record = json.loads((FIXTURES / "drag_trajectory.json").read_text())["cases"]["nomask"]
    counts = record["motion_disk_pixel_count"][0]
    for (y, x), count in zip(record["handles_initial_yx"], counts):
        assert len(disk_pixels((x, y), 2, 256, 256, linspace_grid=True)[0]) == count["renderer_grid"]
        assert len(disk_pixels((x, y), 2, 256, 256, linspace_grid=False)[0]) == count["integer_grid"]


def test_patch_sampling_matches_grid_sample_with_zero_padding():
    torch.manual_seed(0)
    full = torch.randn(1, 5, 20, 24)
    ys = torch.tensor([0.0, 3.25, 19.5, -0.4, 7.9, 19.0])
    xs = torch.tensor([0.0, 22.75, 5.5, 3.0, 23.6, 0.1])
    grid = torch.stack([xs / 23 * 2 - 1, ys / 19 * 2 - 1], -1)[None, None]
    expected = F.grid_sample(full, grid, align_corners=True)[0, :, 0]
    whole = FeaturePatch(full[0], 0, 0, 20, 24)
    torch.testing.assert_close(whole.sample(ys, xs), expected, atol=1e-5, rtol=0)
    inner = FeaturePatch(full[0, :, 2:12, 3:9], 2, 3, 20, 24)
    torch.testing.assert_close(inner.sample(torch.tensor([4.3, 10.9]), torch.tensor([3.5, 7.2])),
                               whole.sample(torch.tensor([4.3, 10.9]), torch.tensor([3.5, 7.2])))


@pytest.mark.parametrize(("low", "high"), [(128, 512), (32, 64), (16, 16)])
def test_resize_matrix_equals_interpolate(low, high):
    torch.manual_seed(1)
    x = torch.randn(1, 3, low, low)
    expected = F.interpolate(x, [high, high], mode="bilinear", align_corners=False) if low != high else x
    idx = torch.tensor([0, 1, 2, high // 2, high - 2, high - 1])
    m = resize_matrix(idx, low, high)
    got = torch.einsum("yi,cij,xj->cyx", m, x[0], m)
    torch.testing.assert_close(got, expected[0][:, idx][:, :, idx], atol=1e-5, rtol=0)
    assert resize_matrix(torch.tensor([-1, high]), low, high).abs().sum() == 0


def test_windowed_synthesis_equals_full_map(parity_generator):
    G = parity_generator
    ws = G.ws_from_seed(1)
    for block in (5, 6):
        full = G.synthesis(ws, until_block=block)
        res = full.shape[-1]
        whole = Window(0, res, 0, res)
        synth = WindowedSynthesis(G, ws, block)
        for win in (Window(0, 6, 0, 6), Window(40, 52, 60, 71), Window(res - 9, res, res - 4, res),
                    Window(3, 10, res - 10, res - 1)):
            torch.testing.assert_close(synth.window(win), win.crop(full, whole), atol=2e-5, rtol=1e-5)
        assert min(synth._full) < block  # the windows really were computed from a lower block


@pytest.mark.parametrize("synthesis", [{"architecture": "resnet"}, {"kernel_size": 5}, {"resample_filter": [1, 2, 1]}])
def test_windowed_synthesis_of_other_block_layouts_equals_full_map(synthesis):
    """A network pickle may ask for another architecture, kernel or filter: windows stay exact."""
    torch.manual_seed(0)
    G = Generator(GeneratorConfig.from_dict({"z_dim": 8, "w_dim": 8, "img_resolution": 128,
                                             "mapping_kwargs": {"num_layers": 1},
                                             "synthesis_kwargs": {"channel_base": 256, "channel_max": 4, **synthesis}}))
    ws = G.ws_from_seed(0)
    full = G.synthesis(ws, until_block=5)
    win = Window(40, 52, 60, 71)
    torch.testing.assert_close(WindowedSynthesis(G, ws, 5).window(win), win.crop(full, Window(0, 128, 0, 128)),
                               atol=2e-5, rtol=1e-5)


def test_window_patches_equal_resized_full_map(parity_generator):
    G = parity_generator
    ws = G.ws_from_seed(0)
    features = BlockFeatures(G, 5)
    full = features.full_patch(features.low(ws))
    for patch in features.window_patches(ws, [(45, 119), (2, 250)], 12):
        h, w = patch.values.shape[-2:]
        expected = full.window(patch.top, patch.top + h, patch.left, patch.left + w)
        torch.testing.assert_close(patch.values, expected, atol=2e-5, rtol=1e-5)


def test_track_point_finds_the_reference_and_breaks_ties_row_major():
    values = torch.ones(2, 10, 10)
    values[:, 7, 2] = 0
    values[:, 3, 8] = 0
    patch = FeaturePatch(values, 0, 0, 10, 10)
    assert track_point(patch, torch.zeros(2), (5, 5), 3) == (8, 3)  # (x, y); row 3 comes before row 7
    assert track_point(patch, torch.zeros(2), (1, 8), 2) == (2, 7)
    offset = FeaturePatch(values, 100, 50, 200, 200)
    assert track_point(offset, torch.zeros(2), (52, 107), 1) == (52, 107)


def test_motion_loss_is_zero_for_a_shift_invariant_map_and_grads_only_through_the_shifted_side():
    flat = torch.ones(4, 16, 16, requires_grad=True)
    loss = motion_loss(FeaturePatch(flat, 0, 0, 16, 16), (8, 8), (12, 8), 2)
    assert loss.item() == 0
    ramp = torch.arange(16.0).repeat(3, 16, 1).requires_grad_(True)  # value = x
    assert motion_loss(FeaturePatch(ramp, 0, 0, 16, 16), (8, 8), (9, 8), 2).item() == 0  # within 1 px: no push
    loss = motion_loss(FeaturePatch(ramp, 0, 0, 16, 16), (8, 8), (12, 8), 2)
    assert loss.item() == pytest.approx(1.0)  # every shifted sample is one larger
    loss.backward()
    # The disk covers x 7..9 on row 8 and samples x 8..10: x=10 gets gradient, x=7 (reference only) none.
    assert ramp.grad[:, 8, 10].abs().sum() > 0 and ramp.grad[:, 8, 7].abs().sum() == 0


def test_mask_loss_is_the_official_term():
    torch.manual_seed(2)
    f, f0 = torch.randn(1, 3, 8, 8), torch.randn(1, 3, 8, 8)
    fixed = (torch.rand(8, 8) > 0.5).float()
    expected = 20 * F.l1_loss(f * fixed, f0 * fixed)
    assert mask_loss(f - f0, fixed, 20).item() == pytest.approx(expected.item(), rel=1e-6)


def test_stop_test():
    d = point_distances([(0, 0), (10, 10)], [(3, 4), (10, 12)])
    assert d == [5.0, 2.0]
    assert not targets_reached(d, 2.0)
    assert targets_reached([2.0, 1.0], 2.0)


def test_tiny_generator_windows_fall_back_to_full_map():
    G = tiny_generator(32)
    ws = G.ws_from_seed(0)
    feats = BlockFeatures(G, 3)
    full = feats.full_patch(feats.low(ws))
    (patch,) = feats.window_patches(ws, [(3, 30)], 5)
    h, w = patch.values.shape[-2:]
    torch.testing.assert_close(patch.values, full.window(patch.top, patch.top + h, patch.left, patch.left + w))


def test_config_validation_and_round_trip():
    with pytest.raises(DragInputError, match="lr"):
        DragConfig(lr=0)
    with pytest.raises(DragInputError, match="unknown drag setting"):
        DragConfig().with_overrides(speed=3)
    with pytest.raises(DragInputError, match="feature_block"):
        DragConfig(feature_block=7).block_index(5)
    cfg = DragConfig.official(lr=5e-3)
    assert DragConfig.from_dict(cfg.to_dict()) == cfg and cfg.linspace_grid and cfg.lr == 5e-3


def test_step_size_and_mask_weight_follow_the_resolution_unless_set():
    """The paper's lr 2e-3 and lambda 20 from 256 px up; below, the larger step and weaker mask that
    let masked drags move at 64 px. The official setting keeps its own at every size."""
    cfg = DragConfig()
    assert (cfg.step_size(512), cfg.mask_weight(512)) == (2e-3, 20.0)
    assert (cfg.step_size(256), cfg.mask_weight(256)) == (2e-3, 20.0)
    assert (cfg.step_size(64), cfg.mask_weight(64)) == (5e-3, 2.0)
    assert (DragConfig(lr=1e-2, lambda_mask=7).step_size(64), DragConfig(lambda_mask=7).mask_weight(512)) == (1e-2, 7)
    official = DragConfig.official()
    assert (official.step_size(64), official.mask_weight(64)) == (1e-3, 20.0)
    with pytest.raises(DragInputError, match="mask weight"):
        DragConfig(lambda_mask=-1)
