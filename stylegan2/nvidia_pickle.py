"""Read NVIDIA network pickles (StyleGAN2-ADA / StyleGAN3 snapshots, DragGAN's checkpoints) safely.

An official pickle is a program, not data: `pickle.load` imports and calls every global it names,
and each network in it is rebuilt by `torch_utils.persistence`, which exec()s the Python source
stored in the file. A checkpoint downloaded from the internet must get no such power. So this
module unpickles with a whitelist: the few globals an official pickle references map to local
stand-ins that only build data (plain records, tensors from raw bytes, numpy scalars), the stored
source is kept as an unread string, and any other global is refused before anything calls it.
The record tree is then walked to a flat state dict with the names `nn.Module.state_dict()` uses.
"""

from __future__ import annotations

import io
import math
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .errors import CheckpointError, shown

_TORCH_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_STORAGE_DTYPES = {
    "FloatStorage": torch.float32, "DoubleStorage": torch.float64, "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}
# Refused globals that come from known official files this loader cannot read: say which.
_STYLEGAN3_HINT = "numpy arrays belong to StyleGAN3 networks, which this StyleGAN2 loader does not read"
_REFUSAL_HINTS = {
    "dnnlib.tflib.": "a TensorFlow-era StyleGAN2 pickle (it holds code, not just weights); "
                     "convert it with NVIDIA's legacy.py first",
    "numpy.core.multiarray._reconstruct": _STYLEGAN3_HINT,
    "numpy._core.multiarray._reconstruct": _STYLEGAN3_HINT,
}
MAX_MODULE_DEPTH = 32  # an official generator nests 4 deep (G_ema.synthesis.b4.conv1.affine)
# Official networks record their constructor's positional arguments; these are their names.
_POSITIONAL_NAMES = {
    "Generator": ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels"),
    "Discriminator": ("c_dim", "img_resolution", "img_channels"),
}


class _Refused(Exception):
    """A global outside the whitelist: the file wants to run code."""

    def __init__(self, name: str, where: str) -> None:
        super().__init__(name)
        self.name, self.where = name, where


class _Malformed(Exception):
    """Well-formed pickle, but not what an official network pickle holds."""


class _NoBuild:
    """Refuse pickle's BUILD opcode, which would otherwise let a file rewrite the objects the
    stand-ins hand out (e.g. the stand-ins themselves) through `__dict__` or `setattr`."""

    __slots__ = ()

    def __setstate__(self, state: Any) -> None:
        raise _Malformed(f"unexpected state for a {type(self).__name__.lstrip('_')}")


class _Call(_NoBuild):
    """A whitelisted global: calls a stand-in, and cannot be modified by the pickle."""

    __slots__ = ("_fn",)

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._fn(*args, **kwargs)


@dataclass(frozen=True, eq=False)
class PersistentObject(_NoBuild):
    """What `_reconstruct_persistent_obj(meta)` stands for: the class name and the module's
    `__dict__`, without the class itself (its source stays unexecuted in the file)."""

    class_name: str
    state: dict


class _StorageType(_NoBuild):
    __slots__ = ("dtype",)

    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype


class _NumpyDType(_NoBuild):
    """`numpy.dtype(spec, align, copy)` plus its BUILD state, limited to plain numeric types so
    numpy never parses structured or object dtypes from the file."""

    __slots__ = ("spec", "byteorder")

    def __init__(self, spec: Any, align: Any = False, copy: Any = False) -> None:
        if not isinstance(spec, str) or not re.fullmatch(r"[biufc]\d{1,2}", spec):
            raise _Malformed(f"unsupported numpy dtype {shown(spec)}")
        self.spec, self.byteorder = spec, "="

    def __setstate__(self, state: Any) -> None:
        # numpy's state: (version, byteorder, subarray, names, fields, elsize, alignment, flags)
        if (not isinstance(state, tuple) or len(state) < 5 or state[1] not in ("<", ">", "|", "=")
                or state[2:5] != (None, None, None)):
            raise _Malformed("unsupported numpy dtype state")
        self.byteorder = state[1]

    def numpy(self) -> np.dtype:
        return np.dtype(self.byteorder + self.spec)


class _Unpickler(pickle._Unpickler):
    """Python's own unpickler, not the C one: the C unpickler keeps its memo in an array indexed
    by the numbers in the file, so one corrupt PUT index (up to 2**32) makes it allocate and zero
    gigabytes; this one keeps a dict. Its speed does not matter here: tensors are few large
    byte strings."""

    def __init__(self, file: Any, allowed: dict[tuple[str, str], Any], where: str) -> None:
        super().__init__(file)
        self._allowed, self._where = allowed, where

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except (KeyError, TypeError):
            raise _Refused(f"{module}.{name}", self._where) from None


def _persistent_object(meta: Any) -> PersistentObject:
    if (not isinstance(meta, dict) or meta.get("type") != "class"
            or not isinstance(meta.get("class_name"), str) or not isinstance(meta.get("state"), dict)):
        raise _Malformed("a persistent object without class name and state")
    return PersistentObject(meta["class_name"], meta["state"])


def _numpy_scalar(dtype: Any, data: Any = None) -> int | float | complex | bool:
    if not isinstance(dtype, _NumpyDType) or not isinstance(data, bytes) or len(data) != dtype.numpy().itemsize:
        raise _Malformed("a numpy scalar without matching raw bytes")
    return np.frombuffer(data, dtype=dtype.numpy(), count=1)[0].item()


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any = False,
                    hooks: Any = None, metadata: Any = None) -> torch.Tensor:
    """A view into a storage, checked so that it stays inside it: no out-of-bounds reads, and no
    tensor larger than its bytes (a zero stride could otherwise ask for terabytes)."""
    if (not isinstance(storage, torch.Tensor) or not isinstance(size, tuple) or not isinstance(stride, tuple)
            or len(size) != len(stride)
            or not all(isinstance(v, int) and v >= 0 for v in (offset, *size, *stride))):
        raise _Malformed("a tensor with malformed storage, offset, size or stride")
    numel = math.prod(size)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if numel > storage.numel() or (numel and last >= storage.numel()):
        raise _Malformed(f"a tensor of size {list(size)} does not fit its storage of {storage.numel()} elements")
    return torch.as_strided(storage, size, stride, offset)


