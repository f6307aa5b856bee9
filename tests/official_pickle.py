"""Write network pickles in NVIDIA's format without NVIDIA's code, for tests and benchmarks.

A snapshot is `{"G_ema": <persistent Generator>, ...}` where every module pickles as
`torch_utils.persistence._reconstruct_persistent_obj(meta)` with its `__dict__` in `meta["state"]`,
nested kwargs are `dnnlib.util.EasyDict`, float attributes are numpy float64 and tensors take
torch's own pickling (the legacy storage stream inside `torch.storage._load_from_bytes`), as the
official training loop writes them. Writing a pickle only names those globals, so importable
stand-ins are enough; they exist only while a pickle is being written.
"""

from __future__ import annotations

import contextlib
import pickle
import sys
import types
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

# Hook dicts torch 2.x modules carry; official pickles hold whatever the writing torch had.
_HOOK_DICTS = ("_backward_pre_hooks", "_backward_hooks", "_forward_hooks", "_forward_hooks_with_kwargs",
               "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_state_dict_hooks",
               "_load_state_dict_pre_hooks", "_load_state_dict_post_hooks")


def _stand_in(module: str, name: str, value: Any) -> Any:
    value.__module__, value.__qualname__ = module, name
    return value


@contextlib.contextmanager
def official_globals() -> Iterator[types.SimpleNamespace]:
    """`torch_utils.persistence._reconstruct_persistent_obj` and `dnnlib.util.EasyDict` as
    importable names for the duration of the block; the modules are removed again afterwards."""

    def _reconstruct_persistent_obj(meta: Any) -> Any:
        raise AssertionError("written, never called")

    easy_dict = type("EasyDict", (dict,), {})
    names = {"torch_utils.persistence": ("_reconstruct_persistent_obj", _reconstruct_persistent_obj),
             "dnnlib.util": ("EasyDict", easy_dict)}
    added = []
    for module_name, (name, value) in names.items():
        package, _, child = module_name.partition(".")
        for mod in (package, module_name):
            if mod not in sys.modules:
                sys.modules[mod] = types.ModuleType(mod)
                added.append(mod)
        setattr(sys.modules[package], child, sys.modules[module_name])
        setattr(sys.modules[module_name], name, _stand_in(module_name, name, value))
    try:
        yield types.SimpleNamespace(reconstruct=_reconstruct_persistent_obj, EasyDict=easy_dict)
    finally:
        for mod in reversed(added):
            del sys.modules[mod]


def _easy(value: Any, easy_dict: type) -> Any:
    if isinstance(value, dict):
        return easy_dict({k: _easy(v, easy_dict) for k, v in value.items()})
    return value


class _Persistent:
    """Pickles one module (and its children) the way `torch_utils.persistence` does."""

    def __init__(self, module: torch.nn.Module, kwargs: dict, names: types.SimpleNamespace):
        self.module, self.kwargs, self.names = module, kwargs, names

    def __reduce__(self):
        m = self.module
        attrs = {k: np.float64(v) if isinstance(v, float) else v for k, v in vars(m).items()
                 if not k.startswith("_") and isinstance(v, (bool, int, float, str, type(None)))}
        state = {"training": False, "_parameters": OrderedDict(m._parameters), "_buffers": OrderedDict(m._buffers),
                 "_non_persistent_buffers_set": set(),
                 "_modules": OrderedDict((k, _Persistent(v, {}, self.names)) for k, v in m._modules.items()),
                 **{k: OrderedDict() for k in _HOOK_DICTS},
                 "_init_args": (), "_init_kwargs": _easy(self.kwargs, self.names.EasyDict), **attrs}
        meta = {"type": "class", "version": 6, "module_src": "# the network's source would be here\n",
                "class_name": type(m).__name__, "state": state}
        return self.names.reconstruct, (meta,)


def network_pickle_bytes(G: torch.nn.Module, kwargs: dict, protocol: int = 4) -> bytes:
    """A snapshot holding `G` as `G_ema`, with `kwargs` as the generator's recorded init kwargs."""
    G = G.eval().requires_grad_(False)
    with official_globals() as names:
        snapshot = {"G_ema": _Persistent(G, kwargs, names), "augment_pipe": None, "training_set_kwargs": None}
        return pickle.dumps(snapshot, protocol=protocol)


def write_network_pickle(path: Path, G: torch.nn.Module, kwargs: dict, protocol: int = 4) -> Path:
    path.write_bytes(network_pickle_bytes(G, kwargs, protocol))
    return path
