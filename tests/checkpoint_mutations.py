"""Corrupt and hostile versions of valid checkpoints, and what loading each one may do.

Shared by tests/test_checkpoint_fuzz.py and benchmarks/checkpoint_fuzz.py. A tiny random
generator is written in every supported format (the project's .safetensors, torch.save zip and
legacy files read with weights_only=True, NVIDIA network pickles in stylegan3's and
stylegan2-ada's layouts), then mutated: byte damage (truncations, flipped, replaced, deleted,
inserted and duplicated bytes), structural changes (tensor shapes, dtypes, strides, offsets,
names, module trees, storage records, headers), config values and hostile pickle payloads.

Each mutation carries the tensors a successful load must return, or None when no load may succeed.
For byte damage they follow from where each tensor's raw bytes lie in the file: a changed byte
inside a tensor changes that tensor, a shift moves it, and a tensor whose own bytes were resized
or cut may load only as bytes the damaged file holds (IN_FILE: a length-prefixed blob can absorb
its neighbour's bytes and still parse; nothing checks a pickle's content). For structural changes
they are what the changed file declares.
A load that returns anything else, raises anything but a one-line CheckpointError, or lets the
marker file appear (every payload, and the module source stored in the network pickles, would
create it) is a failure.
"""

from __future__ import annotations

import copy
import io
import json
import pickle
import random
import struct
import sys
import zipfile
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save as safetensors_bytes

from stylegan2 import CheckpointError, Generator, GeneratorConfig, load_generator
from tests.hostile_pickles import Payload, deep_list, payloads, prefixed, standalone, substituted
from tests.official_pickle import Call, network_pickle_bytes

STYLEGAN3_KWARGS = {"z_dim": 8, "w_dim": 8, "mapping_kwargs": {"num_layers": 1}, "channel_base": 64, "channel_max": 8,
                    "fused_modconv_default": "inference_only", "c_dim": 0, "img_resolution": 8, "img_channels": 3}
ADA_KWARGS = {"z_dim": 8, "c_dim": 0, "w_dim": 8, "img_resolution": 8, "img_channels": 3,
              "mapping_kwargs": {"num_layers": 1},
              "synthesis_kwargs": {"channel_base": 64, "channel_max": 8, "num_fp16_res": 4, "conv_clamp": 256}}
PLACEHOLDER = "\x00placeholder\x00"
DEEP = 5000  # nesting depth of the deep values: past Python's recursion limit
OUTCOMES = ("loaded-correct", "checkpoint-error", "loaded-wrong", "multi-line-error", "other-exception",
            "executed-code")
FAILURES = ("loaded-wrong", "multi-line-error", "other-exception", "executed-code")
IN_FILE = "any run of the damaged file's bytes"
NUMPY_SCALAR = np.float64(0).__reduce__()[0]  # numpy.core.multiarray.scalar, whatever numpy calls it
Expected = dict[str, "torch.Tensor | str"]


@dataclass(frozen=True)
class Base:
    format: str
    suffix: str
    data: bytes
    regions: dict[str, tuple[int, int]]  # tensor name -> (offset, length) of its raw bytes in `data`


@dataclass(frozen=True)
class Mutation:
    format: str
    kind: str
    suffix: str
    data: bytes
    expected: Expected | None


@dataclass
class Corpus:
    G: Generator
    state: dict[str, torch.Tensor]
    bases: dict[str, Base]
    marker: Path

    @property
    def module_src(self) -> str:
        return f"open({str(self.marker)!r}, 'w').close()\n"


# --- the valid checkpoints -----------------------------------------------------------------------

def fuzz_generator(seed: int) -> Generator:
    """The tiny generator with every tensor random, so each tensor's bytes occur once in a file."""
    G = Generator(GeneratorConfig.from_dict(ADA_KWARGS)).eval().requires_grad_(False)
    gen = torch.Generator().manual_seed(seed)
    for t in G.state_dict().values():
        t.copy_(torch.randn(t.shape, generator=gen))
    return G


def _regions(data: bytes, state: dict[str, torch.Tensor]) -> dict[str, tuple[int, int]]:
    regions = {}
    for name, t in state.items():
        raw = t.contiguous().numpy().tobytes()
        at = data.find(raw)
        if at < 0 or data.find(raw, at + 1) >= 0:
            raise ValueError(f"{name}'s bytes are not in the file exactly once")
        regions[name] = (at, len(raw))
    return regions


