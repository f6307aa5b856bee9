"""Widen a trained StyleGAN2 (G, D, G_ema and Adam's moments) without changing what it computes.

A narrow network trained for hours on this CPU stalls in quality long before a wide one would,
but a wide one trained from scratch repeats those hours. Widening (the Net2Net idea) keeps them:
every old channel keeps its weights, the new channels start from the fresh network's random
initialisation, and the weights that carry a new input channel into an old output are zero, so
the widened networks draw exactly the same images and give the same logits until the first
optimiser step (unless the 4x4 features widen: D's minibatch-stddev statistic averages over all
of them); from there the new channels learn.

Two details make the result exact and the continued training sane:
- Equalised learning rate scales a weight by 1 / sqrt(fan-in) at run time (`weight_gain`). A
  layer whose fan-in grew gets a smaller gain, so its stored old weights are multiplied by
  old_gain / new_gain. Modulated convolutions are demodulated (scale-free) and need no factor.
- Adam's moments follow the same change of variables (first moment / factor, second / factor^2);
  for new entries the first moment is zero and the second is the old entries' mean, so a new
  weight's first steps are of ordinary size rather than the 1 / sqrt(1 - beta2) = 10x jump a zero
  second moment would give with beta1 = 0.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from .config import GeneratorConfig
from .discriminator import Discriminator, DiscriminatorConfig, DiscriminatorEpilogue
from .errors import CheckpointError
from .networks import Conv2dLayer, FullyConnectedLayer, Generator, ToRGBLayer
from .train_checkpoint import TrainingState


class WidenError(CheckpointError):
    """The requested widths would drop channels, or the networks cannot be widened."""


def embed(old: torch.Tensor, fresh: torch.Tensor, inputs: torch.Tensor | None = None,
          scale: float = 1.0, fill: float | None = None) -> torch.Tensor:
    """`fresh` with `old` written into its leading outputs (axis 0).

    inputs: for a weight (axis 1 = inputs), where each old input channel sits in the new layer;
    the old outputs read nothing else (zeros), so they stay what they were. scale multiplies the
    old values; fill, when given, replaces every entry that did not come from `old`."""
    new = fresh.detach().clone()
    if fill is not None:
        new.fill_(fill)
    if old.ndim == 0:
        return old.detach().clone() * scale
    rows = slice(0, old.shape[0])
    if inputs is None or old.ndim < 2:
        new[rows] = old * scale
        return new
    if fill is None:
        new[rows] = 0
    new[rows, inputs] = old * scale
    return new


def input_positions(parent: nn.Module, layer: nn.Module, old_in: int, new_in: int) -> torch.Tensor:
    """Where the old layer's input channels sit in the widened layer: the leading ones, except
    that the 4x4 head's conv reads the minibatch-stddev maps after the features, so those move
    to the end when the features widen."""
    if isinstance(parent, DiscriminatorEpilogue) and layer is parent.conv and parent.mbstd is not None:
        extra = parent.mbstd.num_channels
        return torch.cat([torch.arange(old_in - extra), torch.arange(new_in - extra, new_in)])
    return torch.arange(old_in)


def gain_ratio(old: nn.Module, new: nn.Module) -> float:
    """old_gain / new_gain for a layer with equalised learning rate; 1 for a demodulated conv,
    whose output does not depend on the weights' scale."""
    if isinstance(old, (Conv2dLayer, FullyConnectedLayer, ToRGBLayer)):
        return old.weight_gain / new.weight_gain
    return 1.0


@dataclasses.dataclass
class ParameterMap:
    """How one parameter moves into the widened network: where the old input channels go (None
    for a parameter without an input axis) and the factor for its old values."""

    inputs: torch.Tensor | None
    scale: float


def parameter_maps(old_net: nn.Module, new_net: nn.Module) -> dict[str, ParameterMap]:
    old_params = dict(old_net.named_parameters())
    maps = {}
    for name, fresh in new_net.named_parameters():
        old = old_params.get(name)
        if old is None:
            raise WidenError(f"{name} exists only in the widened network")
        if old.ndim != fresh.ndim or any(o > n for o, n in zip(old.shape, fresh.shape)):
            raise WidenError(f"{name} would shrink from {tuple(old.shape)} to {tuple(fresh.shape)}: "
                             "widening only adds channels")
        path, leaf = name.rsplit(".", 1)
        layer = new_net.get_submodule(path)
        parent = new_net.get_submodule(path.rsplit(".", 1)[0]) if "." in path else new_net
        if leaf == "weight":
            inputs = input_positions(parent, layer, old.shape[1], fresh.shape[1])
            maps[name] = ParameterMap(inputs, gain_ratio(old_net.get_submodule(path), layer))
        else:
            maps[name] = ParameterMap(None, 1.0)
    return maps


