"""Generator configuration as dataclasses.

Field names are NVIDIA's init kwargs, so an official pickle's `G_ema` kwargs map onto them
one to one, and the JSON the project ships next to its `.safetensors` weights is the same dict.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .errors import CheckpointError


@dataclass(frozen=True)
class MappingConfig:
    num_layers: int = 8
    embed_features: int | None = None
    layer_features: int | None = None
    activation: str = "lrelu"
    lr_multiplier: float = 0.01
    w_avg_beta: float | None = 0.995


@dataclass(frozen=True)
class SynthesisConfig:
    channel_base: int = 32768
    channel_max: int = 512
    num_fp16_res: int = 4
    conv_clamp: float | None = 256
    architecture: str = "skip"


@dataclass(frozen=True)
class GeneratorConfig:
    z_dim: int = 512
    c_dim: int = 0
    w_dim: int = 512
    img_resolution: int = 512
    img_channels: int = 3
    mapping: MappingConfig = field(default_factory=MappingConfig)
    synthesis: SynthesisConfig = field(default_factory=SynthesisConfig)

    def __post_init__(self) -> None:
        res = self.img_resolution
        if res < 4 or res & (res - 1):
            raise CheckpointError(f"img_resolution must be a power of two, got {res}")
        if self.synthesis.architecture != "skip":
            raise CheckpointError(
                f"only the 'skip' generator architecture (every official StyleGAN2 G) is supported, "
                f"got {self.synthesis.architecture!r}"
            )

    @property
    def block_resolutions(self) -> list[int]:
        return [2**i for i in range(2, int(math.log2(self.img_resolution)) + 1)]

    def channels(self, res: int) -> int:
        return min(self.synthesis.channel_base // res, self.synthesis.channel_max)

    @property
    def num_ws(self) -> int:
        """Two ws per block (conv0/conv1 or const-conv1/torgb) plus one: the last block's torgb."""
        return 2 * len(self.block_resolutions)

    def ws_range(self, block_index: int) -> tuple[int, int]:
        """(first, count) rows of ws that block `block_index` reads; neighbouring blocks share one."""
        if block_index == 0:
            return 0, 2
        return 2 * block_index - 1, 3

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GeneratorConfig":
        """Accept the project's own JSON and NVIDIA init kwargs, in both the stylegan2-ada layout
        (`synthesis_kwargs={...}`) and the stylegan3 layout (synthesis kwargs flattened)."""
        d = dict(d)
        mapping = dict(d.pop("mapping", None) or d.pop("mapping_kwargs", None) or {})
        synthesis = dict(d.pop("synthesis", None) or d.pop("synthesis_kwargs", None) or {})
        top = {f.name for f in fields(cls)} - {"mapping", "synthesis"}
        syn_names = {f.name for f in fields(SynthesisConfig)}
        for key in list(d):
            if key in syn_names:
                synthesis[key] = d.pop(key)
        for key in ("channels_last", "fp16_channels_last", "fused_modconv_default"):
            synthesis.pop(key, None)
        # Pickles converted from TensorFlow by NVIDIA's legacy.py (e.g. DragGAN's lions) also
        # record settings every official G shares; accept them at the values implemented here.
        for key, implemented in (("resample_filter", [1, 3, 3, 1]), ("use_noise", True), ("activation", "lrelu")):
            for section in (d, synthesis):
                value = section.pop(key, implemented)
                if (list(value) if isinstance(value, (list, tuple)) else value) != implemented:
                    raise CheckpointError(f"unsupported synthesis setting {key}={value!r} (only {implemented!r})")
        unknown = {
            "generator": set(d) - top,
            "mapping": set(mapping) - {f.name for f in fields(MappingConfig)},
            "synthesis": set(synthesis) - syn_names,
        }
        for section, names in unknown.items():
            if names:
                raise CheckpointError(f"unsupported {section} setting(s): {', '.join(sorted(names))}")
        try:
            return cls(
                **{k: d[k] for k in top if k in d},
                mapping=MappingConfig(**mapping),
                synthesis=SynthesisConfig(**synthesis),
            )
        except TypeError as exc:
            raise CheckpointError(f"invalid generator config: {exc}") from None
