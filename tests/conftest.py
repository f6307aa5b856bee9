"""Shared fixtures: the official parity generator and a tiny random generator for speed."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from stylegan2 import Generator, GeneratorConfig, save_generator

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"

torch.set_num_threads(max(1, min(2, torch.get_num_threads())))


@pytest.fixture(scope="session")
def parity_config() -> dict:
    return json.loads((FIXTURES / "config.json").read_text())


@pytest.fixture(scope="session")
def parity_generator(parity_config) -> Generator:
    """The 256-px random-weight generator the official code produced the fixtures with."""
    G = Generator(GeneratorConfig.from_dict(parity_config["init_kwargs"]))
    G.load_state_dict(load_file(str(FIXTURES / "generator.safetensors")))
    return G.eval().requires_grad_(False)


@pytest.fixture(scope="session")
def parity_cases() -> dict[str, torch.Tensor]:
    return load_file(str(FIXTURES / "cases.safetensors"))


@pytest.fixture(scope="session")
def official_variants() -> tuple[dict, dict[str, torch.Tensor]]:
    """NVIDIA's outputs for generators with other settings (tools/official_variant_fixtures.py)."""
    meta = json.loads((FIXTURES / "official_variants.json").read_text())
    return meta, load_file(str(FIXTURES / "official_variants.safetensors"))


# Where the official constructors' defaults differ from the project's (stylegan2-ada-pytorch does
# not clamp unless told); the variant fixtures left these at their codebase's default.
CODEBASE_DEFAULTS = {"ada": {"conv_clamp": None}, "stylegan3": {}}


def variant_generator(official_variants: tuple[dict, dict[str, torch.Tensor]], name: str) -> Generator:
    """The project's generator with an official variant's settings and weights, built directly."""
    meta, tensors = official_variants
    kwargs = copy.deepcopy(meta[name]["init_kwargs"])
    synthesis = kwargs.get("synthesis_kwargs") or kwargs
    synthesis.update({k: v for k, v in CODEBASE_DEFAULTS[meta[name]["codebase"]].items() if k not in synthesis})
    G = Generator(GeneratorConfig.from_dict(kwargs))
    prefix = f"{name}.state."
    G.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
    return G.eval().requires_grad_(False)


def tiny_generator(resolution: int = 32, seed: int = 0) -> Generator:
    """A few-thousand-parameter generator: fast enough for UI and session tests."""
    torch.manual_seed(seed)
    cfg = GeneratorConfig.from_dict({"z_dim": 16, "w_dim": 16, "img_resolution": resolution,
                                     "mapping_kwargs": {"num_layers": 2},
                                     "synthesis_kwargs": {"channel_base": 256, "channel_max": 16}})
    G = Generator(cfg)
    return G.eval().requires_grad_(False)


@pytest.fixture()
def tiny_G() -> Generator:
    return tiny_generator()


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory) -> Path:
    """The tiny generator saved as a checkpoint, for code that loads models from files."""
    return save_generator(tiny_generator(), tmp_path_factory.mktemp("model") / "tiny.safetensors")


@pytest.fixture()
def one_thread():
    """The tiny generator's ops are too small to split: a second thread only adds waiting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