def _rebuild_parameter(data: Any, requires_grad: Any = False, hooks: Any = None) -> torch.Tensor:
    if not isinstance(data, torch.Tensor):
        raise _Malformed("a parameter without tensor data")
    return data


def _read_storage_bytes(data: Any, where: str) -> torch.Tensor:
    """One storage, as `torch.save`'s legacy (pre-zip) stream inside the pickle: five pickles
    (magic number, protocol 1001, system info, the storage's persistent id, the key list), then
    per key an int64 element count and the raw elements. Returns them as a 1-D tensor."""
    if not isinstance(data, bytes):
        raise _Malformed("a tensor storage that is not bytes")
    f = io.BytesIO(data)
    storage_types = {("torch", name): _StorageType(dtype) for name, dtype in _STORAGE_DTYPES.items()}
    where = f"{where} (inside a tensor storage)"
    if _Unpickler(f, {}, where).load() != _TORCH_MAGIC or _Unpickler(f, {}, where).load() != _LEGACY_PROTOCOL:
        raise _Malformed("a tensor storage that is not a legacy torch.save stream")
    sys_info = _Unpickler(f, {}, where).load()
    little_endian = sys_info.get("little_endian", True) if isinstance(sys_info, dict) else True
    declared: dict[str, tuple[torch.dtype, int]] = {}

    def persistent_load(pid: Any) -> str:
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and isinstance(pid[2], str)
                and isinstance(pid[4], int) and pid[4] >= 0):
            raise _Malformed("a malformed storage record")
        if pid[5] is not None:
            raise _Malformed("a storage view (written by torch < 1.0), which this reader does not support")
        declared[pid[2]] = (pid[1].dtype, pid[4])
        return pid[2]

    inner = _Unpickler(f, storage_types, where)
    inner.persistent_load = persistent_load
    root = inner.load()
    keys = _Unpickler(f, {}, where).load()
    if not isinstance(keys, list) or root not in keys:
        raise _Malformed("a tensor storage without its data")
    storages = {}
    for key in keys:
        if key not in declared:
            raise _Malformed("a tensor storage with an undeclared key")
        dtype, numel = declared[key]
        count = int.from_bytes(f.read(8), "little" if little_endian else "big", signed=True)
        raw = f.read(numel * dtype.itemsize)
        if count != numel or len(raw) != numel * dtype.itemsize:
            raise _Malformed("a tensor storage whose data is shorter than declared")
        if not little_endian and dtype.itemsize > 1:
            raw = np.frombuffer(raw, np.uint8).reshape(-1, dtype.itemsize)[:, ::-1].tobytes()
        # frombuffer storages cannot grow, so a BUILD on a tensor (`Tensor.__setstate__` calls
        # `set_`) cannot make one allocate more memory; empty storages get one spare element.
        storages[key] = torch.frombuffer(bytearray(raw or bytes(dtype.itemsize)), dtype=dtype)[:numel]
    return storages[root]


