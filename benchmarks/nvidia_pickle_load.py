"""How long the safe NVIDIA-pickle reader takes, against loading the same tensors from safetensors.

    python benchmarks/nvidia_pickle_load.py              # FFHQ-512-sized G (30 M parameters)
    python benchmarks/nvidia_pickle_load.py --resolution 256 --channel-max 64 --z-dim 64

The pickle is written in the official persistence format (one persistent object per module,
tensors through torch's legacy storage stream), so the reader does the same work as on a real
`stylegan2-ffhq-512x512.pkl`. Also times the genuine fixture pickle when `../shared` has it.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import pickle
import platform
import sys
import tempfile
import time
import types
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from stylegan2 import Generator, GeneratorConfig, load_generator
from stylegan2.nvidia_pickle import read_network_pickle

GENUINE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "nvidia_pickle_small" / "network-snapshot.pkl"


class _Persistent:
    """Pickles a module as `torch_utils.persistence._reconstruct_persistent_obj(meta)`."""

    def __init__(self, reconstruct, module: torch.nn.Module, kwargs: dict | None = None):
        self.reconstruct, self.module, self.kwargs = reconstruct, module, kwargs or {}

    def __reduce__(self):
        m = self.module
        state = {"training": False, "_parameters": dict(m._parameters), "_buffers": dict(m._buffers),
                 "_non_persistent_buffers_set": set(),
                 "_modules": {k: _Persistent(self.reconstruct, v) for k, v in m._modules.items()},
                 "_init_args": (), "_init_kwargs": self.kwargs}
        meta = {"type": "class", "version": 6, "module_src": "", "class_name": type(m).__name__, "state": state}
        return self.reconstruct, (meta,)


def _official_format_reconstruct():
    """An importable stand-in for NVIDIA's global, so this script can write (not read) the format."""
    package, module = types.ModuleType("torch_utils"), types.ModuleType("torch_utils.persistence")

    def _reconstruct_persistent_obj(meta):
        raise RuntimeError("never called")

    _reconstruct_persistent_obj.__module__ = module.__name__
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    module._reconstruct_persistent_obj = _reconstruct_persistent_obj
    package.persistence = module
    sys.modules.update({"torch_utils": package, "torch_utils.persistence": module})
    return _reconstruct_persistent_obj


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--resolution", type=int, default=512)
    ap.add_argument("--channel-max", type=int, default=512)
    ap.add_argument("--z-dim", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    kwargs = {"z_dim": args.z_dim, "w_dim": args.z_dim, "c_dim": 0, "img_resolution": args.resolution,
              "img_channels": 3, "mapping_kwargs": {"num_layers": 8},
              "synthesis_kwargs": {"channel_base": 32768, "channel_max": args.channel_max,
                                   "num_fp16_res": 4, "conv_clamp": 256}}
    torch.manual_seed(0)
    G = Generator(GeneratorConfig.from_dict(kwargs)).eval().requires_grad_(False)
    reconstruct = _official_format_reconstruct()
    with tempfile.TemporaryDirectory() as tmp:
        pkl, st = Path(tmp) / "net.pkl", Path(tmp) / "net.safetensors"
        pkl.write_bytes(pickle.dumps({"G_ema": _Persistent(reconstruct, G, kwargs)}, protocol=4))
        save_file(G.state_dict(), str(st))
        _, state = read_network_pickle(pkl)
        assert all(torch.equal(state[k], v) for k, v in G.state_dict().items())
        result = {
            "machine": platform.machine(), "processor": platform.processor(), "python": platform.python_version(),
            "torch": torch.__version__, "threads": torch.get_num_threads(),
            "parameters": G.num_parameters(), "pickle_MB": round(pkl.stat().st_size / 1e6, 1),
            "read_network_pickle_s": round(best_of(lambda: read_network_pickle(pkl), args.repeats), 3),
            "load_generator_pkl_s": round(best_of(lambda: load_generator(pkl), args.repeats), 3),
            "baseline_safetensors_load_file_s": round(best_of(lambda: load_file(str(st)), args.repeats), 3),
        }
    if GENUINE.is_file():
        result["genuine_fixture_pickle_s"] = round(best_of(lambda: read_network_pickle(GENUINE), args.repeats), 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
