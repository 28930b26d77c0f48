"""StyleGAN2 generator (Karras et al., CVPR 2020), as in rosinality's ``stylegan2-pytorch``.

Architecture (config F): a *mapping network* ``w = f(z)`` — pixel norm, then ``n_mlp``
(8) equalised dense layers ``d → d`` (``d = 512``), each followed by leaky ReLU (0.2)
times √2, learning-rate multiplier 0.01 — and a *synthesis network* driven by
``n_latent = 2·log2(size) − 2`` style vectors ``w_0 … w_{n_latent−1}`` (all equal to
``w`` unless searched per layer, "W+"):

- a learned constant ``(c₄, 4, 4)``; a 3×3 modulated convolution (style ``w_0``) and a
  1×1 ``to_rgb`` (``w_1``);
- per resolution 8, 16, …, ``size``: a 3×3 modulated transposed convolution with stride 2
  followed by the blur ``[1, 3, 3, 1]`` (style ``w_{2k−1}``), a 3×3 modulated convolution
  (``w_{2k}``), and a 1×1 ``to_rgb`` (``w_{2k+1}``) added to the previous RGB image
  upsampled ×2 with the same blur kernel (the skip architecture).

A modulated convolution scales input channel ``i`` by ``s_i = A w + b`` (an equalised
dense layer, bias initialised to 1) and, when it demodulates (every layer but
``to_rgb``), divides output channel ``o`` by ``sqrt(Σ_{i,k} (c·W_{o,i,k}·s_i)² + 1e-8)``
with ``c = 1/sqrt(fan_in)``. Each 3×3 layer then adds a fixed noise image times a learned
scalar and applies leaky ReLU (0.2) times √2 after a per-channel bias. Equalised layers
multiply their weight by ``1/sqrt(fan_in)`` (times ``lr_mul``) at run time. The RGB output
is trained on images in [−1, 1]. Resampling is :func:`upfirdn2d` in plain PyTorch (the
reference uses a CUDA kernel for the same operation).

Source format: the ``Generator`` state dict of rosinality/stylegan2-pytorch, stored under
``'g_ema'`` (the moving average, the one to sample from) in its checkpoints — files of
``train.py`` (``{'g', 'd', 'g_ema', 'g_optim', 'd_optim', 'args', ...}``) and of
``convert_weight.py`` (``{'g_ema', 'latent_avg'[, 'g', 'd']}``). Keys:
``style.{1..n_mlp}.{weight (d, d), bias (d,)}``; ``input.input`` ``(1, c₄, 4, 4)``;
``conv1.conv.{weight (1, c₄, c₄, 3, 3), modulation.weight (c₄, d), modulation.bias (c₄,)}``,
``conv1.noise.weight`` ``(1,)``, ``conv1.activate.bias`` ``(c₄,)``;
``to_rgb1.conv.{weight (1, 3, c₄, 1, 1), modulation.*}``, ``to_rgb1.bias`` ``(1, 3, 1, 1)``;
for block ``j`` (resolution ``8·2^j``): ``convs.{2j}`` (upsampling, with the buffer
``conv.blur.kernel`` ``(4, 4)``) and ``convs.{2j+1}`` as ``conv1``, ``to_rgbs.{j}`` as
``to_rgb1`` plus the buffer ``upsample.kernel`` ``(4, 4)``; and the fixed noise images
``noises.noise_{l}`` ``(1, 1, r, r)`` with ``r = 2^((l + 5) // 2)``. The module below keeps
these names, so its ``state_dict()`` is a checkpoint of that format. The widths
``c_r`` (``512`` up to 32², then ``2^(14 − log2 r)·channel_multiplier``) are read from
the shapes, so every resolution and channel multiplier loads.

Latent spaces (:func:`load_stylegan2`, ``space=``): ``"z"`` (``d`` numbers through the
mapping network, one ``w`` for all layers), ``"w"`` (``d`` numbers, one ``w`` for all
layers) or ``"w+"`` (``n_latent·d`` numbers, one ``w`` per layer, row-major). The noise
images are the stored ones and are never optimised.
"""
from __future__ import annotations