def _outer_globals(where: str) -> dict[tuple[str, str], Any]:
    scalar = _Call(_numpy_scalar)
    return {
        ("torch_utils.persistence", "_reconstruct_persistent_obj"): _Call(_persistent_object),
        ("torch._utils", "_rebuild_tensor_v2"): _Call(_rebuild_tensor),
        ("torch._utils", "_rebuild_parameter"): _Call(_rebuild_parameter),
        ("torch.storage", "_load_from_bytes"): _Call(lambda data: _read_storage_bytes(data, where)),
        ("collections", "OrderedDict"): dict,
        ("builtins", "set"): set,  # protocol 3 (Python 3.7, stylegan2-ada's era) has no set opcode
        ("dnnlib.util", "EasyDict"): dict,
        ("numpy", "dtype"): _NumpyDType,
        ("numpy.core.multiarray", "scalar"): scalar,
        ("numpy._core.multiarray", "scalar"): scalar,
    }


def _state_dict(obj: PersistentObject, prefix: str, out: dict[str, torch.Tensor], seen: set[int]) -> None:
    """Parameters, then persistent buffers, then children, like `nn.Module.state_dict()`. A module
    met twice is refused, so a crafted pickle cannot make the walk exponential, and so is a tree
    deeper than any network's, so it cannot exhaust the stack."""
    if id(obj) in seen:
        raise _Malformed(f"module {prefix.rstrip('.') or '(root)'} appears twice in the tree")
    if prefix.count(".") >= MAX_MODULE_DEPTH:
        raise _Malformed(f"modules nested deeper than {MAX_MODULE_DEPTH} levels")
    seen.add(id(obj))
    state = obj.state
    parts = [state.get(k) if state.get(k) is not None else {} for k in ("_parameters", "_buffers", "_modules")]
    if not all(isinstance(p, dict) and all(isinstance(name, str) for name in p) for p in parts):
        raise _Malformed(f"{shown(obj.class_name)} at {prefix or '(root)'} is not a torch module")
    params, buffers, modules = parts
    non_persistent = state.get("_non_persistent_buffers_set") or set()
    tensors = [*params.items(), *((k, v) for k, v in buffers.items() if k not in non_persistent)]
    for name, tensor in tensors:
        if tensor is None:
            continue
        if not isinstance(tensor, torch.Tensor):
            raise _Malformed(f"{prefix}{name} is not a tensor")
        out[prefix + name] = tensor.detach().to(torch.float32) if tensor.is_floating_point() else tensor.detach()
    for name, child in modules.items():
        if child is None:
            continue
        if not isinstance(child, PersistentObject):
            raise _Malformed(f"{prefix}{name} is not a network module from the official code")
        _state_dict(child, f"{prefix}{name}.", out, seen)


