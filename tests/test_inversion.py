"""Inversion (W -> W+ -> pivotal tuning) and the similarity measures it uses."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from draggan_core.errors import DragInputError
from draggan_core.image_metrics import ms_ssim, num_scales, psnr, ssim
from draggan_core.inversion import InversionConfig, invert, reconstruction_quality
from stylegan2.imaging import from_uint8
from tests.conftest import tiny_generator


def photo_like(size: int = 64) -> np.ndarray:
    import skimage.data
    from PIL import Image

    return np.array(Image.fromarray(skimage.data.astronaut()[30:230, 130:330]).resize((size, size), Image.LANCZOS))


def test_ssim_and_psnr_agree_with_scikit_image():
    a = photo_like()
    rng = np.random.default_rng(0)
    b = np.clip(a.astype(int) + rng.integers(-25, 26, size=a.shape), 0, 255).astype(np.uint8)
    ref = structural_similarity(a, b, channel_axis=2, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False, data_range=255)
    ours = float(ssim(from_uint8(a), from_uint8(b))[0])
    assert ours == pytest.approx(ref, abs=0.02)
    assert float(psnr(from_uint8(a), from_uint8(b))[0]) == pytest.approx(peak_signal_noise_ratio(a, b), abs=1e-3)


def test_ms_ssim_ranks_degradations_and_is_one_for_identity():
    x = from_uint8(photo_like())
    torch.manual_seed(0)
    noisy = x + 0.3 * torch.randn(x.shape)
    slight = x + 0.05 * torch.randn(x.shape)
    assert float(ms_ssim(x, x)[0]) == pytest.approx(1.0, abs=1e-5)
    assert float(ms_ssim(x, slight)[0]) > float(ms_ssim(x, noisy)[0])
    assert num_scales(64) == 4 and num_scales(1024) == 5 and num_scales(8) == 1
    with pytest.raises(ValueError):
        ssim(x, x[:, :, :32])


def test_ms_ssim_has_a_finite_gradient_on_unrelated_images():
    x = torch.zeros(1, 3, 32, 32, requires_grad=True)
    loss = 1 - ms_ssim(x, torch.rand(1, 3, 32, 32) * 2 - 1).mean()
    loss.backward()
    assert torch.isfinite(x.grad).all()


def test_inversion_reconstructs_a_generated_image_and_leaves_g_alone():
    G = tiny_generator(32)
    before = {k: v.clone() for k, v in G.state_dict().items()}
    target = G.synthesis(G.ws_from_seed(7, 1.0))
    start = reconstruction_quality(G.synthesis(G.mapping.w_avg.view(1, 1, -1).repeat(1, G.num_ws, 1)), target)
    steps = []
    config = InversionConfig.fast()
    result = invert(G, target, config, progress=lambda s: steps.append((s.stage, s.step)))
    assert result.status == "done" and result.steps == config.total_steps == 80
    assert [s for s, _ in steps].count("w") == config.w_steps and steps[-1] == ("pti", 80)
    end = reconstruction_quality(result.image(), target)
    assert end["psnr"] > start["psnr"] + 6
    assert end["ssim"] > start["ssim"] + 0.3
    assert result.losses["pti"][-1] < 0.15 * result.losses["w"][0]
    assert result.generator is not G
    assert all(torch.equal(v, G.state_dict()[k]) for k, v in before.items())
    assert not any(p.requires_grad for p in result.generator.parameters())


def test_pivotal_tuning_improves_on_the_latent_alone():
    G = tiny_generator(32)
    target = from_uint8(photo_like(32))
    config = InversionConfig.fast(w_steps=15, wplus_steps=10, pti_steps=0)
    latent_only = invert(G, target, config)
    tuned = invert(G, target, config.with_overrides(pti_steps=25, pti_lr=3e-3))
    assert latent_only.generator is G
    assert (reconstruction_quality(tuned.image(), target)["psnr"]
            > reconstruction_quality(latent_only.image(), target)["psnr"] + 1.0)


def test_cancel_keeps_what_was_reached():
    G = tiny_generator(16)
    target = G.synthesis(G.ws_from_seed(1, 1.0))
    stop = threading.Event()

    def progress(step):
        if step.step == 5:
            stop.set()

    result = invert(G, target, InversionConfig.fast(), progress=progress, cancel=stop)
    assert result.status == "cancelled" and result.steps == 5
    assert result.ws.shape == (1, G.num_ws, G.w_dim) and torch.isfinite(result.ws).all()


def test_bad_inputs_are_rejected():
    G = tiny_generator(16)
    with pytest.raises(DragInputError, match="16, 16"):
        invert(G, torch.zeros(1, 3, 32, 32))
    with pytest.raises(DragInputError, match="NaN"):
        invert(G, torch.full((1, 3, 16, 16), float("nan")))
    with pytest.raises(DragInputError):
        InversionConfig(w_lr=0)
    with pytest.raises(DragInputError):
        InversionConfig(pixel_weight=0, ssim_weight=0)
    with pytest.raises(DragInputError, match="bogus"):
        InversionConfig().with_overrides(bogus=1)
    with pytest.raises(DragInputError, match="at least 3"):
        InversionConfig().with_budget(2)


def test_step_budget_keeps_the_stage_proportions():
    config = InversionConfig().with_budget(40)
    assert (config.w_steps, config.wplus_steps, config.pti_steps) == (15, 10, 15)
    assert InversionConfig().with_budget(3).total_steps == 3
