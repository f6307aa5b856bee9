"""The LPIPS-style perceptual distance on real EfficientNet-Lite0 features, and inversion with it."""

from __future__ import annotations

import pytest
import torch

from draggan_core.errors import DragInputError
from draggan_core.inversion import InversionConfig, ReconstructionLoss, invert
from draggan_core.perceptual import PerceptualDistance, feature_distance, unit_channels
from stylegan2.imaging import from_uint8
from tests.conftest import tiny_generator
from tests.test_inversion import photo_like


@pytest.fixture(scope="module")
def perceptual() -> PerceptualDistance:
    return PerceptualDistance()


def test_unit_channels_and_feature_distance():
    x = torch.randn(2, 8, 4, 4) * 5
    assert torch.allclose(unit_channels(x).norm(dim=1), torch.ones(2, 4, 4), atol=1e-5)
    a, b = [torch.randn(2, 8, 4, 4)], [torch.randn(2, 8, 4, 4)]
    assert torch.allclose(feature_distance(a, a), torch.zeros(2))
    assert torch.allclose(feature_distance(a, b), feature_distance(b, a))
    assert torch.allclose(feature_distance([a[0] * 3], b), feature_distance(a, b), atol=1e-6), "scale-free"


def test_structure_counts_more_than_noise(perceptual):
    """Small pixel noise keeps the face; moving it by a few pixels or replacing it does not."""
    face = from_uint8(photo_like())
    torch.manual_seed(0)
    noisy = face + 0.04 * torch.randn(face.shape)
    shifted = torch.roll(face, shifts=4, dims=3)
    flipped = face.flip(2)
    with torch.no_grad():
        d_noise, d_shift, d_flip = (float(perceptual(x, face)) for x in (noisy, shifted, flipped))
    assert float(perceptual(face, face)) == pytest.approx(0, abs=1e-6)
    assert d_noise < d_shift < d_flip


def test_gradients_reach_the_image(perceptual):
    x = (torch.rand(1, 3, 64, 64) * 2 - 1).requires_grad_(True)
    perceptual(x, from_uint8(photo_like())).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_inversion_with_the_perceptual_term(perceptual):
    G = tiny_generator(32)
    target = G.synthesis(G.ws_from_seed(3, 1.0)).detach()
    config = InversionConfig.fast(perceptual_weight=1.0, pti_steps=5)
    loss = ReconstructionLoss(target, config, perceptual)
    assert float(loss(target)) == pytest.approx(0, abs=1e-5)
    result = invert(G, target, config, perceptual=perceptual)
    assert result.status == "done" and result.losses["w+"][-1] < result.losses["w"][0]
    with pytest.raises(DragInputError, match="loss weights"):
        InversionConfig(pixel_weight=0, ssim_weight=0, perceptual_weight=float("nan"))