import argparse
import math
from collections.abc import Mapping, Sequence
from os import PathLike
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from invgen.generators.base import Generator
from invgen.generators.checkpoint import (
    CheckpointMismatchError,
    check_state,
    describe_mismatch,
    read_checkpoint,
    strip_prefix,
    tensor_state,
)
from invgen.generators.layers import LatentBlock
from invgen.generators.pggan import PixelNorm, _indices

LatentSpace = Literal["z", "w", "w+"]
Start = Literal["mean", "random"]
SPACES = ("z", "w", "w+")
FORMAT = (
    "rosinality/stylegan2-pytorch Generator state_dict (checkpoint['g_ema']: style.N, "
    "input.input, conv1, to_rgb1, convs.N, to_rgbs.N, noises.noise_N)"
)
BLUR_KERNEL = (1.0, 3.0, 3.0, 1.0)
LEAK = 0.2
MEAN_W_SAMPLES = 4096


def upfirdn2d(
    x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)
) -> torch.Tensor:
    """Upsample, FIR-filter, downsample each channel of ``x`` ``(B, C, H, W)``.

    Inserts ``up − 1`` zeros after every sample along both axes, pads ``pad = (p₀, p₁)``
    zeros before and after along both axes (negative values crop), convolves (a true
    convolution, kernel flipped) with ``kernel`` ``(kh, kw)`` without padding, and keeps
    every ``down``-th sample: the output side is ``(H·up + p₀ + p₁ − kh) // down + 1``.
    """
    b, c, h, w = x.shape
    if up > 1:
        x = F.pad(x.reshape(b, c, h, 1, w, 1), (0, up - 1, 0, 0, 0, up - 1)).reshape(b, c, h * up, w * up)
    p0, p1 = pad
    x = F.pad(x, (p0, p1, p0, p1))
    weight = kernel.flip(0, 1).to(x.dtype).expand(c, 1, *kernel.shape).contiguous()
    return F.conv2d(x, weight, groups=c)[..., ::down, ::down]


def blur_kernel(gain: float = 1.0) -> torch.Tensor:
    """The 2-D ``[1, 3, 3, 1]`` binomial filter, normalised to sum ``gain``."""
    k = torch.tensor(BLUR_KERNEL)
    k = torch.outer(k, k)
    return gain * k / k.sum()


class EqualLinear(nn.Module):
    """``y = x (c·W)ᵀ + lr_mul·b``, ``c = lr_mul/sqrt(in_dim)``; with ``activation``, leaky
    ReLU (0.2) times √2 after the bias."""

    def __init__(
        self, in_dim: int, out_dim: int, lr_mul: float = 1.0, activation: bool = False, bias_init: float = 0.0
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)
        return F.leaky_relu(out, LEAK) * math.sqrt(2) if self.activation else out


class Resample(nn.Module):
    """:func:`upfirdn2d` with the blur kernel as a buffer (``Blur``/``Upsample`` of the
    reference). ``gain = 4`` after a ×2 upsampling, which keeps one sample in four."""

    def __init__(self, pad: tuple[int, int], up: int = 1, gain: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("kernel", blur_kernel(gain))
        self.pad, self.up = pad, up

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, up=self.up, pad=self.pad)


