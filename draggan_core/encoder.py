"""An encoder for instant inversion: an aligned face crop -> a W+ latent in one forward pass.

Optimisation-based inversion (`draggan_core.inversion`) spends hundreds of generator passes
walking from the average face to the photo; a network trained once against the generator gets
most of the way in one pass (the idea of pSp / e4e: Richardson et al. 2021, Tov et al. 2021), and
the optimisation then only refines it for a few dozen steps.

Built for a 2-core CPU: the image goes through the frozen ImageNet EfficientNet-Lite0
(`stylegan2.efficientnet`, the same features the perceptual loss uses), and only a small head
is trained: the stride-16 and stride-32 feature maps are each reduced to a few channels at 4 x 4
(where a face's layout -- pose, eye and mouth placement -- lives), then an MLP predicts one offset
per W+ row from the generator's average w, in units of w's spread, so the head's outputs are of
order one whatever the generator. An encoder belongs to one generator: it stores the
generator's fingerprint and is refused for another.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from stylegan2.efficientnet import FEATURE_CHANNELS, EfficientNetLite0Features
from stylegan2.errors import CheckpointError
from stylegan2.loading import read_safetensors, write_safetensors

FORMAT = "draggan-assistant-encoder/1"


@dataclass(frozen=True)
class EncoderConfig:
    num_ws: int
    w_dim: int
    input_size: int = 128      # crops are resized to this before the feature network
    reduce_channels: int = 32  # per feature level, at 4 x 4
    hidden: int = 256          # 256: the head stays ~3 MB in fp16; 512 doubled it for no gain we could measure

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "EncoderConfig":
        return cls(**d)


def encoder_path_for(generator_path: str | Path) -> Path:
    """Where the encoder of a generator file lives: beside it, `NAME-encoder.safetensors`."""
    p = Path(generator_path)
    return p.with_name(f"{p.stem}-encoder.safetensors")


def generator_fingerprint(G: nn.Module) -> str:
    """sha256 over G's parameters and buffers in fp16 (the shipped storage): an encoder trained
    for one generator is meaningless for another, including a later checkpoint of the same run."""
    h = hashlib.sha256()
    for name, value in sorted(G.state_dict().items()):
        h.update(name.encode())
        h.update(value.detach().to("cpu", torch.float16).contiguous().numpy().tobytes())
    return h.hexdigest()


class LatentEncoder(nn.Module):
    """(N, 3, R, R) crops in [-1, 1] -> (N, num_ws, w_dim) W+ latents of the generator it was
    built for. `w_avg` and `w_spread` are that generator's average w and per-dimension spread."""

    def __init__(self, config: EncoderConfig, w_avg: torch.Tensor, w_spread: float,
                 features: EfficientNetLite0Features | None = None):
        super().__init__()
        self.config = config
        self.features = features if features is not None else EfficientNetLite0Features()
        self.register_buffer("w_avg", w_avg.detach().reshape(1, 1, config.w_dim).clone().float())
        self.register_buffer("w_spread", torch.tensor(float(w_spread)))
        self.reduce = nn.ModuleList(nn.Conv2d(c, config.reduce_channels, 1) for c in FEATURE_CHANNELS[2:])
        flat = config.reduce_channels * 16 * len(self.reduce)
        self.mlp = nn.Sequential(nn.Linear(flat, config.hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(config.hidden, config.num_ws * config.w_dim))
        nn.init.zeros_(self.mlp[-1].weight)  # start at the average face: a safe first guess
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(img.float(), size=(self.config.input_size,) * 2, mode="bilinear", align_corners=False)
        levels = self.features(x)[2:]
        pooled = [F.adaptive_avg_pool2d(conv(f), 4).flatten(1) for conv, f in zip(self.reduce, levels)]
        delta = self.mlp(torch.cat(pooled, dim=1)).view(-1, self.config.num_ws, self.config.w_dim)
        return self.w_avg + self.w_spread * delta


def save_encoder(encoder: LatentEncoder, path: str | Path, fingerprint: str, extra: dict[str, str] | None = None) -> Path:
    """Stored in fp16, like the shipped generator: the head is then about 3 MB, and its guess
    is only a starting point that the refinement moves much further than fp16 rounding does."""
    tensors = {k: v.detach().cpu().to(torch.float16).contiguous() for k, v in encoder.state_dict().items()}
    meta = {"format": FORMAT, "config": json.dumps(encoder.config.to_dict()), "generator_sha256": fingerprint,
            **(extra or {})}
    return write_safetensors(Path(path), tensors, meta)


def load_encoder(path: str | Path, G: nn.Module, features: EfficientNetLite0Features | None = None) -> LatentEncoder:
    """The encoder in `path`, checked to belong to G (CheckpointError otherwise)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"{path}: no such encoder file")
    meta, tensors = read_safetensors(path, "encoder")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an encoder file (format {meta.get('format')!r})")
    if meta.get("generator_sha256") != generator_fingerprint(G):
        raise CheckpointError(f"{path}: this encoder was trained for another generator; retrain it with "
                              "`draggan-assistant train-encoder`")
    try:
        config = EncoderConfig.from_dict(json.loads(meta["config"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: encoder header is damaged ({exc})") from None
    encoder = LatentEncoder(config, torch.zeros(config.w_dim), 1.0, features)
    try:
        encoder.load_state_dict(tensors)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: encoder weights do not fit its config ({str(exc).splitlines()[0]})") from None
    return encoder.eval().requires_grad_(False)


@dataclass
class EncoderLookup:
    """What was found beside a generator: a usable encoder, or the one-line reason there is none
    (no file, a file for another generator, a damaged file), which photo fitting reports once
    before falling back to the full optimisation."""

    encoder: LatentEncoder | None
    path: Path | None
    reason: str = ""


def find_encoder(G: nn.Module, generator_path: str | Path | None = None,
                 features: EfficientNetLite0Features | None = None) -> EncoderLookup:
    """The encoder beside G's file (`encoder_path_for`), if there is one trained for exactly G.
    Never raises for a missing or unusable encoder: fitting without one is slower, not wrong."""
    source = generator_path if generator_path is not None else getattr(G, "source_path", None)
    if not source:
        return EncoderLookup(None, None, "the generator was not loaded from a file, so it has no encoder")
    path = encoder_path_for(source)
    if not path.is_file():
        return EncoderLookup(None, path, f"no encoder for this generator ({path.name} is not beside it)")
    try:
        return EncoderLookup(load_encoder(path, G, features), path)
    except CheckpointError as exc:
        return EncoderLookup(None, path, str(exc))
