"""Generator configuration as dataclasses.

Field names are NVIDIA's init kwargs, so an official pickle's `G_ema` kwargs map onto them
one to one, and the JSON the project ships next to its `.safetensors` weights is the same dict.
`from_dict` reads every layout the official constructors take: stylegan2-ada-pytorch's
(`synthesis_kwargs={...}`), stylegan3's `networks_stylegan2` (synthesis kwargs flat next to
`z_dim`), DragGAN's copy of it (either) and the project's own (`mapping`/`synthesis`). Every value
is checked here, because a config comes from a file and the generator is built from it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .errors import CheckpointError, shown
from .ops import ACTIVATIONS

ARCHITECTURES = ("orig", "skip", "resnet")
MAX_FEATURES = 2**16  # far above any official network; keeps a hostile config from overflowing shapes
MAX_MAPPING_LAYERS = 64
MAX_RESOLUTION = 2**14
MAX_KERNEL = 63
MAX_TAPS = 64
# Official constructor settings that leave the arithmetic alone, so they are accepted and dropped:
# which modulated-conv path runs (the two are the same maths) and memory layouts.
NO_EFFECT_SETTINGS = frozenset({"fused_modconv_default", "fp16_channels_last", "channels_last"})
GENERATOR_KWARGS = frozenset({"z_dim", "c_dim", "w_dim", "img_resolution", "img_channels"})


def _invalid(name: str, rule: str, value: Any) -> CheckpointError:
    return CheckpointError(f"invalid generator config: {name} must be {rule}, got {shown(value)}")


def _int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _invalid(name, f"an integer in {low}..{high}", value)


def _optional_int(name: str, value: Any, low: int, high: int) -> None:
    if value is not None:
        _int(name, value, low, high)


def _real(name: str, value: Any, rule: str, ok: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not ok(value):
        raise _invalid(name, rule, value)


def _choice(name: str, value: Any, choices: Any) -> None:
    if not isinstance(value, str) or value not in choices:
        raise _invalid(name, f"one of {', '.join(sorted(choices))}", value)


def _taps_row(value: Any) -> tuple:
    if (not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MAX_TAPS
            or not all(not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) for v in value)):
        raise _invalid("resample_filter", f"1 to {MAX_TAPS} finite numbers, or rows of them", value)
    return tuple(value)


def normalize_taps(value: Any) -> tuple:
    """resample_filter as the official setup_filter takes it (one number, 1-D taps or 2-D rows),
    as tuples, so configs compare equal whatever container the file used."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(row, (list, tuple)) for row in value):
        if len(value) > MAX_TAPS:
            raise _invalid("resample_filter", f"at most {MAX_TAPS} rows", value)
        taps: tuple = tuple(_taps_row(row) for row in value)
        if len({len(row) for row in taps}) != 1:
            raise _invalid("resample_filter", "rows of equal length", value)
        total = sum(map(sum, taps))
    else:
        taps = _taps_row(value)
        total = sum(taps)
    if total == 0:
        raise _invalid("resample_filter", "taps with a non-zero sum (they are normalised by it)", value)
    return taps


@dataclass(frozen=True)
class MappingConfig:
    num_layers: int = 8
    embed_features: int | None = None
    layer_features: int | None = None
    activation: str = "lrelu"
    lr_multiplier: float = 0.01
    w_avg_beta: float | None = 0.995

    def __post_init__(self) -> None:
        _int("num_layers", self.num_layers, 1, MAX_MAPPING_LAYERS)
        _optional_int("embed_features", self.embed_features, 1, MAX_FEATURES)
        _optional_int("layer_features", self.layer_features, 1, MAX_FEATURES)
        _choice("activation", self.activation, ACTIVATIONS)
        _real("lr_multiplier", self.lr_multiplier, "a positive number", lambda v: v > 0)
        if self.w_avg_beta is not None:
            _real("w_avg_beta", self.w_avg_beta, "a number or null", lambda v: True)


