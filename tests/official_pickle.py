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
import dataclasses
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


class Call:
    """Pickles as `fn(*args)`: writes any global call into a pickle, as an attacker (or a crafted
    tensor record) would."""

    def __init__(self, fn: Any, *args: Any):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


@dataclasses.dataclass(frozen=True)
class _Writer:
    names: types.SimpleNamespace
    module_src: str
    replace: dict[str, Any]
    persistent: dict[int, "_Persistent"] = dataclasses.field(default_factory=dict)

    def wrap(self, module: torch.nn.Module, prefix: str) -> "_Persistent":
        """One record per module object, so a module placed twice is pickled once and referenced."""
        if id(module) not in self.persistent:
            self.persistent[id(module)] = _Persistent(module, {}, self, prefix)
        return self.persistent[id(module)]


class _Persistent:
    """Pickles one module (and its children) the way `torch_utils.persistence` does. Entries of
    `writer.replace`, keyed by dotted path (`synthesis.b4.conv1.weight`, `synthesis.b8`,
    `synthesis.b4.conv1.conv_clamp`), are written instead of that parameter, buffer, child module
    or attribute; a replacement module is written as a persistent module too."""

    def __init__(self, module: torch.nn.Module, kwargs: dict, writer: _Writer, prefix: str = ""):
        self.module, self.kwargs, self.writer, self.prefix = module, kwargs, writer, prefix

    def _entries(self, entries: dict) -> OrderedDict:
        out = OrderedDict()
        for k, v in entries.items():
            v = self.writer.replace.get(f"{self.prefix}{k}", v)
            out[k] = self.writer.wrap(v, f"{self.prefix}{k}.") if isinstance(v, torch.nn.Module) else v
        return out

    def __reduce__(self):
        m, w = self.module, self.writer
        attrs = {k: np.float64(v) if isinstance(v, float) else v for k, v in vars(m).items()
                 if not k.startswith("_") and isinstance(v, (bool, int, float, str, type(None)))}
        state = {"training": False, "_parameters": self._entries(m._parameters), "_buffers": self._entries(m._buffers),
                 "_non_persistent_buffers_set": set(), "_modules": self._entries(m._modules),
                 **{k: OrderedDict() for k in _HOOK_DICTS},
                 "_init_args": (), "_init_kwargs": _easy(self.kwargs, w.names.EasyDict), **self._entries(attrs)}
        meta = {"type": "class", "version": 6, "module_src": w.module_src, "class_name": type(m).__name__,
                "state": state}
        return w.names.reconstruct, (meta,)


def network_pickle_bytes(G: torch.nn.Module, kwargs: Any, protocol: int = 4,
                         module_src: str = "# the network's source would be here\n",
                         replace: dict[str, Any] | None = None) -> bytes:
    """A snapshot holding `G` as `G_ema`, with `kwargs` as the generator's recorded init kwargs."""
    G = G.eval().requires_grad_(False)
    with official_globals() as names:
        writer = _Writer(names, module_src, replace or {})
        snapshot = {"G_ema": _Persistent(G, kwargs, writer), "augment_pipe": None, "training_set_kwargs": None}
        return pickle.dumps(snapshot, protocol=protocol)


def write_network_pickle(path: Path, G: torch.nn.Module, kwargs: dict, protocol: int = 4) -> Path:
    path.write_bytes(network_pickle_bytes(G, kwargs, protocol))
    return path