class ModulatedConv2d(nn.Module):
    """Modulated (and optionally demodulated) ``k × k`` convolution, see the module docstring.

    Computed as "scale the input, convolve with the shared weight, scale the output",
    which equals the reference's per-sample modulated weights (convolution is linear in
    both) without a grouped convolution, so it also runs under ``vmap`` (IAGAN).
    ``upsample``: transposed convolution with stride 2, then the blur.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, style_dim: int,
        demodulate: bool = True, upsample: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, out_channels, in_channels, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channels, bias_init=1.0)
        self.scale = 1 / math.sqrt(in_channels * kernel_size**2)
        self.demodulate, self.upsample = demodulate, upsample
        if upsample:
            # 2H + k − 2 samples after the transposed convolution; the pads bring them
            # back to 2H through the 4-tap blur.
            p = (len(BLUR_KERNEL) - 2) - (kernel_size - 1)
            self.blur = Resample(pad=((p + 1) // 2 + 1, p // 2 + 1), gain=4.0)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        s = self.modulation(w)  # (B, in)
        weight = self.scale * self.weight[0]  # (out, in, k, k)
        x = x * s[:, :, None, None]
        if self.upsample:
            out = self.blur(F.conv_transpose2d(x, weight.transpose(0, 1), stride=2))
        else:
            out = F.conv2d(x, weight, padding=weight.shape[-1] // 2)
        if self.demodulate:
            # Σ_{i,k} (W_{o,i,k} s_i)² = Σ_i s_i² Σ_k W_{o,i,k}²
            demod = torch.rsqrt(s.square() @ weight.square().sum((2, 3)).T + 1e-8)
            out = out * demod[:, :, None, None]
        return out


class NoiseInjection(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return x + self.weight * noise


def _clamp(x: torch.Tensor, clamp: float | None) -> torch.Tensor:
    return x if clamp is None else x.clamp(-clamp, clamp)


class FusedLeakyReLU(nn.Module):
    """Per-channel bias, then leaky ReLU (0.2) times √2, then clipping to ``±clamp`` if given."""

    def __init__(self, channels: int, clamp: float | None = None) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))
        self.clamp = clamp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _clamp(F.leaky_relu(x + self.bias[:, None, None], LEAK) * math.sqrt(2), self.clamp)


class StyledConv(nn.Module):
    def __init__(
        self, in_channels: int, out_channels: int, style_dim: int, upsample: bool = False, clamp: float | None = None
    ) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, style_dim, upsample=upsample)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channels, clamp)

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return self.activate(self.noise(self.conv(x, w), noise))


class ToRGB(nn.Module):
    """1×1 modulated convolution plus bias (clipped to ``±clamp`` if given), added to the
    upsampled RGB image of the previous resolution."""

    def __init__(
        self, in_channels: int, style_dim: int, out_channels: int = 3, upsample: bool = True,
        clamp: float | None = None,
    ) -> None:
        super().__init__()
        if upsample:
            self.upsample = Resample(pad=(2, 1), up=2, gain=4.0)
        self.conv = ModulatedConv2d(in_channels, out_channels, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, out_channels, 1, 1))
        self.clamp = clamp

    def forward(self, x: torch.Tensor, w: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = _clamp(self.conv(x, w) + self.bias, self.clamp)
        return out if skip is None else out + self.upsample(skip)


class ConstantInput(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, 4, 4))

    def forward(self, batch: int) -> torch.Tensor:
        return self.input.expand(batch, -1, -1, -1)


class StyleGAN2Network(nn.Module):
    """The generator of rosinality/stylegan2-pytorch, parameter names included.

    ``channels[k]``: feature maps at resolution ``4·2^k`` (``size = 4·2^(len − 1)``);
    ``style_dim`` = ``d``; ``n_mlp`` mapping layers. ``forward(latents)`` reads
    ``(B, latent_dim)`` latents of ``space`` (see the module docstring) and returns the raw
    RGB output ``(B, out_channels, size, size)``, trained on [−1, 1], through its chain of
    :class:`SynthesisBlock` (:meth:`blocks`). ``mapping(z)`` is ``f``. ``w_avg`` (a buffer, not part of
    the checkpoint format) is the mean ``w``. ``lr_mlp``: the mapping layers' learning-rate
    multiplier. ``conv_clamp``: clip each 3×3 layer's activations and each ``to_rgb`` output
    to ``±conv_clamp`` (NVIDIA's stylegan2-ada-pytorch option, used with mixed precision;
    rosinality's networks have none).
    """

    def __init__(
        self,
        channels: Sequence[int],
        style_dim: int = 512,
        n_mlp: int = 8,
        out_channels: int = 3,
        space: LatentSpace = "w",
        lr_mlp: float = 0.01,
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        if space not in SPACES:
            raise ValueError(f"space must be one of {SPACES}, got {space!r}")
        self.channels, self.style_dim, self.space = tuple(channels), int(style_dim), space
        self.size = 4 * 2 ** (len(self.channels) - 1)
        self.n_latent = 2 * len(self.channels)
        self.style = nn.Sequential(
            PixelNorm(), *(EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activation=True) for _ in range(n_mlp))
        )
        c0 = self.channels[0]
        self.input = ConstantInput(c0)
        self.conv1 = StyledConv(c0, c0, style_dim, clamp=conv_clamp)
        self.to_rgb1 = ToRGB(c0, style_dim, out_channels, upsample=False, clamp=conv_clamp)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        for c_in, c_out in zip(self.channels, self.channels[1:]):
            self.convs.append(StyledConv(c_in, c_out, style_dim, upsample=True, clamp=conv_clamp))
            self.convs.append(StyledConv(c_out, c_out, style_dim, clamp=conv_clamp))
            self.to_rgbs.append(ToRGB(c_out, style_dim, out_channels, clamp=conv_clamp))
        self.noises = nn.Module()
        for layer in range(2 * len(self.channels) - 1):
            side = 2 ** ((layer + 5) // 2)
            self.noises.register_buffer(f"noise_{layer}", torch.randn(1, 1, side, side))
        self.register_buffer("w_avg", torch.zeros(style_dim), persistent=False)

    @property
    def latent_dim(self) -> int:
        return self.n_latent * self.style_dim if self.space == "w+" else self.style_dim

    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        return self.style(z)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        h = latents
        for _, block in self.blocks():
            h = block(h, latents)
        return h

    def blocks(self) -> list[tuple[str, SynthesisBlock]]:
        """The synthesis as a chain (see :mod:`invgen.generators.layers`): one
        :class:`SynthesisBlock` per resolution, 4, 8, …, ``size``."""
        return [(f"b{4 * 2**j}", SynthesisBlock(self, j)) for j in range(len(self.channels))]

    def to_ws(self, latents: torch.Tensor) -> torch.Tensor:
        """``(B, latent_dim)`` latents of ``space`` → the per-layer styles ``(B, n_latent, d)``."""
        return to_ws(latents, self.space, self.n_latent, self.style_dim, self.style)

    @torch.no_grad()
    def mean_w(self, n: int = MEAN_W_SAMPLES, seed: int = 0) -> torch.Tensor:
        """The mean of ``f(z)`` over ``n`` seeded draws of ``z ~ N(0, I)``."""
        z = torch.randn(n, self.style_dim, generator=torch.Generator().manual_seed(seed))
        param = self.input.input
        return self.mapping(z.to(param)).mean(0)


class SynthesisBlock(LatentBlock):
    """Block ``j`` of a :class:`StyleGAN2Network`'s synthesis, the one at resolution ``r = 4·2^j``,
    reading its styles from the latents ``z`` (through the mapping network in space ``"z"``).
    Block 0 makes ``conv1`` of the constant input and ``to_rgb1``; block ``j ≥ 1`` the two
    ``convs`` and ``to_rgbs`` of its resolution from what the block before handed on. Each
    hands on its features and the skip image, concatenated along the channels,
    ``(channels[j] + out_channels, r, r)``; the last block the RGB image alone. Holds the
    network's own layers (its parameters are the network's) and noise images."""

    def __init__(self, network: StyleGAN2Network, j: int) -> None:
        super().__init__()
        if network.space == "z":
            self.style = network.style
        self.space, self.n_latent, self.style_dim = network.space, network.n_latent, network.style_dim
        self.j, self.last = j, j == len(network.channels) - 1
        self.rgb_channels = network.to_rgb1.conv.weight.shape[1]
        if j == 0:
            self.input, self.conv1, self.to_rgb = network.input, network.conv1, network.to_rgb1
            self.noises = [network.noises.noise_0]
        else:
            self.conv0, self.conv1 = network.convs[2 * j - 2], network.convs[2 * j - 1]
            self.to_rgb = network.to_rgbs[j - 1]
            self.noises = [getattr(network.noises, f"noise_{2 * j - 1}"), getattr(network.noises, f"noise_{2 * j}")]

    def forward(self, h: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        ws = to_ws(z, self.space, self.n_latent, self.style_dim, getattr(self, "style", None))
        if self.j == 0:
            x = self.conv1(self.input(ws.shape[0]), ws[:, 0], self.noises[0])
            rgb = self.to_rgb(x, ws[:, 1])
        else:
            i = 2 * self.j - 1
            x, skip = h[:, :-self.rgb_channels], h[:, -self.rgb_channels:]
            x = self.conv1(self.conv0(x, ws[:, i], self.noises[0]), ws[:, i + 1], self.noises[1])
            rgb = self.to_rgb(x, ws[:, i + 2], skip)
        return rgb if self.last else torch.cat([x, rgb], dim=1)


def to_ws(latents: torch.Tensor, space: LatentSpace, n_latent: int, style_dim: int,
          mapping: nn.Module | None) -> torch.Tensor:
    """``(B, latent_dim)`` latents of ``space`` → the per-layer styles ``(B, n_latent, d)``."""
    if space == "w+":
        return latents.view(latents.shape[0], n_latent, style_dim)
    w = mapping(latents) if space == "z" else latents
    return w[:, None].expand(-1, n_latent, -1)


class StyleGAN2Generator(Generator):
    """A :class:`Generator` over a :class:`StyleGAN2Network`, searching in its ``space``.

    ``sample_latent(n)``: in ``"z"``, ``N(0, I)``; in ``"w"`` and ``"w+"``, ``w = f(z)`` for
    random ``z`` (repeated per layer in W+), except that with ``start="mean"`` the first
    latent is the mean ``w`` — the usual start of StyleGAN inversion — so CSGM's first
    restart starts there and further restarts from random ``w``.
    """

    def __init__(self, network: StyleGAN2Network, start: Start = "mean") -> None:
        if start not in ("mean", "random"):
            raise ValueError(f"start must be 'mean' or 'random', got {start!r}")
        super().__init__(network, network.latent_dim, latent="gaussian", output_range=(-1.0, 1.0))
        self.start = start

    @property
    def space(self) -> LatentSpace:
        return self.network.space

    @torch.no_grad()
    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        net = self.network
        param = net.input.input
        where = generator.device if generator is not None else param.device
        z = torch.randn((n, net.style_dim), generator=generator, device=where).to(param)
        if net.space == "z":
            return z
        w = net.mapping(z)
        if self.start == "mean" and n > 0:
            w[0] = net.w_avg
        return w.repeat(1, net.n_latent) if net.space == "w+" else w


def build_stylegan2(
    channels: Sequence[int], style_dim: int = 512, n_mlp: int = 8, space: LatentSpace = "w",
    start: Start = "mean", out_channels: int = 3,
) -> StyleGAN2Generator:
    """An untrained StyleGAN2 :class:`Generator` (eval mode, images in [0, 1]); its mean
    ``w`` is estimated from its mapping network."""
    network = StyleGAN2Network(channels, style_dim, n_mlp, out_channels, space)
    network.w_avg.copy_(network.mean_w())
    return StyleGAN2Generator(network, start).eval()


def channels_for(size: int, channel_multiplier: int = 2) -> tuple[int, ...]:
    """The reference's widths for ``size`` (4, 8, …, size) and ``channel_multiplier``."""
    log_size = int(math.log2(size))
    if 2**log_size != size or size < 4:
        raise ValueError(f"size must be a power of 2 ≥ 4, got {size}")
    return tuple(
        512 if r <= 5 else 2 ** (14 - r) * channel_multiplier for r in range(2, log_size + 1)
    )