@dataclass(frozen=True)
class SynthesisConfig:
    channel_base: int = 32768
    channel_max: int = 512
    num_fp16_res: int = 4
    conv_clamp: float | None = 256
    architecture: str = "skip"
    resample_filter: tuple = (1, 3, 3, 1)
    kernel_size: int = 3
    use_noise: bool = True
    activation: str = "lrelu"

    def __post_init__(self) -> None:
        _int("channel_base", self.channel_base, 1, MAX_FEATURES * MAX_RESOLUTION)
        _int("channel_max", self.channel_max, 1, MAX_FEATURES)
        _int("num_fp16_res", self.num_fp16_res, 0, MAX_FEATURES)
        if self.conv_clamp is not None:
            _real("conv_clamp", self.conv_clamp, "a number >= 0 or null", lambda v: v >= 0)
        _choice("architecture", self.architecture, ARCHITECTURES)
        object.__setattr__(self, "resample_filter", normalize_taps(self.resample_filter))
        _int("kernel_size", self.kernel_size, 1, MAX_KERNEL)
        if self.kernel_size % 2 == 0:
            raise _invalid("kernel_size", "odd (the official layers cannot run an even one)", self.kernel_size)
        if not isinstance(self.use_noise, bool):
            raise _invalid("use_noise", "true or false", self.use_noise)
        _choice("activation", self.activation, ACTIVATIONS)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
        _int("img_resolution", res, 4, MAX_RESOLUTION)
        if res & (res - 1):
            raise CheckpointError(f"img_resolution must be a power of two, got {res}")
        for name in ("z_dim", "c_dim"):
            _int(name, getattr(self, name), 0, MAX_FEATURES)
        if self.z_dim + self.c_dim == 0:
            raise _invalid("z_dim + c_dim", "at least 1 (the mapping needs an input)", 0)
        _int("w_dim", self.w_dim, 1, MAX_FEATURES)
        _int("img_channels", self.img_channels, 1, MAX_FEATURES)
        if self.channels(res) < 1:
            raise _invalid("channel_base", f"at least img_resolution ({res}) for a channel in every block",
                           self.synthesis.channel_base)

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
    def from_dict(cls, d: Any) -> "GeneratorConfig":
        """Accept the project's own JSON and NVIDIA init kwargs in every official layout; refuse,
        naming them, only settings the generator here cannot reproduce."""
        d = _settings(d, "generator")
        mapping = _settings(_nested(d, "mapping", "mapping_kwargs"), "mapping")
        nested = _settings(_nested(d, "synthesis", "synthesis_kwargs"), "synthesis")
        resize = d.pop("resize", None)
        if resize is not None:
            raise CheckpointError(f"unsupported generator setting resize={shown(resize)} (DragGAN's resampling of "
                                  "every image to another size); only resize=None is supported")
        flat = {k: d.pop(k) for k in list(d) if k not in GENERATOR_KWARGS}
        # DragGAN's Generator uses flat synthesis kwargs only when `synthesis_kwargs` is empty and
        # ignores them otherwise; the other codebases accept one layout or the other, never both.
        synthesis = nested or flat
        synthesis_names = {f.name for f in fields(SynthesisConfig)}
        _refuse_unknown("generator", set(flat), synthesis_names)
        _refuse_unknown("synthesis", set(nested), synthesis_names)
        _refuse_unknown("mapping", set(mapping), {f.name for f in fields(MappingConfig)})
        return cls(**d, mapping=MappingConfig(**mapping),
                   synthesis=SynthesisConfig(**{k: v for k, v in synthesis.items() if k not in NO_EFFECT_SETTINGS}))


def _settings(value: Any, section: str) -> dict[str, Any]:
    """A copy of one section of settings, checked to be a mapping from names."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise CheckpointError(f"invalid generator config: the {section} settings must be an object of named "
                              f"settings, found {type(value).__name__}")
    return dict(value)


def _nested(d: dict[str, Any], own_name: str, official_name: str) -> Any:
    """The project's section name or NVIDIA's `*_kwargs`; a file with both is not one config."""
    if own_name in d and official_name in d:
        raise CheckpointError(f"invalid generator config: both {own_name!r} and {official_name!r} are given")
    return d.pop(own_name, None) or d.pop(official_name, None)


def _refuse_unknown(section: str, names: set[str], known: set[str]) -> None:
    unknown = names - known - NO_EFFECT_SETTINGS
    if unknown:
        raise CheckpointError(f"unsupported {section} setting(s): {', '.join(sorted(unknown))}")