def _torch_bytes(obj: Any, legacy: bool = False) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=not legacy)
    return buf.getvalue()


def _safetensors(state: dict[str, torch.Tensor], config: Any) -> bytes:
    return safetensors_bytes(dict(state), metadata={"generator_config": json.dumps(config)})


def build_corpus(workdir: Path, seed: int) -> Corpus:
    G = fuzz_generator(seed)
    state = {k: v.clone() for k, v in G.state_dict().items()}
    marker = workdir / "marker-code-ran"
    corpus = Corpus(G, state, {}, marker)
    config = G.config.to_dict()
    files = {
        "safetensors": (".safetensors", _safetensors(state, config)),
        "torch-zip": (".pt", _torch_bytes({"config": config, "state_dict": state})),
        "torch-legacy": (".pt", _torch_bytes({"config": config, "state_dict": state}, legacy=True)),
        "nvidia-pickle": (".pkl", network_pickle_bytes(G, STYLEGAN3_KWARGS, 4, corpus.module_src)),
        "nvidia-pickle-ada": (".pkl", network_pickle_bytes(G, ADA_KWARGS, 3, corpus.module_src)),
    }
    for name, (suffix, data) in files.items():
        corpus.bases[name] = Base(name.removesuffix("-ada"), suffix, data, _regions(data, state))
    return corpus


# --- byte damage ---------------------------------------------------------------------------------

def _random_bytes(rng: random.Random, n: int) -> bytes:
    return bytes(rng.randrange(256) for _ in range(n))


def _span(rng: random.Random, data: bytes, most: int) -> tuple[int, int]:
    pos = rng.randrange(len(data))
    return pos, min(rng.randint(1, most), len(data) - pos)


def _truncate(rng, data):
    return rng.randrange(len(data)), None, b""


def _bit_flip(rng, data):
    pos = rng.randrange(len(data))
    return pos, 1, bytes([data[pos] ^ (1 << rng.randrange(8))])


def _byte_set(rng, data):
    pos = rng.randrange(len(data))
    return pos, 1, bytes([(data[pos] + rng.randint(1, 255)) % 256])


def _burst(rng, data):
    pos, n = _span(rng, data, 64)
    return pos, n, _random_bytes(rng, n)


def _zero_run(rng, data):
    pos, n = _span(rng, data, 64)
    return pos, n, bytes(n)


def _delete(rng, data):
    pos, n = _span(rng, data, 16)
    return pos, n, b""


def _insert(rng, data):
    return rng.randrange(len(data) + 1), 0, _random_bytes(rng, rng.randint(1, 16))


def _duplicate(rng, data):
    pos, n = _span(rng, data, 64)
    return pos + n, 0, data[pos:pos + n]


def _append(rng, data):
    return len(data), 0, _random_bytes(rng, rng.randint(1, 64))


BYTE_DAMAGE: dict[str, Callable[[random.Random, bytes], tuple[int, int | None, bytes]]] = {
    "truncate": _truncate, "bit-flip": _bit_flip, "byte-set": _byte_set, "burst": _burst, "zero-run": _zero_run,
    "delete": _delete, "insert": _insert, "duplicate": _duplicate, "append": _append,
}


def _as_tensor(raw: bytes, like: torch.Tensor) -> torch.Tensor:
    return torch.frombuffer(bytearray(raw), dtype=like.dtype).reshape(like.shape).clone()


def spliced_state(base: Base, state: dict[str, torch.Tensor], pos: int, removed: int,
                  inserted: bytes, damaged: bytes) -> Expected:
    """What a load of `damaged` (= base.data with `removed` bytes at `pos` replaced by `inserted`)
    may return: tensors away from the splice are unchanged, tensors under an equal-length splice
    hold the new bytes, and a tensor whose own bytes were resized or cut holds IN_FILE."""
    expected: Expected = {}
    for name, (offset, length) in base.regions.items():
        if offset + length <= pos or offset >= pos + removed:
            expected[name] = state[name]
        elif removed == len(inserted):
            expected[name] = _as_tensor(damaged[offset:offset + length], state[name])
        else:
            expected[name] = IN_FILE
    return expected


def byte_damage(corpus: Corpus, base_name: str, kind: str, rng: random.Random) -> Mutation:
    base = corpus.bases[base_name]
    pos, removed, inserted = BYTE_DAMAGE[kind](rng, base.data)
    removed = len(base.data) - pos if removed is None else removed
    damaged = base.data[:pos] + inserted + base.data[pos + removed:]
    expected = spliced_state(base, corpus.state, pos, removed, inserted, damaged)
    return Mutation(base.format, f"bytes:{kind}", base.suffix, damaged, expected)


