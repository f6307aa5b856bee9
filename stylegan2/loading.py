"""Read and write generator checkpoints without ever executing code from them.

Formats: the project's `.safetensors` (+ JSON config, also stored in the header metadata),
`torch.save` state dicts read with `weights_only=True`, and NVIDIA network pickles parsed by
`nvidia_pickle` (a restricted unpickler). Every failure a user can cause is a CheckpointError
with a one-line message.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import torch

from .config import GeneratorConfig
from .errors import CheckpointError, shown
from .networks import Generator

WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_MODEL = WEIGHTS_DIR / "celeba64.safetensors"
CONFIG_METADATA_KEY = "generator_config"


def default_model_path() -> Path:
    """The embedded model, unless DRAGGAN_MODEL points elsewhere."""
    env = os.environ.get("DRAGGAN_MODEL")
    return Path(env).expanduser() if env else DEFAULT_MODEL


def _sibling_config(path: Path) -> dict | None:
    cfg_path = path.with_suffix(".json")
    if not cfg_path.is_file():
        return None
    try:
        data = json.loads(cfg_path.read_text())
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: bad JSON, bad UTF-8, huge integers
        raise CheckpointError(f"{cfg_path}: config is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{cfg_path}: config must be a JSON object")
    return data.get("generator", data)


def write_safetensors(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> Path:
    """Write atomically (temp file, then rename): a process killed mid-write leaves the previous
    file whole, never a truncated one."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    os.replace(tmp, path)
    return path