@torch.no_grad()
def widen_module(old_net: nn.Module, fresh_net: nn.Module, maps: dict[str, ParameterMap]) -> nn.Module:
    """`fresh_net` (the widened architecture, randomly initialised) holding `old_net`'s weights
    as `maps` says; buffers of unchanged shape (w_avg, noise maps, filters) are copied."""
    old_params = dict(old_net.named_parameters())
    for name, p in fresh_net.named_parameters():
        m = maps[name]
        p.copy_(embed(old_params[name], p, m.inputs, m.scale))
    old_buffers = dict(old_net.named_buffers())
    for name, b in fresh_net.named_buffers():
        if old_buffers[name].shape != b.shape:
            raise WidenError(f"buffer {name} changes shape: {tuple(old_buffers[name].shape)} -> {tuple(b.shape)}")
        b.copy_(old_buffers[name])
    return fresh_net


def widen_moments(saved: dict[str, dict[str, torch.Tensor]], fresh_net: nn.Module,
                  maps: dict[str, ParameterMap]) -> dict[str, dict[str, torch.Tensor]]:
    """Adam's moments for the widened parameters (see the module docstring)."""
    out = {}
    for name, p in fresh_net.named_parameters():
        st, m = saved[name], maps[name]
        avg, sq = st["exp_avg"], st["exp_avg_sq"]
        mean_sq = float(sq.mean()) / m.scale**2
        out[name] = {
            "exp_avg": embed(avg, p, m.inputs, 1 / m.scale, fill=0.0),
            "exp_avg_sq": embed(sq, p, m.inputs, 1 / m.scale**2, fill=mean_sq),
            **{k: v.clone() for k, v in st.items() if k not in ("exp_avg", "exp_avg_sq")},
        }
    return out


def widened_configs(state: TrainingState, channel_base: int,
                    channel_max: int) -> tuple[GeneratorConfig, DiscriminatorConfig]:
    if not isinstance(state.D, Discriminator):
        raise WidenError("only NVIDIA's resnet discriminator can be widened (the projected one is frozen features)")
    g_cfg = state.G.config
    synthesis = dataclasses.replace(g_cfg.synthesis, channel_base=channel_base, channel_max=channel_max)
    d_cfg = dataclasses.replace(state.D.config, channel_base=channel_base, channel_max=channel_max)
    return dataclasses.replace(g_cfg, synthesis=synthesis), d_cfg


def widen_state(state: TrainingState, channel_base: int, channel_max: int, seed: int = 0) -> TrainingState:
    """The same training state in wider networks. G and G_ema get the same new channels (one fresh
    initialisation from `seed`), so G_ema's average starts where G is."""
    g_cfg, d_cfg = widened_configs(state, channel_base, channel_max)
    torch.manual_seed(seed)
    fresh_G, fresh_D = Generator(g_cfg), Discriminator(d_cfg)
    fresh_G_ema = Generator(g_cfg)
    fresh_G_ema.load_state_dict(fresh_G.state_dict())
    g_maps, d_maps = parameter_maps(state.G, fresh_G), parameter_maps(state.D, fresh_D)
    G = widen_module(state.G, fresh_G, g_maps)
    G_ema = widen_module(state.G_ema, fresh_G_ema, g_maps)
    D = widen_module(state.D, fresh_D, d_maps)
    optimizers = {}
    for opt_name, net, maps in (("G", G, g_maps), ("D", D, d_maps)):
        if opt_name in state.optimizers:
            optimizers[opt_name] = widen_moments(state.optimizers[opt_name], net, maps)
    train_config = dict(state.train_config, channel_base=channel_base, channel_max=channel_max)
    return TrainingState(G, D, G_ema, state.cur_nimg, train_config, optimizers, state.cpu_seconds)