# --- structural changes --------------------------------------------------------------------------

def _replaced(state: dict[str, torch.Tensor], name: str, value: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """`state` with one tensor replaced, or dropped for None."""
    out = dict(state)
    if value is None:
        del out[name]
    else:
        out[name] = value
    return out


def _same_shape_pair(state: dict[str, torch.Tensor]) -> tuple[str, str]:
    names = [n for n in state if n.endswith("conv1.weight")]
    return names[0], names[1]


def _swapped(state: dict[str, torch.Tensor], a: str, b: str) -> dict[str, torch.Tensor]:
    return {**state, a: state[b], b: state[a]}


def _st_split(data: bytes) -> tuple[dict, bytes]:
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def _st_join(header: Any, body: bytes, text: str | None = None) -> bytes:
    raw = (text if text is not None else json.dumps(header)).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + body


def _header_edit(corpus: Corpus, edit: Callable[[dict], Any]) -> bytes:
    header, body = _st_split(corpus.bases["safetensors"].data)
    return _st_join(edit(header), body)


def safetensors_structure(corpus: Corpus) -> Iterator[tuple[str, bytes, dict | None]]:
    s, cfg = corpus.state, corpus.G.config.to_dict()
    a, b = _same_shape_pair(s)
    fc, const = "mapping.fc0.weight", "synthesis.b4.const"

    def entry(name: str, **changes: Any) -> Callable[[dict], dict]:
        return lambda h: {**h, name: {**h[name], **changes}}

    yield "shape: swapped between tensors", _header_edit(corpus, lambda h: {
        **h, fc: {**h[fc], "shape": h[const]["shape"]}, const: {**h[const], "shape": h[fc]["shape"]}}), None
    yield "shape: flattened", _header_edit(corpus, entry(a, shape=[s[a].numel()])), None
    yield "shape: more elements", _header_edit(corpus, entry(a, shape=[*s[a].shape, 2])), None
    yield "shape: zero elements", _header_edit(corpus, entry(a, shape=[0, *s[a].shape[1:]])), None
    yield "dtype: I32 label on float bytes", _header_edit(corpus, entry(a, dtype="I32")), None
    yield "dtype: F16 label on float bytes", _header_edit(corpus, entry(a, dtype="F16")), None
    for dtype in (torch.float16, torch.bfloat16, torch.float64):
        changed = _replaced(s, a, s[a].to(dtype))
        yield f"dtype: stored as {dtype}", _safetensors(changed, cfg), _replaced(s, a, s[a].to(dtype).float())
    yield "offsets: swapped between equal tensors", _header_edit(corpus, lambda h: {
        **h, a: {**h[a], "data_offsets": h[b]["data_offsets"]}, b: {**h[b], "data_offsets": h[a]["data_offsets"]}}), \
        _swapped(s, a, b)
    yield "offsets: past the end", _header_edit(corpus, entry(a, data_offsets=[0, 10**9])), None
    yield "names: renamed", _header_edit(corpus, lambda h: {("x" + k if k == a else k): v for k, v in h.items()}), None
    yield "names: one dropped", _safetensors(_replaced(s, a, None), cfg), None
    yield "names: one added", _safetensors({**s, "synthesis.b16.const": torch.zeros(2)}, cfg), None
    yield "names: with control characters", _safetensors({**s, "a\n\x1b[2Jb": torch.zeros(1)}, cfg), None
    yield "metadata: no config", safetensors_bytes(dict(s)), None
    yield "metadata: config not JSON", safetensors_bytes(dict(s), metadata={"generator_config": "{"}), None
    yield "metadata: config a list", _safetensors(s, [1, 2]), None
    yield "metadata: config nested past the recursion limit", safetensors_bytes(
        dict(s), metadata={"generator_config": "[" * DEEP + "]" * DEEP}), None
    yield "metadata: config with a 5000-digit integer", safetensors_bytes(
        dict(s), metadata={"generator_config": json.dumps({**cfg, "z_dim": PLACEHOLDER}).replace(
            json.dumps(PLACEHOLDER), "9" * 5000)}), None
    yield "metadata: not strings", _header_edit(corpus, lambda h: {**h, "__metadata__": {"generator_config": 1}}), None
    yield "header: a JSON list", _header_edit(corpus, lambda h: [h]), None
    yield "header: nested past the recursion limit", _st_join(None, b"", "[" * DEEP + "]" * DEEP), None
    header, _ = _st_split(corpus.bases["safetensors"].data)
    yield "header: length past the end", struct.pack("<Q", 2**62) + corpus.bases["safetensors"].data[8:], None
    yield "header: length zero", struct.pack("<Q", 0) + corpus.bases["safetensors"].data[8:], None
    yield "header: length cuts the JSON", struct.pack("<Q", 7) + corpus.bases["safetensors"].data[8:], None
    yield "header: no tensors", _st_join({"__metadata__": header["__metadata__"]}, b""), None
    yield "data: missing", _st_join(header, b""), None


def _rezip(data: bytes, edit: Callable[[bytes], bytes]) -> bytes:
    """A torch zip checkpoint with its data.pkl rewritten (torch reads unaligned, uncompressed zips)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            dst.writestr(info, edit(content) if info.filename.endswith("/data.pkl") else content)
    return out.getvalue()


def torch_structure(corpus: Corpus) -> Iterator[tuple[str, bytes, dict | None]]:
    s, cfg = corpus.state, corpus.G.config.to_dict()
    a, b = _same_shape_pair(s)
    square = "mapping.fc0.weight"
    sparse = s[square].to_sparse()

    def saved(state: Any, config: Any = cfg, legacy: bool = False) -> bytes:
        return _torch_bytes({"config": config, "state_dict": state}, legacy)

    for legacy in (False, True):
        tag = " (legacy format)" if legacy else ""
        yield f"shape: reshaped{tag}", saved(_replaced(s, a, s[a].reshape(-1)), legacy=legacy), None
        yield f"shape: tensors swapped{tag}", saved(_swapped(s, a, b), legacy=legacy), _swapped(s, a, b)
        yield f"dtype: float16{tag}", saved(_replaced(s, a, s[a].half()), legacy=legacy), \
            _replaced(s, a, s[a].half().float())
    yield "shape: different shapes swapped", saved(_swapped(s, square, "synthesis.b4.const")), None
    yield "dtype: bfloat16", saved(_replaced(s, a, s[a].bfloat16())), _replaced(s, a, s[a].bfloat16().float())
    yield "dtype: float64", saved(_replaced(s, a, s[a].double())), _replaced(s, a, s[a].double().float())
    for dtype in (torch.int32, torch.int64, torch.uint8, torch.bool, torch.complex64):
        yield f"dtype: {dtype}", saved(_replaced(s, a, s[a].to(dtype))), None
    yield "layout: transposed strides, same values", saved({**s, square: s[square].t().contiguous().t()}), s
    yield "layout: overlapping strides (expand)", saved({**s, square: s[square][:1].expand(8, 8)}), None
    yield "layout: sparse", saved({**s, square: sparse}), None
    yield "layout: meta device", saved({**s, square: torch.empty(8, 8, device="meta")}), None
    yield "dtype: float8_e4m3fn", saved(_replaced(s, a, s[a].to(torch.float8_e4m3fn))), \
        _replaced(s, a, s[a].to(torch.float8_e4m3fn).float())
    yield "parameter with requires_grad", saved({**s, square: torch.nn.Parameter(s[square].clone())}), s
    for value in (1, "w", None, [s[a]], {"a": s[a]}):
        yield f"value: {type(value).__name__} instead of a tensor", saved({**s, a: value}), None
    yield "names: one dropped", saved(_replaced(s, a, None)), None
    yield "names: one added", saved({**s, "synthesis.b16.const": torch.zeros(2)}), None
    yield "names: not strings", saved({**s, 7: torch.zeros(1)}), None
    yield "top level: a list", _torch_bytes([s]), None
    yield "top level: a tensor", _torch_bytes(s[a]), None
    yield "top level: state_dict a list", saved(list(s.values())), None
    yield "top level: state next to config", _torch_bytes({"config": cfg, **s}), None
    yield "top level: no config", _torch_bytes(dict(s)), None
    yield "top level: nested state dict", saved({"G": s}), None


def _tensor_record(storage: Any, offset: Any, size: Any, stride: Any) -> Call:
    return Call(torch._utils._rebuild_tensor_v2, storage, offset, size, stride, False, OrderedDict())


def _legacy_stream(values: np.ndarray, storage_type: Any, pid: Callable[[Any], tuple] | None = None,
                   count: int | None = None, little_endian: bool = True) -> bytes:
    """torch.save's legacy storage stream, written from the format description, with its storage
    record (persistent id), element count and byte order open to change."""
    marker = object()
    record = pid or (lambda st: ("storage", st, "k0", "cpu", values.size, None))
    body = io.BytesIO()
    pickler = pickle.Pickler(body, protocol=2)
    pickler.persistent_id = lambda obj: record(storage_type) if obj is marker else None
    pickler.dump(marker)
    order = "<" if little_endian else ">"
    head = [pickle.dumps(x, protocol=2) for x in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": little_endian})]
    n = np.array(values.size if count is None else count, dtype=order + "i8").tobytes()
    return b"".join([*head, body.getvalue(), pickle.dumps(["k0"], protocol=2), n,
                     values.astype(values.dtype.newbyteorder(order)).tobytes()])


def _storage(values: np.ndarray, storage_type: Any = torch.FloatStorage, **stream: Any) -> Call:
    return Call(torch.storage._load_from_bytes, _legacy_stream(values, storage_type, **stream))


def _module_with_parameters(params: dict) -> torch.nn.Module:
    """A module whose parameter dict holds what no `register_parameter` would accept."""
    m = torch.nn.Module()
    m._parameters = dict(params)
    return m


def _deep_modules(depth: int) -> torch.nn.Module:
    root = node = torch.nn.Module()
    for _ in range(depth):
        child = torch.nn.Module()
        node.add_module("m", child)
        node = child
    return root


def pickle_structure(corpus: Corpus) -> Iterator[tuple[str, bytes, dict | None]]:
    s, G = corpus.state, corpus.G
    name = "mapping.fc0.weight"
    w = s[name].numpy()
    flat = w.reshape(-1)

    def written(replace: dict[str, Any], kwargs: Any = STYLEGAN3_KWARGS) -> bytes:
        return network_pickle_bytes(G, kwargs, 4, corpus.module_src, replace)

    def record(size: Any, stride: Any, offset: Any = 0, values: np.ndarray = flat, **stream: Any) -> bytes:
        return written({name: _tensor_record(_storage(values, **stream), offset, size, stride)})

    yield "record: as written", record((8, 8), (8, 1)), s
    yield "record: transposed layout, same values", record((8, 8), (1, 8), values=w.T.reshape(-1).copy()), s
    yield "record: overlapping strides", record((8, 8), (0, 1)), None
    yield "record: zero strides", record((8, 8), (0, 0)), None
    yield "record: size past the storage", record((8, 9), (9, 1)), None
    yield "record: fewer elements", record((8, 7), (7, 1)), None
    yield "record: offset past the storage", record((8, 8), (8, 1), offset=1), None
    yield "record: negative offset", record((8, 8), (8, 1), offset=-1), None
    yield "record: negative stride", record((8, 8), (-8, 1)), None
    yield "record: size not a tuple", record([8, 8], (8, 1)), None
    yield "record: size and stride of different lengths", record((8, 8), (8,)), None
    yield "record: huge size", record((2**40, 2**40), (0, 0)), None
    half = flat.astype(np.float16)
    yield "storage: float16", record((8, 8), (8, 1), values=half, storage_type=torch.HalfStorage), \
        {**s, name: torch.from_numpy(half.astype(np.float32)).reshape(8, 8)}
    yield "storage: big-endian", record((8, 8), (8, 1), little_endian=False), s
    yield "storage: int64 elements", record((8, 8), (8, 1), values=flat.astype(np.int64),
                                              storage_type=torch.LongStorage), None
    yield "storage: count does not match", record((8, 8), (8, 1), count=63), None
    yield "storage: record with a view (torch < 1.0)", record(
        (8, 8), (8, 1), pid=lambda st: ("storage", st, "k0", "cpu", 64, ("k0", 0, 64))), None
    yield "storage: record of 5 fields", record((8, 8), (8, 1), pid=lambda st: ("storage", st, "k0", "cpu", 64)), None
    yield "storage: negative element count", record(
        (8, 8), (8, 1), pid=lambda st: ("storage", st, "k0", "cpu", -1, None)), None
    yield "storage: huge element count", record(
        (8, 8), (8, 1), pid=lambda st: ("storage", st, "k0", "cpu", 2**62, None)), None
    yield "storage: key not declared", record(
        (8, 8), (8, 1), pid=lambda st: ("storage", st, "k1", "cpu", 64, None)), None
    yield "storage: on cuda:0", record((8, 8), (8, 1), pid=lambda st: ("storage", st, "k0", "cuda:0", 64, None)), s
    yield "storage: not bytes", written({name: _tensor_record(Call(torch.storage._load_from_bytes, "x"), 0, (8, 8),
                                                               (8, 1))}), None
    for value in (1, "w", None, [s[name]], {"a": s[name]}):
        yield f"tree: {type(value).__name__} as a parameter", written({name: value}), None
    yield "tree: module missing", written({"synthesis.b8": None}), None
    yield "tree: dict as a module", written({"synthesis.b8": {"conv0": 1}}), None
    copied_torgb = written({"synthesis.b8.torgb": copy.deepcopy(G.synthesis.b4.torgb)})
    yield "tree: a block's torgb copied into another", copied_torgb, \
        {**s, **{k.replace("b4.", "b8.", 1): v for k, v in s.items() if k.startswith("synthesis.b4.torgb.")}}
    yield "tree: one module in two places", written({"synthesis.b8.torgb": G.synthesis.b4.torgb,
                                                     "synthesis.b4.torgb": G.synthesis.b4.torgb}), None
    yield "tree: modules nested 1500 deep", _deeply_nested(corpus), None
    yield "tree: top level a list", pickle.dumps([1], protocol=4), None
    yield "attribute: conv_clamp as a float64 scalar", written({"synthesis.b4.conv1.conv_clamp": np.float64(256)}), s
    yield "attribute: conv_clamp a string", written({"synthesis.b4.conv1.conv_clamp": "256"}), None
    yield "attribute: numpy scalar of the wrong size", written({
        "synthesis.b4.conv1.act_gain": Call(NUMPY_SCALAR, np.dtype("f8"), b"\0" * 3)}), None
    yield "attribute: numpy object scalar", written({
        "synthesis.b4.conv1.act_gain": Call(NUMPY_SCALAR, np.dtype("O"), b"\0" * 8)}), None
    yield "attribute: complex numpy scalar", written({"synthesis.b4.conv1.act_gain": np.complex128(1j)}), s
    yield "kwargs: a tuple as z_dim", written({}, {**STYLEGAN3_KWARGS, "z_dim": (8,)}), None
    yield "tree: a parameter named by a number", written({"mapping.fc0": _module_with_parameters({1: s[name]})}), None


def _deeply_nested(corpus: Corpus) -> bytes:
    """Pickling a module chain this deep needs more Python recursion than the default allows."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))
    try:
        return network_pickle_bytes(corpus.G, STYLEGAN3_KWARGS, 4, corpus.module_src,
                                    {"synthesis.b4.conv1.affine": _deep_modules(1500)})
    finally:
        sys.setrecursionlimit(limit)


def structural_mutations(corpus: Corpus) -> Iterator[Mutation]:
    for fmt, suffix, cases in (("safetensors", ".safetensors", safetensors_structure(corpus)),
                               ("torch-zip", ".pt", torch_structure(corpus)),
                               ("nvidia-pickle", ".pkl", pickle_structure(corpus))):
        for name, data, expected in cases:
            legacy = "(legacy format)" in name
            yield Mutation("torch-legacy" if legacy else fmt, f"structure:{name.split(':')[0]}", suffix, data, expected)


# --- config values -------------------------------------------------------------------------------

CONFIG_VALUES: list[Any] = [None, True, -1, 0, 3, 2**40, 1.5, float("nan"), float("inf"), "512", "lrelu",
                            "x\n\x1b[31m" * 500, [], [1, 3, 3, 1], {}, {"a": 1}, "deep", "huge-int"]


def _leaf_paths(d: Any, prefix: tuple = ()) -> list[tuple]:
    if isinstance(d, dict):
        return [prefix] + [p for k, v in d.items() for p in _leaf_paths(v, (*prefix, k))]
    return [prefix]


def _set_path(d: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    copy = dict(d)
    copy[path[0]] = _set_path(d.get(path[0], {}) if isinstance(d, dict) else {}, path[1:], value)
    return copy


def _json_with(config: Any, special: str) -> str:
    text = json.dumps(config)
    raw = "[" * DEEP + "]" * DEEP if special == "deep" else "9" * 5000
    return text.replace(json.dumps(PLACEHOLDER), raw)


def _ops_for(special: str) -> bytes:
    """The pickled form of a deep list, or of a 5000-digit integer (LONG4)."""
    if special == "deep":
        return deep_list(DEEP)
    n = 10**5000 - 1
    raw = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8b" + struct.pack("<I", len(raw)) + raw


def config_mutation(corpus: Corpus, base_name: str, rng: random.Random) -> Mutation:
    base = corpus.bases[base_name]
    s = corpus.state
    pickled_kwargs = {"nvidia-pickle": STYLEGAN3_KWARGS, "nvidia-pickle-ada": ADA_KWARGS}
    config = pickled_kwargs.get(base_name, corpus.G.config.to_dict())
    path = rng.choice(_leaf_paths(config) + [("unknown_setting",), ("mapping_kwargs", "unknown_setting")])
    value = rng.choice(CONFIG_VALUES)
    special = value if value in ("deep", "huge-int") else None
    if special and base_name == "nvidia-pickle":  # protocol 4 frames its strings; substitute in the ada pickle
        base_name, base, config = "nvidia-pickle-ada", corpus.bases["nvidia-pickle-ada"], ADA_KWARGS
    mutated = _set_path(config, path, PLACEHOLDER if special else value)
    if base_name == "safetensors":
        text = _json_with(mutated, special) if special else json.dumps(mutated)
        data = safetensors_bytes(dict(s), metadata={"generator_config": text})
    elif base_name.startswith("torch"):
        data = _torch_bytes({"config": mutated, "state_dict": s}, legacy=base_name == "torch-legacy")
        if special:
            swap = lambda pkl: substituted(pkl, PLACEHOLDER, _ops_for(special))  # noqa: E731
            data = swap(data) if base_name == "torch-legacy" else _rezip(data, swap)
    else:
        data = network_pickle_bytes(corpus.G, mutated, 4 if base_name == "nvidia-pickle" else 3, corpus.module_src)
        if special:
            data = substituted(data, PLACEHOLDER, _ops_for(special))
    return Mutation(base.format, f"config:{special or type(value).__name__} value", base.suffix, data, s)


# --- hostile payloads ----------------------------------------------------------------------------

def _embedded_pickle(corpus: Corpus, payload: Payload) -> bytes:
    kwargs = {**ADA_KWARGS, "mapping_kwargs": {"num_layers": PLACEHOLDER}}
    return substituted(network_pickle_bytes(corpus.G, kwargs, 3, corpus.module_src), PLACEHOLDER, payload.ops)


def _embedded_torch(corpus: Corpus, payload: Payload) -> bytes:
    config = _set_path(corpus.G.config.to_dict(), ("mapping", "num_layers"), PLACEHOLDER)
    data = _torch_bytes({"config": config, "state_dict": corpus.state})
    return _rezip(data, lambda pkl: substituted(pkl, PLACEHOLDER, payload.ops))


def _in_storage_stream(corpus: Corpus, payload: Payload) -> bytes:
    """The payload where a storage's persistent-id pickle goes, inside `_load_from_bytes`."""
    values = corpus.state["mapping.fc0.weight"].numpy().reshape(-1)
    stream = b"".join(pickle.dumps(x, protocol=2) for x in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}))
    stream += standalone(payload) + pickle.dumps(["k0"], protocol=2) + np.array(64, "<i8").tobytes() + values.tobytes()
    record = _tensor_record(Call(torch.storage._load_from_bytes, stream), 0, (8, 8), (8, 1))
    return network_pickle_bytes(corpus.G, STYLEGAN3_KWARGS, 4, corpus.module_src, {"mapping.fc0.weight": record})