def read_safetensors(path: Path, what: str = ".safetensors file") -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """Header metadata and tensors; any unreadable file is a one-line CheckpointError."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
        return meta, load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable {what} ({str(exc).splitlines()[0]})") from None


def _read_safetensors(path: Path) -> tuple[dict | None, dict[str, torch.Tensor]]:
    meta, tensors = read_safetensors(path)
    config = None
    if CONFIG_METADATA_KEY in meta:
        try:
            config = json.loads(meta[CONFIG_METADATA_KEY])
        except (ValueError, RecursionError):  # ValueError: bad JSON or integers past Python's digit limit
            raise CheckpointError(f"{path}: generator config in the header is not valid JSON") from None
    return config, tensors


def _verified_zip(path: Path) -> io.BytesIO | None:
    """A torch zip checkpoint as a fresh archive holding exactly the entries zipfile read and
    checked against their CRC-32, or None for a legacy (pre-zip) file. torch.load checks no CRC
    and its zip reader reads container details zipfile ignores (a set directory bit in an entry's
    attributes makes it read a weight as empty), so a damaged file would load as silently different
    weights; the copy leaves torch no detail to interpret differently."""
    clean = io.BytesIO()
    try:
        if not zipfile.is_zipfile(path):
            return None
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(clean, "w", zipfile.ZIP_STORED) as dst:
            names = src.namelist()
            if len(set(names)) != len(names):
                raise CheckpointError(f"{path}: corrupt torch checkpoint (two zip entries share a name)")
            for info in src.infolist():
                dst.writestr(info.filename, src.read(info))
    except CheckpointError:
        raise
    except Exception as exc:  # zipfile raises many types for damaged archives; all mean "unreadable"
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"{path}: corrupt torch checkpoint ({first[:200]})") from None
    clean.seek(0)
    return clean


def _read_torch(path: Path) -> tuple[dict | None, dict[str, torch.Tensor]]:
    source = _verified_zip(path) or str(path)
    try:
        obj = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad bytes; all mean "unreadable" here
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable weights-only torch checkpoint ({first[:200]})") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a state dict, found {type(obj).__name__}")
    config = obj.get("config") if isinstance(obj.get("config"), dict) else None
    state = obj.get("state_dict", obj)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: expected a dict of tensors under 'state_dict'")
    return config, state


def read_checkpoint(path: str | Path) -> tuple[GeneratorConfig, dict[str, torch.Tensor]]:
    """Config and generator state dict from any supported file, validated but not yet loaded."""
    path = Path(path).expanduser()
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    if not path.is_file():
        raise CheckpointError(f"{path}: not a file")
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        config, state = _read_safetensors(path)
    elif suffix in (".pt", ".pth", ".ckpt"):
        config, state = _read_torch(path)
    elif suffix == ".pkl":
        from .nvidia_pickle import read_network_pickle

        config, state = read_network_pickle(path)
    else:
        raise CheckpointError(f"{path}: unknown checkpoint type {suffix or '(none)'}; "
                              "expected .safetensors, .pt/.pth or an NVIDIA .pkl")
    if config is None:
        config = _sibling_config(path)
    if config is None:
        raise CheckpointError(f"{path}: no generator config found (put it in {path.with_suffix('.json').name})")
    try:
        return GeneratorConfig.from_dict(config), state
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None


def _overlapping(size: tuple[int, ...], stride: tuple[int, ...]) -> bool:
    """Whether two elements of a strided tensor share memory. Saved weights never do; a corrupt
    size or stride that stays inside its storage would otherwise load a silently different weight."""
    dims = sorted((st, n) for n, st in zip(size, stride) if n > 1)
    reach = 1
    for st, n in dims:
        if st < reach:
            return True
        reach = st * n
    return False


def _not_weights(tensor: torch.Tensor) -> str | None:
    """Why a tensor cannot be a generator weight, if it cannot: weights are dense CPU floating
    point numbers (a file may hold integers, sparse or meta tensors, or corrupt NaN/inf bits)."""
    if tensor.layout != torch.strided or tensor.device.type != "cpu":
        return f"a {tensor.layout} tensor on {tensor.device}"
    if not tensor.dtype.is_floating_point:
        return f"{tensor.dtype} values, not floating point"
    if _overlapping(tuple(tensor.shape), tensor.stride()):
        return "elements that overlap in memory"
    if not bool(torch.isfinite(tensor.to(torch.float32)).all()):
        return "NaN or infinite values"
    return None


def _check_state(path: Path, G: Generator, state: dict[str, torch.Tensor]) -> None:
    expected = G.state_dict()
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
             if k in state and state[k].shape != v.shape]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing (e.g. {missing[0]})")
    if extra:
        problems.append(f"{len(extra)} unexpected (e.g. {shown(extra[0])})")
    if wrong:
        problems.append(f"{len(wrong)} of the wrong shape (e.g. {wrong[0]})")
    if problems:
        raise CheckpointError(f"{path}: weights do not fit the config: " + "; ".join(problems))
    for name, tensor in state.items():
        reason = _not_weights(tensor)
        if reason:
            raise CheckpointError(f"{path}: {name} holds {reason}; the file is corrupt")


def load_generator(path: str | Path | None = None, device: str | torch.device = "cpu") -> Generator:
    """A ready generator in eval mode with frozen weights; `None` loads the embedded default.

    The generator is first built on the meta device, which allocates nothing: a config that asks
    for huge layers fails the comparison with the file's tensors before any memory is taken."""
    path = Path(path).expanduser() if path is not None else default_model_path()
    if path == DEFAULT_MODEL and not path.exists():
        raise CheckpointError(f"the embedded model {path.name} is missing from this install")
    config, state = read_checkpoint(path)
    with torch.device("meta"):
        G = Generator(config)
    _check_state(path, G, state)
    G = G.to_empty(device="cpu")
    G.load_state_dict({k: v.to(torch.float32) for k, v in state.items()})
    G.source_path = str(path)
    return G.eval().requires_grad_(False).to(device)


def save_generator(G: Generator, path: str | Path, extra_metadata: dict[str, str] | None = None) -> Path:
    """Write `.safetensors` with the config in its header and a readable JSON copy beside it."""
    path = Path(path)
    config_json = json.dumps(G.config.to_dict(), indent=1)
    meta = {CONFIG_METADATA_KEY: config_json, **(extra_metadata or {})}
    write_safetensors(path, {k: v.detach().contiguous().cpu() for k, v in G.state_dict().items()}, meta)
    path.with_suffix(".json").write_text(config_json + "\n")
    return path