def load_stylegan2(
    path: str | PathLike, space: LatentSpace = "w", start: Start = "mean"
) -> StyleGAN2Generator:
    """Load a rosinality/stylegan2-pytorch checkpoint (format in the module docstring).

    Reads ``checkpoint['g_ema']`` (else ``'g'``, else the file as a bare generator state
    dict); the resolution, widths, ``d`` and ``n_mlp`` come from the keys and shapes. The
    mean ``w`` is the file's ``latent_avg`` when present, else estimated from 4096 mapped
    draws. Returns a :class:`StyleGAN2Generator` in eval mode searching in ``space``
    (``"z"``, ``"w"`` or ``"w+"``; latent size ``d``, ``d`` or ``n_latent·d``) from
    ``start`` (see :class:`StyleGAN2Generator`), images in [0, 1]. Raises
    :class:`CheckpointMismatchError` listing missing / unexpected keys and shape mismatches
    when the file is not of this format.
    """
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    # train.py stores its argparse options beside the weights.
    checkpoint = read_checkpoint(path, safe_globals=[(argparse.Namespace, "argparse.Namespace")])
    state, w_avg = _generator_state(checkpoint)
    network = StyleGAN2Network(*_architecture(state), space=space)
    ours = network.state_dict()
    for key, value in ours.items():
        if key.endswith(".kernel") and key not in state:
            state[key] = value  # the fixed blur filters, in case a file left them out
    check_state(state, {k: tuple(v.shape) for k, v in ours.items()}, FORMAT)
    network.load_state_dict(state)
    if w_avg is not None and tuple(w_avg.shape) != (network.style_dim,):
        raise CheckpointMismatchError(
            f"checkpoint does not match the expected format: {FORMAT}\n"
            f"latent_avg: checkpoint {tuple(w_avg.shape)}, expected ({network.style_dim},)"
        )
    network.w_avg.copy_(network.mean_w() if w_avg is None else w_avg)
    return StyleGAN2Generator(network, start).eval()