def hostile_mutations(corpus: Corpus) -> Iterator[Mutation]:
    """Every payload in every place a loader could meet it. A payload may be ignored (then the
    load must give the right tensors) but never run; alone in a file, nothing may load."""
    bases, s = corpus.bases, corpus.state
    for p in payloads(corpus.marker):
        alone = standalone(p)
        places = [
            ("nvidia-pickle", "alone", ".pkl", alone, None),
            ("torch-legacy", "alone", ".pt", alone, None),
            ("torch-zip", "alone as data.pkl", ".pt", _rezip(bases["torch-zip"].data, lambda _: alone), None),
            ("safetensors", "alone", ".safetensors", alone, None),
            ("nvidia-pickle", "before the snapshot", ".pkl", prefixed(bases["nvidia-pickle"].data, p), s),
            ("nvidia-pickle", "before the snapshot (protocol 3)", ".pkl", prefixed(bases["nvidia-pickle-ada"].data, p),
             s),
            ("torch-zip", "before data.pkl", ".pt", _rezip(bases["torch-zip"].data, lambda pkl: prefixed(pkl, p)), s),
            ("torch-legacy", "before the first pickle", ".pt", prefixed(bases["torch-legacy"].data, p), s),
            ("nvidia-pickle", "as a kwargs value", ".pkl", _embedded_pickle(corpus, p), s),
            ("torch-zip", "as a config value", ".pt", _embedded_torch(corpus, p), s),
            ("nvidia-pickle", "inside a storage stream", ".pkl", _in_storage_stream(corpus, p), s),
            ("nvidia-pickle", "after STOP", ".pkl", bases["nvidia-pickle"].data + alone, s),
        ]
        for fmt, place, suffix, data, expected in places:
            yield Mutation(fmt, f"hostile:{place}", suffix, data, expected)


