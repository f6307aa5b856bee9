"""StyleGAN2 generator with NVIDIA's module layout and parameter names.

Every attribute name here (`fc0`, `affine`, `noise_const`, `noise_strength`, `torgb`,
`resample_filter`, `w_avg`, ...) is what an official `G_ema.state_dict()` holds, so official
checkpoints load with a plain `load_state_dict`. DragGAN needs the intermediate block features
and the edit loop needs them without paying for the blocks after them, hence `until_block`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .batch_rows import BatchRows
from .config import GeneratorConfig
from .ops import (ACTIVATION_GAINS, bias_act, conv2d_resample, modulated_conv2d, normalize_2nd_moment,
                  setup_filter, upsample2d)

RESAMPLE_TAPS = (1, 3, 3, 1)
Taps = float | tuple | list


class FullyConnectedLayer(nn.Module):
    """Linear layer with equalised learning rate: weights stored at unit scale, scaled at run time."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, activation: str = "linear",
                 lr_multiplier: float = 1.0, bias_init: float = 0.0):
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias
        if b is not None:
            b = b.to(x.dtype)
            if self.bias_gain != 1:
                b = b * self.bias_gain
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, act=self.activation)


class MappingNetwork(nn.Module):
    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: int, num_layers: int = 8,
                 embed_features: int | None = None, layer_features: int | None = None,
                 activation: str = "lrelu", lr_multiplier: float = 0.01, w_avg_beta: float | None = 0.995):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        self.num_layers = num_layers
        self.w_avg_beta = w_avg_beta
        if embed_features is None:
            embed_features = w_dim
        if c_dim == 0:
            embed_features = 0
        if layer_features is None:
            layer_features = w_dim
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for idx in range(num_layers):
            setattr(self, f"fc{idx}", FullyConnectedLayer(features[idx], features[idx + 1],
                                                          activation=activation, lr_multiplier=lr_multiplier))
        if num_ws is not None and w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, update_emas: bool = False) -> torch.Tensor:
        parts = []
        if self.z_dim > 0:
            parts.append(normalize_2nd_moment(z.to(torch.float32)))
        if self.c_dim > 0:
            if c is None or c.shape[-1] != self.c_dim:
                raise ValueError(f"this generator is conditional: it needs a class label of size {self.c_dim}")
            parts.append(normalize_2nd_moment(self.embed(c.to(torch.float32))))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        if update_emas and self.w_avg_beta is not None:
            self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            if truncation_cutoff is None:
                x = self.w_avg.lerp(x, truncation_psi)
            else:
                x[:, :truncation_cutoff] = self.w_avg.lerp(x[:, :truncation_cutoff], truncation_psi)
        return x


class Conv2dLayer(nn.Module):
    """Equalised-learning-rate conv with optional FIR up- or down-sampling: D's layers and the
    1x1 skip of a resnet generator block."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: str = "linear", up: int = 1, down: int = 1,
                 resample_filter: Taps = RESAMPLE_TAPS, conv_clamp: float | None = None):
        super().__init__()
        self.activation, self.up, self.down, self.conv_clamp = activation, up, down, conv_clamp
        self.padding = kernel_size // 2
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.act_gain = ACTIVATION_GAINS[activation]
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels])) if bias else None

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        b = self.bias.to(x.dtype) if self.bias is not None else None
        x = conv2d_resample(x, w, f=self.resample_filter, up=self.up, down=self.down, padding=self.padding,
                            flip_weight=(self.up == 1))
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, b, act=self.activation, gain=self.act_gain * gain, clamp=clamp)


class SynthesisLayer(nn.Module):
    """Modulated conv + per-pixel noise + bias + activation; optionally 2x upsampling."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, kernel_size: int = 3,
                 up: int = 1, use_noise: bool = True, activation: str = "lrelu",
                 resample_filter: Taps = RESAMPLE_TAPS, conv_clamp: float | None = None):
        super().__init__()
        self.resolution, self.up, self.use_noise = resolution, up, use_noise
        self.activation, self.conv_clamp = activation, conv_clamp
        self.padding = kernel_size // 2
        self.act_gain = ACTIVATION_GAINS[activation]
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const", fused_modconv: bool = True,
                gain: float = 1.0, batch_rows: BatchRows | None = None) -> torch.Tensor:
        styles = self.affine(w)
        noise = None
        if self.use_noise and noise_mode == "random":
            rows = batch_rows if batch_rows is not None else BatchRows(x.shape[0])
            noise = rows.randn(1, self.resolution, self.resolution, device=x.device) * self.noise_strength
        elif self.use_noise and noise_mode == "const":
            noise = self.noise_const * self.noise_strength
        x = modulated_conv2d(x, self.weight, styles, noise=noise, up=self.up, padding=self.padding,
                             resample_filter=self.resample_filter, flip_weight=(self.up == 1),
                             fused_modconv=fused_modconv)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias.to(x.dtype), act=self.activation, gain=self.act_gain * gain, clamp=clamp)


class ToRGBLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, w_dim: int, kernel_size: int = 1,
                 conv_clamp: float | None = None):
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size * kernel_size)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused_modconv: bool = True) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused_modconv=fused_modconv)
        return bias_act(x, self.bias.to(x.dtype), clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
    """One resolution: (const | upsampling conv0) -> conv1, and the RGB image.

    architecture "skip" (every official G): each block's torgb is added to the upsampled image
    of the block before. "orig": only the last block has a torgb. "resnet": like "orig", and the
    block's output is a 1x1 upsampling skip of its input plus conv1, both scaled by sqrt(1/2).
    conv0 and the image upsampling use `resample_filter`; conv1 (which never resamples) keeps
    the default taps in its buffer, as the official block builds it."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int,
                 is_last: bool, architecture: str = "skip", resample_filter: Taps = RESAMPLE_TAPS,
                 use_fp16: bool = False, conv_clamp: float | None = None, **layer_kwargs):
        super().__init__()
        self.in_channels, self.resolution, self.is_last, self.use_fp16 = in_channels, resolution, is_last, use_fp16
        self.architecture = architecture
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.num_conv = 0
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=2,
                                        resample_filter=resample_filter, conv_clamp=conv_clamp, **layer_kwargs)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp,
                                    **layer_kwargs)
        self.num_conv += 1
        self.num_torgb = 0
        if is_last or architecture == "skip":
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
            self.num_torgb = 1
        if in_channels != 0 and architecture == "resnet":
            self.skip = Conv2dLayer(in_channels, out_channels, kernel_size=1, bias=False, up=2,
                                    resample_filter=resample_filter)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor, noise_mode: str = "const",
                fused_modconv: bool = True, rgb: bool = True,
                batch_rows: BatchRows | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        w_iter = iter(ws.unbind(dim=1))
        conv = dict(noise_mode=noise_mode, fused_modconv=fused_modconv, batch_rows=batch_rows)
        if self.in_channels == 0:
            x = self.conv1(self.const.unsqueeze(0).repeat([ws.shape[0], 1, 1, 1]), next(w_iter), **conv)
        elif self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x, next(w_iter), **conv)
            x = y + self.conv1(x, next(w_iter), gain=math.sqrt(0.5), **conv)
        else:
            x = self.conv0(x, next(w_iter), **conv)
            x = self.conv1(x, next(w_iter), **conv)
        if not rgb:
            return x, None
        if img is not None:
            img = upsample2d(img, self.resample_filter)
        if self.num_torgb:
            y = self.torgb(x, next(w_iter), fused_modconv=fused_modconv).to(torch.float32)
            img = img + y if img is not None else y
        return x, img


class SynthesisNetwork(nn.Module):
    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, channel_base: int = 32768,
                 channel_max: int = 512, num_fp16_res: int = 4, **block_kwargs):
        super().__init__()
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.block_resolutions = [2**i for i in range(2, int(math.log2(img_resolution)) + 1)]
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        fp16_resolution = max(2 ** (int(math.log2(img_resolution)) + 1 - num_fp16_res), 8)
        self.num_ws = 0
        for res in self.block_resolutions:
            block = SynthesisBlock(channels[res // 2] if res > 4 else 0, channels[res], w_dim, res, img_channels,
                                   is_last=(res == img_resolution), use_fp16=(res >= fp16_resolution),
                                   **block_kwargs)
            self.num_ws += block.num_conv
            setattr(self, f"b{res}", block)
        self.num_ws += 1

    @property
    def blocks(self) -> list[SynthesisBlock]:
        return [getattr(self, f"b{res}") for res in self.block_resolutions]

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", fused_modconv: bool = True,
                until_block: int | None = None, return_features: bool = False, batch_rows: BatchRows | None = None):
        """Image from ws (N, num_ws, w_dim).

        until_block=k: return only the `x` output of block k (b4 is block 0), computing neither
        later blocks nor any RGB skip image -- what drag optimisation needs every step.
        return_features=True: return (img, [x of every block]) from one pass.
        batch_rows: when ws are one process's rows of a larger training batch, random noise is
        drawn for the whole batch and these rows kept (`stylegan2.batch_rows`).
        """
        if ws.ndim != 3 or ws.shape[1] != self.num_ws:
            raise ValueError(f"ws must have shape (N, {self.num_ws}, {self.w_dim}), got {tuple(ws.shape)}")
        blocks = self.blocks
        if until_block is not None and not 0 <= until_block < len(blocks):
            raise ValueError(f"feature block must be in 0..{len(blocks) - 1} for a {self.img_resolution}px generator")
        ws = ws.to(torch.float32)
        x = img = None
        features = []
        for idx, block in enumerate(blocks):
            first = 0 if idx == 0 else 2 * idx - 1
            x, img = block(x, img, ws.narrow(1, first, block.num_conv + block.num_torgb), noise_mode=noise_mode,
                           fused_modconv=fused_modconv, rgb=until_block is None, batch_rows=batch_rows)
            if until_block == idx:
                return x
            features.append(x)
        return (img, features) if return_features else img


class Generator(nn.Module):
    def __init__(self, config: GeneratorConfig):
        super().__init__()
        self.config = config
        self.z_dim, self.c_dim, self.w_dim = config.z_dim, config.c_dim, config.w_dim
        self.img_resolution, self.img_channels = config.img_resolution, config.img_channels
        self.synthesis = SynthesisNetwork(config.w_dim, config.img_resolution, config.img_channels,
                                          **config.synthesis.to_dict())
        self.num_ws = self.synthesis.num_ws
        m = config.mapping
        self.mapping = MappingNetwork(config.z_dim, config.c_dim, config.w_dim, self.num_ws, num_layers=m.num_layers,
                                      embed_features=m.embed_features, layer_features=m.layer_features,
                                      activation=m.activation, lr_multiplier=m.lr_multiplier, w_avg_beta=m.w_avg_beta)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, noise_mode: str = "const", **synthesis_kwargs):
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode, **synthesis_kwargs)

    def z_from_seed(self, seed: int) -> torch.Tensor:
        """The official seed convention (`np.random.RandomState(seed).randn`), so seeds name the
        same faces as in NVIDIA's and DragGAN's tools."""
        z = np.random.RandomState(seed).randn(1, self.z_dim)
        return torch.from_numpy(z).to(torch.float32)

    def ws_from_seed(self, seed: int, truncation_psi: float = 0.7) -> torch.Tensor:
        device = self.mapping.w_avg.device
        c = torch.zeros([1, self.c_dim], device=device) if self.c_dim else None
        with torch.no_grad():
            return self.mapping(self.z_from_seed(seed).to(device), c, truncation_psi=truncation_psi)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
