"""Training checkpoints: G, D and G_ema (+ optionally Adam state) in one `.safetensors` file.

Safetensors rather than pickles because a checkpoint travels between sessions and machines and
loading one must never run code. The configs and the images-shown counter live in the header
metadata as JSON. Weights may be stored as fp16 to halve the size of the copy kept in the
repository; the loader casts back to fp32. Adam's moments are optional: dropping them costs a
few kimg of re-warming on resume, not correctness.

The copy in the repository leaves G_ema out and names the shipped generator file instead
(`g_ema_file`, relative, with its sha256): the two are the same weights, and every MiB counts
because the whole working tree plus the training data must fit one 64-MiB transfer to a GPU
machine.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .config import GeneratorConfig
from .discriminator import Discriminator, DiscriminatorConfig
from .errors import CheckpointError
from .loading import read_safetensors, write_safetensors
from .networks import Generator
from .projected import KIND as PROJECTED, ProjectedConfig, ProjectedDiscriminator

FORMAT = "draggan-assistant-training/1"
NETS = ("G", "D", "G_ema")


@dataclass
class TrainingState:
    """Everything a resumed run needs besides the data: networks, counters, optimiser moments."""

    G: Generator
    D: Discriminator | ProjectedDiscriminator
    G_ema: Generator
    cur_nimg: int = 0
    train_config: dict = field(default_factory=dict)
    optimizers: dict[str, dict] = field(default_factory=dict)
    cpu_seconds: float = 0.0     # process CPU time spent training so far, across every resume


def build_discriminator(config: DiscriminatorConfig | ProjectedConfig) -> Discriminator | ProjectedDiscriminator:
    return ProjectedDiscriminator(config) if isinstance(config, ProjectedConfig) else Discriminator(config)


def discriminator_config_from_dict(d: dict) -> DiscriminatorConfig | ProjectedConfig:
    """The header's D config: a `kind` of "projected" names the projected D; none is NVIDIA's."""
    return ProjectedConfig.from_dict(d) if d.get("kind") == PROJECTED else DiscriminatorConfig.from_dict(d)


def _optimizer_tensors(name: str, opt: torch.optim.Optimizer, param_names: dict[int, str],
                       dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """Adam's moments by parameter name. bf16 halves them for the copy in the repository: it keeps
    fp32's exponent range (fp16 would flush the tiny second moments to zero) and a moment needs
    only a few significant digits; the step counter stays fp32."""
    out = {}
    for p, st in opt.state.items():
        pname = param_names[id(p)]
        for key, value in st.items():
            if isinstance(value, torch.Tensor):
                kind = torch.float32 if key == "step" else dtype
                out[f"opt_{name}.{pname}.{key}"] = value.detach().to(kind).cpu()
    return out


def save_training_checkpoint(path: str | Path, state: TrainingState,
                             optimizers: dict[str, tuple[torch.optim.Optimizer, torch.nn.Module]] | None = None,
                             half: bool = False, g_ema_file: str | Path | None = None,
                             moments_dtype: torch.dtype = torch.float32) -> Path:
    """Write atomically (temp file + rename) so a run killed mid-write keeps its last checkpoint.

    g_ema_file: a generator file already holding exactly G_ema (same folder tree); G_ema is
    then stored as a reference to it instead of a second copy."""
    path = Path(path)
    tensors: dict[str, torch.Tensor] = {}
    nets = NETS if g_ema_file is None else ("G", "D")
    for name in nets:
        for k, v in getattr(state, name).state_dict().items():
            v = v.detach().cpu()
            if half and v.is_floating_point():
                v = v.to(torch.float16)
            tensors[f"{name}.{k}"] = v.contiguous()
    for name, (opt, module) in (optimizers or {}).items():
        names = {id(p): n for n, p in module.named_parameters()}
        tensors.update(_optimizer_tensors(name, opt, names, moments_dtype))
    meta = {
        "format": FORMAT,
        "generator_config": json.dumps(state.G.config.to_dict()),
        "discriminator_config": json.dumps(state.D.config.to_dict()),
        "train_config": json.dumps(state.train_config),
        "cur_nimg": str(int(state.cur_nimg)),
        "cpu_seconds": f"{state.cpu_seconds:.1f}",
    }
    if g_ema_file is not None:
        g_ema_file = Path(g_ema_file)
        meta["g_ema_file"] = os.path.relpath(g_ema_file, path.parent)
        meta["g_ema_sha256"] = _sha256(g_ema_file)
    return write_safetensors(path, tensors, meta)


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _referenced_g_ema(path: Path, meta: dict[str, str]) -> dict[str, torch.Tensor]:
    """G_ema's tensors from the generator file a repository checkpoint names, checked by hash
    so a re-exported generator is never paired with a stale G and D."""
    from .loading import read_checkpoint

    ref = (path.parent / meta["g_ema_file"]).resolve()
    if not ref.is_file():
        raise CheckpointError(f"{path}: its G_ema lives in {ref}, which is missing")
    if _sha256(ref) != meta.get("g_ema_sha256"):
        raise CheckpointError(f"{path}: {ref.name} is not the G_ema this checkpoint was saved with "
                              "(the generator was re-exported without the training checkpoint)")
    return {f"G_ema.{k}": v for k, v in read_checkpoint(ref)[1].items()}


def is_training_checkpoint(path: str | Path) -> bool:
    """True for a readable .safetensors whose header says it is a training checkpoint."""
    from safetensors import SafetensorError, safe_open

    path = Path(path).expanduser()
    if path.suffix.lower() != ".safetensors" or not path.is_file():
        return False
    try:
        with safe_open(str(path), framework="pt") as fh:
            return (fh.metadata() or {}).get("format") == FORMAT
    except (SafetensorError, OSError, ValueError):
        return False


def load_training_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> TrainingState:
    """Networks in fp32 on `device` in train mode; optimiser moments (if stored) keyed by
    optimiser name then parameter name, for `restore_optimizer`."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"{path}: no such training checkpoint")
    meta, tensors = read_safetensors(path, "training checkpoint")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a training checkpoint (format {meta.get('format')!r}); "
                              "a generator-only file can be sampled but not resumed")
    try:
        g_cfg = GeneratorConfig.from_dict(json.loads(meta["generator_config"]))
        d_cfg = discriminator_config_from_dict(json.loads(meta["discriminator_config"]))
        train_config = json.loads(meta["train_config"])
        cur_nimg = int(meta["cur_nimg"])
        cpu_seconds = float(meta.get("cpu_seconds", 0.0))
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: training checkpoint header is damaged ({exc})") from None
    if "g_ema_file" in meta:
        tensors.update(_referenced_g_ema(path, meta))
    nets = {"G": Generator(g_cfg), "D": build_discriminator(d_cfg), "G_ema": Generator(g_cfg)}
    for name, net in nets.items():
        prefix = f"{name}."
        sd = {k[len(prefix):]: v.to(torch.float32) for k, v in tensors.items() if k.startswith(prefix)}
        try:
            net.load_state_dict(sd)
        except RuntimeError as exc:
            raise CheckpointError(f"{path}: {name} weights do not fit its config ({str(exc).splitlines()[0]})") from None
        net.to(device)
    optimizers: dict[str, dict] = {}
    for k, v in tensors.items():
        if k.startswith("opt_"):
            opt_name, rest = k[4:].split(".", 1)
            pname, key = rest.rsplit(".", 1)
            optimizers.setdefault(opt_name, {}).setdefault(pname, {})[key] = v.to(torch.float32)
    return TrainingState(nets["G"], nets["D"], nets["G_ema"], cur_nimg, train_config, optimizers, cpu_seconds)


def restore_optimizer(opt: torch.optim.Optimizer, module: torch.nn.Module, saved: dict[str, dict]) -> bool:
    """Put saved Adam moments back; False (and nothing changed) when they do not fit."""
    params = dict(module.named_parameters())
    if set(saved) != set(params) or any(saved[n]["exp_avg"].shape != p.shape for n, p in params.items()):
        return False
    group = opt.param_groups[0]
    step_on_device = bool(group.get("fused") or group.get("capturable"))
    for pname, st in saved.items():
        p = params[pname]
        opt.state[p] = {k: v.to(p.device if k != "step" or step_on_device else "cpu") for k, v in st.items()}
    return True