def format_confusions(corpus: Corpus) -> Iterator[Mutation]:
    """Each valid file under the other formats' names."""
    for base in corpus.bases.values():
        for suffix, fmt in ((".safetensors", "safetensors"), (".pt", "torch-zip"), (".pkl", "nvidia-pickle")):
            if suffix != base.suffix:
                yield Mutation(fmt, f"confusion:{base.format} named {suffix}", suffix, base.data, None)


# --- the whole run -------------------------------------------------------------------------------

def mutations(corpus: Corpus, total: int, seed: int, config_per_base: int = 30) -> Iterator[Mutation]:
    """Every hostile, structural and confusion case once, `config_per_base` random config values
    per base, then byte damage (every kind on every base in turn) up to `total` mutations."""
    rng = random.Random(seed)
    fixed = [*hostile_mutations(corpus), *structural_mutations(corpus), *format_confusions(corpus),
             *(config_mutation(corpus, b, rng) for b in corpus.bases for _ in range(config_per_base))]
    yield from fixed
    combos = [(b, k) for b in corpus.bases for k in BYTE_DAMAGE]
    for i in range(max(total - len(fixed), 0)):
        base_name, kind = combos[i % len(combos)]
        yield byte_damage(corpus, base_name, kind, rng)


def _matches(got: torch.Tensor, want: torch.Tensor | str, data: bytes) -> bool:
    """Bit for bit (NaN patterns and -0.0 count too), or for IN_FILE: stored in the file as is."""
    if isinstance(want, str):
        return got.contiguous().numpy().tobytes() in data
    want = want.float()
    return (got.shape == want.shape and got.dtype == torch.float32
            and torch.equal(got.contiguous().view(torch.int32), want.contiguous().view(torch.int32)))


