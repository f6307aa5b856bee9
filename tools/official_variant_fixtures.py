"""Write tests/fixtures/official_variants.*: outputs of NVIDIA's own StyleGAN2 code for generators
built with the less common constructor settings (architecture, kernel size, filters, activations,
clamping, both kwargs layouts), so the project's generator is checked against the official
arithmetic for each, not against itself.

    python tools/official_variant_fixtures.py --stylegan3 DIR --ada DIR

DIR are checkouts of github.com/NVlabs/stylegan3 and github.com/NVlabs/stylegan2-ada-pytorch.
Their code runs here, in this tool only, to produce tensors (random weights, CPU, where the custom
ops take their reference implementations); nothing of it is copied. Blocks marked for fp16 run
in fp32 (`force_fp32=True`; stylegan2-ada would otherwise use fp16 even on a CPU), because the
project computes in fp32 and fp16 only changes the precision. The fixture holds tensors and
JSON only. Run it with one thread so the numbers do not depend on the machine.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import types
from pathlib import Path

import torch
from safetensors.torch import save_file

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
BASE = {"z_dim": 16, "w_dim": 16, "c_dim": 0, "img_resolution": 16, "img_channels": 3}
SYNTH = {"channel_base": 128, "channel_max": 16}
# name: (codebase, generator kwargs beyond BASE, conv bias scale). A large bias scale pushes
# activations past 256, so whether the default clamp of that codebase applies shows in the image.
VARIANTS = {
    "sg3_flat_defaults": ("stylegan3", {**SYNTH, "mapping_kwargs": {"num_layers": 2},
                                        "fused_modconv_default": "inference_only"}, 400.0),
    "ada_nested_defaults": ("ada", {"mapping_kwargs": {"num_layers": 2, "activation": "linear"},
                                    "synthesis_kwargs": {**SYNTH, "num_fp16_res": 2, "fp16_channels_last": True}},
                            400.0),
    "ada_orig": ("ada", {"mapping_kwargs": {"num_layers": 2},
                         "synthesis_kwargs": {**SYNTH, "architecture": "orig", "conv_clamp": 256,
                                              "activation": "sigmoid"}}, 0.1),
    "sg3_resnet_clamp": ("stylegan3", {**SYNTH, "mapping_kwargs": {"num_layers": 2}, "architecture": "resnet",
                                       "conv_clamp": 0.5, "activation": "softplus"}, 0.1),
    "sg3_kernel5_nonoise_relu": ("stylegan3", {**SYNTH, "mapping_kwargs": {"num_layers": 2}, "kernel_size": 5,
                                               "use_noise": False, "activation": "relu"}, 0.1),
    "sg3_kernel1_swish_3taps": ("stylegan3", {**SYNTH, "mapping_kwargs": {"num_layers": 2}, "kernel_size": 1,
                                              "activation": "swish", "resample_filter": [1, 2, 1]}, 0.1),
    "ada_separable_conditional": ("ada", {
        "c_dim": 3, "mapping_kwargs": {"num_layers": 3, "activation": "tanh", "lr_multiplier": 0.1,
                                       "layer_features": 24, "embed_features": 8, "w_avg_beta": 0.9},
        "synthesis_kwargs": {**SYNTH, "resample_filter": [1, 3, 5, 7, 7, 5, 3, 1], "conv_clamp": None}}, 0.1),
    "sg3_2d_filter_elu": ("stylegan3", {**SYNTH, "mapping_kwargs": {"num_layers": 2, "activation": "selu"},
                                        "resample_filter": [[1, 2, 1], [2, 4, 3], [1, 2, 1]], "activation": "elu",
                                        "num_fp16_res": 0}, 0.1),
}
MODULE = {"stylegan3": "training.networks_stylegan2", "ada": "training.networks"}


def official_generator_class(codebase: str, checkout: Path):
    """Import one codebase's Generator; both name their packages alike, so forget the other first."""
    for name in list(sys.modules):
        if name.split(".")[0] in ("training", "torch_utils", "dnnlib"):
            del sys.modules[name]
    if "pkg_resources" not in sys.modules:  # gone from recent setuptools; stylegan3 imports one function
        from packaging.version import parse

        sys.modules["pkg_resources"] = types.SimpleNamespace(parse_version=parse)
    sys.path.insert(0, str(checkout))
    try:
        return importlib.import_module(MODULE[codebase]).Generator
    finally:
        sys.path.remove(str(checkout))


def randomise(G: torch.nn.Module, bias_scale: float) -> None:
    """Move every constant-initialised tensor off its constant, so no setting hides behind a 0 or 1."""
    with torch.no_grad():
        for name, t in G.named_parameters():
            if name.endswith("noise_strength"):
                t.uniform_(0.05, 0.15)
            elif name.endswith(("conv0.bias", "conv1.bias")):
                t.add_(torch.randn_like(t) * bias_scale)
            elif name.endswith("bias"):
                t.add_(torch.randn_like(t) * 0.1)
            elif "torgb.weight" in name:
                t.mul_(0.35)
        G.mapping.w_avg.copy_(torch.randn_like(G.mapping.w_avg) * 0.3)


def run_variant(G_class, kwargs: dict, bias_scale: float) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    G = G_class(**{**BASE, **kwargs}).eval().requires_grad_(False)
    randomise(G, bias_scale)
    z = torch.randn(2, G.z_dim)
    c = torch.eye(G.c_dim)[:2] if G.c_dim else torch.zeros(2, 0)
    features = []
    hooks = [getattr(G.synthesis, f"b{r}").register_forward_hook(lambda m, i, o: features.append(o[0]))
             for r in G.synthesis.block_resolutions]
    ws = G.mapping(z, c, truncation_psi=0.7)
    img = G.synthesis(ws, noise_mode="const", force_fp32=True)
    for h in hooks:
        h.remove()
    out = {f"state.{k}": v.detach().contiguous().clone() for k, v in G.state_dict().items()}
    out.update({"z": z, "c": c, "ws": ws, "img": img})
    out.update({f"feat.{i}": f.contiguous() for i, f in enumerate(features)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stylegan3", type=Path, required=True)
    ap.add_argument("--ada", type=Path, required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    checkouts = {"stylegan3": args.stylegan3, "ada": args.ada}
    tensors, meta = {}, {}
    for codebase in ("stylegan3", "ada"):
        G_class = official_generator_class(codebase, checkouts[codebase])
        for name, (cb, kwargs, bias_scale) in VARIANTS.items():
            if cb != codebase:
                continue
            tensors.update({f"{name}.{k}": v for k, v in run_variant(G_class, kwargs, bias_scale).items()})
            meta[name] = {"codebase": codebase, "class": f"{MODULE[codebase]}.Generator",
                          "init_kwargs": {**BASE, **kwargs}, "conv_bias_scale": bias_scale,
                          "truncation_psi": 0.7, "noise_mode": "const", "force_fp32": True}
    save_file(tensors, str(OUT / "official_variants.safetensors"))
    (OUT / "official_variants.json").write_text(json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    main()