def _generator_state(checkpoint: object) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
    """The generator's state dict in a checkpoint file, and its stored mean ``w`` if any."""
    if isinstance(checkpoint, Mapping) and ("g_ema" in checkpoint or "g" in checkpoint):
        which = "g_ema" if "g_ema" in checkpoint else "g"
        state = tensor_state(checkpoint[which], f"checkpoint['{which}']", FORMAT)
        w_avg = checkpoint.get("latent_avg")
        # A file may hold it attached to autograd (requires_grad); copy_ from it would make the
        # w_avg buffer a non-leaf of that graph, which deepcopy (IAGAN's per-image weights) refuses.
        w_avg = w_avg.detach().reshape(-1) if isinstance(w_avg, torch.Tensor) else None
    else:
        state, w_avg = tensor_state(checkpoint, "the checkpoint", FORMAT), None
    return strip_prefix(state, "module."), w_avg


def _architecture(state: Mapping[str, torch.Tensor]) -> tuple[list[int], int, int, int]:
    """``(channels, style_dim, n_mlp, out_channels)`` from the keys and shapes."""
    needed = ["input.input", "conv1.conv.modulation.weight", "to_rgb1.conv.weight"]
    missing = [k for k in needed if k not in state]
    if missing:
        found = sorted(state)
        raise CheckpointMismatchError(
            describe_mismatch(FORMAT, missing, found[:20] + ([f"... ({len(found) - 20} more)"] if len(found) > 20 else []))
        )
    channels = [state["input.input"].shape[1]]
    blocks = _indices(state, r"to_rgbs\.{}\.conv\.weight")
    for j in range(len(blocks)):
        weight = state.get(f"convs.{2 * j}.conv.weight")
        if weight is None or weight.dim() != 5:
            raise CheckpointMismatchError(describe_mismatch(FORMAT, [f"convs.{2 * j}.conv.weight"], []))
        channels.append(weight.shape[1])
    style_dim = state["conv1.conv.modulation.weight"].shape[1]
    n_mlp = len(_indices(state, r"style\.{}\.weight"))
    out_channels = state["to_rgb1.conv.weight"].shape[1]
    return channels, style_dim, n_mlp, out_channels