def attempt(m: Mutation, workdir: Path, marker: Path) -> tuple[str, str]:
    """(outcome, detail) of loading the mutated file."""
    path = workdir / f"checkpoint{m.suffix}"
    path.write_bytes(m.data)
    try:
        G = load_generator(path)
    except CheckpointError as exc:
        text = str(exc)
        outcome = "checkpoint-error" if text.isprintable() and "\n" not in text else "multi-line-error"
        detail = text
    except Exception as exc:  # anything else is a failure the report names
        outcome, detail = "other-exception", f"{type(exc).__name__}: {str(exc)[:200]}"
    else:
        got = G.state_dict()
        ok = m.expected is not None and got.keys() == m.expected.keys() and all(
            _matches(got[k], m.expected[k], m.data) for k in got)
        outcome, detail = ("loaded-correct", "") if ok else ("loaded-wrong", "the tensors differ from the file's")
    finally:
        path.unlink()
    if marker.exists():
        marker.unlink()
        outcome, detail = "executed-code", f"the marker appeared ({m.kind})"
    return outcome, detail


@dataclass
class Report:
    by_format: dict[str, Counter]
    by_kind: dict[str, Counter]
    failures: list[tuple[str, str, str, str]]

    @property
    def total(self) -> int:
        return sum(sum(c.values()) for c in self.by_format.values())

    def outcomes(self) -> Counter:
        return sum(self.by_format.values(), Counter())


def run(corpus: Corpus, workdir: Path, total: int, seed: int, config_per_base: int = 30) -> Report:
    report = Report({}, {}, [])
    for m in mutations(corpus, total, seed, config_per_base):
        outcome, detail = attempt(m, workdir, corpus.marker)
        report.by_format.setdefault(m.format, Counter())[outcome] += 1
        report.by_kind.setdefault(m.kind, Counter())[outcome] += 1
        if outcome in FAILURES:
            report.failures.append((m.format, m.kind, outcome, detail))
    return report