def _init_kwargs(net: PersistentObject) -> dict:
    args = net.state.get("_init_args") or ()
    kwargs = net.state.get("_init_kwargs") or {}
    names = _POSITIONAL_NAMES.get(net.class_name, ())
    if not isinstance(args, (list, tuple)) or not isinstance(kwargs, dict) or len(args) > len(names):
        raise _Malformed(f"cannot read the init arguments of {net.class_name}")
    return {**dict(zip(names, args)), **kwargs}


def _child(obj: PersistentObject, *names: str) -> PersistentObject | None:
    for name in names:
        modules = obj.state.get("_modules")
        obj = modules.get(name) if isinstance(modules, dict) else None
        if not isinstance(obj, PersistentObject):
            return None
    return obj


def _with_recorded_defaults(kwargs: dict, net: PersistentObject) -> dict:
    """A generator's kwargs with `conv_clamp` added from its first synthesis layer when the kwargs
    leave it out. The default differs between the official codebases (stylegan2-ada-pytorch: no
    clamping; stylegan3 and DragGAN: 256) and changes the images, so a pickle that kept the
    default states its value only in the modules it holds."""
    layer = _child(net, "synthesis", "b4", "conv1")
    if net.class_name != "Generator" or layer is None or "conv_clamp" not in layer.state:
        return kwargs
    recorded = {"conv_clamp": layer.state["conv_clamp"]}
    nested = kwargs.get("synthesis_kwargs")
    if isinstance(nested, dict) and nested:
        return {**kwargs, "synthesis_kwargs": {**recorded, **nested}}
    return {**recorded, **kwargs}


def read_network_pickle(path: str | Path, network: str = "G_ema") -> tuple[dict, dict[str, torch.Tensor]]:
    """Init kwargs and state dict of one network (`G_ema`, `G` or `D`) in an official pickle.

    A generator's kwargs gain the `conv_clamp` its modules recorded when they leave it out
    (`_with_recorded_defaults`).

    Floating tensors come back as float32 whatever their stored precision; integer and bool
    buffers keep their dtype. Every problem is a one-line CheckpointError.
    """
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise CheckpointError(f"{path}: empty file")
        with path.open("rb") as fh:
            top = _Unpickler(fh, _outer_globals(path.name), path.name).load()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except _Refused as exc:
        hint = next((h for prefix, h in _REFUSAL_HINTS.items() if exc.name.startswith(prefix)),
                    "this pickle holds code, not just weights")
        raise CheckpointError(f"refused global {exc.name!r} in {exc.where}: {hint}") from None
    except _Malformed as exc:
        raise CheckpointError(f"{path}: not an official network pickle ({exc})") from None
    except CheckpointError:
        raise
    except Exception as exc:  # truncated or random bytes raise many types; all mean "unreadable"
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise CheckpointError(f"{path}: not a readable pickle, truncated or corrupt ({detail})") from None
    if not isinstance(top, dict) or not any(isinstance(v, PersistentObject) for v in top.values()):
        raise CheckpointError(f"{path}: not an NVIDIA network pickle (it holds a {type(top).__name__}, "
                              "not a dict of networks)")
    net = top.get(network)
    if not isinstance(net, PersistentObject):
        names = ", ".join(str(k) for k, v in top.items() if isinstance(v, PersistentObject))
        raise CheckpointError(f"{path}: no network {network!r} in this pickle (it has: {names})")
    try:
        state: dict[str, torch.Tensor] = {}
        _state_dict(net, "", state, set())
        return _with_recorded_defaults(_init_kwargs(net), net), state
    except _Malformed as exc:
        raise CheckpointError(f"{path}: {network}: {exc}") from None
