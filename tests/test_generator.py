"""The generator is numerically the official one (fixtures from NVIDIA's code, random weights)."""

from __future__ import annotations

import json

import pytest
import torch

from stylegan2 import CheckpointError, Generator, GeneratorConfig
from tests.conftest import FIXTURES, variant_generator

TOL = 1e-4


@pytest.mark.parametrize("seed", [0, 1])
def test_mapping_matches_official(parity_generator, parity_cases, seed):
    z = parity_cases[f"seed_{seed}.z"]
    ws = parity_generator.mapping(z, None, truncation_psi=0.7)
    ws1 = parity_generator.mapping(z, None, truncation_psi=1.0)
    assert torch.allclose(ws, parity_cases[f"seed_{seed}.ws"], atol=TOL, rtol=0)
    assert torch.allclose(ws1, parity_cases[f"seed_{seed}.ws_psi1"], atol=TOL, rtol=0)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("fused", [True, False])
def test_image_and_features_match_official(parity_generator, parity_cases, seed, fused):
    ws = parity_cases[f"seed_{seed}.ws"]
    img, feats = parity_generator.synthesis(ws, return_features=True, fused_modconv=fused)
    assert torch.allclose(img, parity_cases[f"seed_{seed}.img"], atol=TOL, rtol=0)
    assert torch.allclose(feats[5], parity_cases[f"seed_{seed}.feat5"], atol=TOL, rtol=0)
    assert len(feats) == len(parity_generator.synthesis.block_resolutions)


def test_until_block_returns_that_blocks_features(parity_generator, parity_cases):
    ws = parity_cases["seed_0.ws"]
    for idx, res in enumerate([4, 8, 16, 32, 64]):
        x = parity_generator.synthesis(ws, until_block=idx)
        assert torch.allclose(x, parity_cases[f"seed_0.block_x.b{res}"], atol=TOL, rtol=0)
    assert torch.allclose(parity_generator.synthesis(ws, until_block=5), parity_cases["seed_0.feat5"], atol=TOL)


def test_until_block_skips_later_blocks(parity_generator, parity_cases):
    calls = []
    hooks = [b.register_forward_hook(lambda m, i, o, n=b.resolution: calls.append(n))
             for b in parity_generator.synthesis.blocks]
    try:
        parity_generator.synthesis(parity_cases["seed_0.ws"], until_block=2)
    finally:
        for h in hooks:
            h.remove()
    assert calls == [4, 8, 16]


def test_state_dict_names_are_official(parity_generator, parity_config):
    names = [e["name"] for e in parity_config["state_dict"]]
    assert list(parity_generator.state_dict().keys()) == names
    shapes = {e["name"]: e["shape"] for e in parity_config["state_dict"]}
    for k, v in parity_generator.state_dict().items():
        assert list(v.shape) == shapes[k]


VARIANT_NAMES = json.loads((FIXTURES / "official_variants.json").read_text())


@pytest.mark.parametrize("name", VARIANT_NAMES)
@pytest.mark.parametrize("fused", [True, False])
def test_official_variants_match(official_variants, name, fused):
    """Architectures orig/resnet, kernels 1 and 5, 3-tap, 2-D and separable 8-tap filters, no
    noise, every activation, clamps, labels: images, ws and block features as NVIDIA's code."""
    _, t = official_variants
    G = variant_generator(official_variants, name)
    ws = G.mapping(t[f"{name}.z"], t[f"{name}.c"] if G.c_dim else None, truncation_psi=0.7)
    img, features = G.synthesis(t[f"{name}.ws"], return_features=True, fused_modconv=fused)
    assert_official(ws, t[f"{name}.ws"])
    assert_official(img, t[f"{name}.img"])
    for i, feature in enumerate(features):
        assert_official(feature, t[f"{name}.feat.{i}"])


def assert_official(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """TOL, widened by float32 rounding where values reach hundreds (variants whose large biases
    make the clamp matter)."""
    torch.testing.assert_close(actual, expected, atol=TOL + 1e-6 * expected.abs().max().item(), rtol=0)


@pytest.mark.parametrize("res,params,num_ws", [(1024, 30_370_060, 18), (512, 30_276_583, 16)])
def test_official_ffhq_configs(res, params, num_ws):
    """FFHQ StyleGAN2 configs: NVIDIA's published parameter counts."""
    cfg = GeneratorConfig.from_dict({"z_dim": 512, "w_dim": 512, "img_resolution": res, "c_dim": 0,
                                     "img_channels": 3, "mapping_kwargs": {"num_layers": 8},
                                     "synthesis_kwargs": {"channel_base": 32768, "channel_max": 512,
                                                          "num_fp16_res": 4, "conv_clamp": 256}})
    G = Generator(cfg)
    assert G.num_parameters() == params
    assert G.num_ws == num_ws == cfg.num_ws


@pytest.mark.parametrize("res", [32, 64, 128])
def test_small_resolutions_and_stylegan3_layout(res):
    cfg = GeneratorConfig.from_dict({"z_dim": 32, "w_dim": 32, "img_resolution": res, "img_channels": 3,
                                     "mapping_kwargs": {"num_layers": 2}, "channel_base": 1024,
                                     "channel_max": 32, "conv_clamp": None})
    G = Generator(cfg)
    img = G(torch.randn(2, 32))
    assert img.shape == (2, 3, res, res) and torch.isfinite(img).all()
    first, count = cfg.ws_range(len(cfg.block_resolutions) - 1)
    assert first + count == G.num_ws


def test_conditional_generator_needs_label():
    cfg = GeneratorConfig.from_dict({"z_dim": 16, "w_dim": 16, "c_dim": 4, "img_resolution": 32,
                                     "mapping_kwargs": {"num_layers": 2},
                                     "synthesis_kwargs": {"channel_base": 256, "channel_max": 16}})
    G = Generator(cfg)
    assert "mapping.embed.weight" in G.state_dict()
    img = G(torch.randn(1, 16), torch.eye(4)[:1])
    assert img.shape == (1, 3, 32, 32)
    with pytest.raises(ValueError, match="conditional"):
        G(torch.randn(1, 16))


def test_bad_configs_are_clear():
    with pytest.raises(CheckpointError, match="power of two"):
        GeneratorConfig(img_resolution=100)
    with pytest.raises(CheckpointError, match="unsupported synthesis setting"):
        GeneratorConfig.from_dict({"img_resolution": 64, "synthesis_kwargs": {"bogus": 1}})


def test_seed_convention(parity_generator, parity_cases):
    assert torch.equal(parity_generator.z_from_seed(0), parity_cases["seed_0.z"])
    assert torch.allclose(parity_generator.ws_from_seed(1, 0.7), parity_cases["seed_1.ws"], atol=TOL)
