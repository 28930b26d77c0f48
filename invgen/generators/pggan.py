"""Progressive GAN generator (Karras et al. 2018), as in the public CelebA-HQ checkpoints.

Architecture: ``z ∈ R^d ~ N(0, I)`` (``d = 512``) → pixel norm → dense layer to
``(c₀, 4, 4)`` → leaky ReLU (0.2) → pixel norm → 3×3 conv (``c₀ → c₀``); then per
resolution 8, 16, …: nearest upsampling ×2 and two 3×3 convs (``c_{k−1} → c_k → c_k``);
every conv is followed by leaky ReLU (0.2) and pixel norm
(``x / sqrt(mean_c x² + 1e-8)``) → 1×1 conv to RGB, linear. The raw output is trained on
images in [−1, 1] (it is not clamped there). Every layer is "equalised": ``y = s · (W ∗ x)
+ b = W ∗ (s·x) + b`` with a fixed per-layer scale ``s`` (a buffer, not trained — the run-time He constant
of the original, or the constant the Theano code stored), trainable ``W`` and ``b``. The
dense layer has one bias per output unit, ``(c₀·16,)``. CelebA-HQ 1024×1024:
``c = (512, 512, 512, 512, 256, 128, 64, 32, 16)``, about 23 M parameters.

Two public formats map onto this one module (:func:`load_pggan`, ``format=``):

- ``"ptrblck"`` — the PyTorch port of NVIDIA's Theano CelebA-HQ 1024 network,
  github ptrblck/prog_gans_pytorch_inference (``100_celeb_hq_network-snapshot-010403.pth``,
  written by its ``transfer_weights.py``), used by the IAGAN paper's code
  (github shadyabh/IAGAN). A plain state dict: ``features.{i}.conv.weight`` (conv
  without bias), ``features.{i}.wscale.scale`` ``(1,)``, ``features.{i}.wscale.b``
  ``(c,)`` for ``i = 0 … 2S+1`` — ``features.0`` is a 4×4 conv with padding 3 applied to
  ``z`` as ``(512, 1, 1)`` (it plays the dense layer), ``features.1`` the 3×3 conv at 4×4,
  ``features.{2k}``/``features.{2k+1}`` the upsampling and plain convs at scale ``k`` — and
  ``output.conv.weight`` ``(3, c_S, 1, 1)``, ``output.wscale.{scale, b}``. The repository's
  other ``model.py`` layout (``in_layer.{1,2}``, ``upsampling_layers.{i}``,
  ``out_layer.{1,2}``) holds the same tensors and is read too.
- ``"gan_zoo"`` — facebookresearch/pytorch_GAN_zoo PGAN (e.g. the torch.hub CelebA-HQ
  256/512 models): a dict with ``'config'`` and the generator state dicts ``'netG'`` and
  ``'avgG'`` (its moving average, the one to sample from; read when present). Keys
  ``formatLayer``, ``groupScale0.0``, ``scaleLayers.{k}.{0,1}``, ``toRGBLayers.{k}``, each
  ``.weight``/``.bias`` (or ``.module.weight``/``.module.bias`` in newer files); the run-time
  scale is ``sqrt(2 / fan_in)`` when ``config.equalizedlR`` (default), else 1. Only the
  last ``toRGBLayers`` entry is used (the others served the lower resolutions in training).

Loading keeps every tensor: the two formats differ only in names, the ptrblck dense
layer's kernel flip and per-channel bias, and where the zoo multiplies its bias by ``s``.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from itertools import pairwise
from os import PathLike
from typing import Literal

import torch
from torch import nn

from invgen.generators.base import Generator
from invgen.generators.checkpoint import (
    CheckpointMismatchError,
    check_state,
    describe_mismatch,
    read_checkpoint,
    strip_prefix,
    tensor_state,
)

PGGANFormat = Literal["ptrblck", "gan_zoo"]
FORMATS: dict[str, str] = {
    "ptrblck": "ptrblck/prog_gans_pytorch_inference Generator state_dict "
    "(keys features.{i}.conv.weight, features.{i}.wscale.{scale,b}, output.*)",
    "gan_zoo": "facebookresearch/pytorch_GAN_zoo PGAN checkpoint "
    "(dict with 'config' and 'netG'/'avgG': formatLayer, groupScale0, scaleLayers, toRGBLayers)",
}
CELEBA_HQ_1024 = (512, 512, 512, 512, 256, 128, 64, 32, 16)
LEAK = 0.2
# (state dict for PGGANGenerator, channels per scale, latent size, output channels)
_Mapped = tuple[dict[str, torch.Tensor], list[int], int, int]


class PixelNorm(nn.Module):
    """``x / sqrt(mean_c x² + 1e-8)``, over the channels (dim 1) of each pixel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)


class Scale(nn.Module):
    """``x ↦ s·x`` with a fixed scalar ``s`` (a buffer, not trained)."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.register_buffer("scale", torch.tensor(float(scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def equalized_linear(in_features: int, out_features: int) -> nn.Sequential:
    """``y = W (s·x) + b = s · x Wᵀ + b``: the fixed scale on the input (the same, the layer
    being linear), then a plain ``nn.Linear``."""
    return nn.Sequential(Scale(math.sqrt(2.0 / in_features)), nn.Linear(in_features, out_features))


def equalized_conv2d(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    """``y = W ∗ (s·x) + b`` ('same' padding), as :func:`equalized_linear`."""
    k = kernel_size
    return nn.Sequential(Scale(math.sqrt(2.0 / (in_channels * k * k))),
                         nn.Conv2d(in_channels, out_channels, k, padding=k // 2))


class PGGANGenerator(nn.Module):
    """``(B, latent_dim)`` → ``(B, out_channels, 4·2^S, 4·2^S)``, ``S = len(channels) − 1``.

    ``channels[k]``: feature maps at resolution ``4·2^k``. Raw output trained on [−1, 1]. A
    chain of blocks (:meth:`blocks`); each equalised layer is a :class:`Scale` and a plain
    ``nn.Linear`` or ``nn.Conv2d`` (parameters ``NAME.1.weight``, ``NAME.1.bias``, the scale
    ``NAME.0.scale``).
    """

    def __init__(
        self,
        latent_dim: int = 512,
        channels: Sequence[int] = CELEBA_HQ_1024,
        out_channels: int = 3,
    ) -> None:
        super().__init__()
        self.channels = tuple(channels)
        c0 = self.channels[0]
        self.pixel_norm, self.act = PixelNorm(), nn.LeakyReLU(LEAK)
        self.project = equalized_linear(latent_dim, c0 * 16)
        self.unflatten = nn.Unflatten(1, (c0, 4, 4))
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.stages = nn.ModuleList([nn.ModuleList([equalized_conv2d(c0, c0, 3)])])
        for c_in, c_out in pairwise(self.channels):
            self.stages.append(
                nn.ModuleList([equalized_conv2d(c_in, c_out, 3), equalized_conv2d(c_out, c_out, 3)])
            )
        self.to_rgb = equalized_conv2d(self.channels[-1], out_channels, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z
        for _, block in self.blocks():
            x = block(x)
        return x

    def blocks(self) -> list[tuple[str, nn.Module]]:
        """The chain :meth:`forward` applies (see :mod:`invgen.generators.layers`): pixel norm,
        the dense layer, leaky ReLU, pixel norm; per resolution (doubled by nearest upsampling
        from the second on) each convolution with leaky ReLU and pixel norm; ``to_rgb``."""
        norm, act = ("pixel_norm", self.pixel_norm), ("act", self.act)
        chain = [norm, ("project", self.project), act, ("unflatten", self.unflatten), norm]
        for k, stage in enumerate(self.stages):
            chain += [("upsample", self.upsample)] if k > 0 else []
            for i, conv in enumerate(stage):
                chain += [(f"stages.{k}.{i}", conv), act, norm]
        return [*chain, ("to_rgb", self.to_rgb)]


def build_pggan(
    channels: Sequence[int] = CELEBA_HQ_1024, latent_dim: int = 512, out_channels: int = 3
) -> Generator:
    """An untrained PGGAN :class:`Generator` (eval mode, Gaussian latent, images in [0, 1])."""
    network = PGGANGenerator(latent_dim, channels, out_channels)
    return Generator(network, latent_dim, latent="gaussian").eval()


def load_pggan(path: str | PathLike, format: PGGANFormat = "ptrblck") -> Generator:
    """Load a public PGGAN generator checkpoint (formats in the module docstring).

    The resolution, widths and latent size are read from the tensor shapes, so any
    checkpoint of the format loads, not only CelebA-HQ 1024. Returns a :class:`Generator`
    in eval mode: ``z ∈ R^d ~ N(0, I)`` → images in [0, 1]. Raises
    :class:`CheckpointMismatchError` listing missing / unexpected keys and shape
    mismatches (in the source format's names) when the file is not of ``format``.
    """
    if format == "ptrblck":
        state = strip_prefix(
            tensor_state(read_checkpoint(path), "the checkpoint", FORMATS[format]), "module."
        )
        mapped, channels, latent_dim, out_channels = _from_ptrblck(state)
    elif format == "gan_zoo":
        checkpoint = read_checkpoint(path, safe_globals=[(GANZooConfig, GANZooConfig.SOURCE)])
        mapped, channels, latent_dim, out_channels = _from_gan_zoo(checkpoint)
    else:
        raise ValueError(f"format must be one of {sorted(FORMATS)}, got {format!r}")
    generator = build_pggan(channels, latent_dim, out_channels)
    generator.network.load_state_dict(mapped)
    return generator


def _named(parts: Mapping[str, Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """``{layer: {"weight", "bias", "scale"}}`` as :class:`PGGANGenerator`'s state dict."""
    where = {"scale": "0.scale", "weight": "1.weight", "bias": "1.bias"}
    return {f"{layer}.{where[leaf]}": t for layer, tensors in parts.items() for leaf, t in tensors.items()}


def _indices(state: Mapping[str, torch.Tensor], pattern: str) -> list[int]:
    """Sorted integers that fill the ``{}`` of the key regex ``pattern`` in some key."""
    regex = re.compile(pattern.replace("{}", r"(\d+)") + "$")
    return sorted({int(m.group(1)) for k in state if (m := regex.match(k))})


def _require(state: Mapping[str, torch.Tensor], keys: list[str], fmt: str) -> None:
    missing = [k for k in keys if k not in state]
    if missing:
        raise CheckpointMismatchError(
            describe_mismatch(fmt, missing, [k for k in state if k not in keys][:20])
        )


def _from_ptrblck(state: dict[str, torch.Tensor]) -> _Mapped:
    fmt = FORMATS["ptrblck"]
    if "in_layer.1.weight" in state:  # the other model.py layout, same tensors
        renamed = {}
        for key, value in state.items():
            key = re.sub(r"^in_layer\.1\.", "features.0.conv.", key)
            key = re.sub(r"^in_layer\.2\.", "features.0.wscale.", key)
            key = re.sub(r"^out_layer\.1\.", "output.conv.", key)
            key = re.sub(r"^out_layer\.2\.", "output.wscale.", key)
            key = re.sub(
                r"^upsampling_layers\.(\d+)\.",
                lambda m: f"features.{int(m.group(1)) + 1}.", key,
            )
            renamed[key] = value
        state = renamed
    n_features = max(_indices(state, r"features\.{}\.conv\.weight"), default=0) + 1
    _require(state, [f"features.{i}.conv.weight" for i in range(max(n_features, 2))]
             + ["output.conv.weight"], fmt)
    if n_features % 2:
        raise CheckpointMismatchError(
            f"checkpoint does not match the expected format: {fmt}\n"
            f"an even number of features.{{i}} layers is expected, found {n_features}"
        )
    first = state["features.0.conv.weight"]
    latent_dim = first.shape[1]
    channels = [state[f"features.{2 * k + 1}.conv.weight"].shape[0] for k in range(n_features // 2)]
    out_channels = state["output.conv.weight"].shape[0]

    expected: dict[str, tuple[int, ...]] = {}

    def layer(name: str, c_out: int, c_in: int, k: int) -> None:
        expected[f"{name}.conv.weight"] = (c_out, c_in, k, k)
        expected[f"{name}.wscale.scale"] = (1,)
        expected[f"{name}.wscale.b"] = (c_out,)

    layer("features.0", channels[0], latent_dim, 4)
    layer("features.1", channels[0], channels[0], 3)
    for k in range(1, len(channels)):
        layer(f"features.{2 * k}", channels[k], channels[k - 1], 3)
        layer(f"features.{2 * k + 1}", channels[k], channels[k], 3)
    layer("output", out_channels, channels[-1], 1)
    check_state(state, expected, fmt)

    def equalized(name: str) -> dict[str, torch.Tensor]:
        return {
            "weight": state[f"{name}.conv.weight"],
            "bias": state[f"{name}.wscale.b"],
            "scale": state[f"{name}.wscale.scale"].reshape(()),
        }

    # features.0 is a 4×4 conv (padding 3) on z as (d, 1, 1): output pixel (i, j) reads the
    # kernel tap (3 − i, 3 − j), i.e. a dense layer with a flipped kernel, one bias per channel.
    c0 = channels[0]
    project = equalized("features.0")
    project["weight"] = first.flip(2, 3).permute(0, 2, 3, 1).reshape(c0 * 16, latent_dim)
    project["bias"] = project["bias"].repeat_interleave(16)
    parts = {"project": project, "stages.0.0": equalized("features.1"), "to_rgb": equalized("output")}
    for k in range(1, len(channels)):
        parts[f"stages.{k}.0"] = equalized(f"features.{2 * k}")
        parts[f"stages.{k}.1"] = equalized(f"features.{2 * k + 1}")
    return _named(parts), channels, latent_dim, out_channels


class GANZooConfig:
    """Stand-in for pytorch_GAN_zoo's ``BaseConfig`` (a bare attribute container), so its
    pickled ``'config'`` can be read with ``weights_only=True``."""

    SOURCE = "models.utils.config.BaseConfig"


def _from_gan_zoo(checkpoint: object) -> _Mapped:
    fmt = FORMATS["gan_zoo"]
    if not isinstance(checkpoint, Mapping) or not ({"netG", "avgG"} & set(checkpoint)):
        keys = sorted(checkpoint) if isinstance(checkpoint, Mapping) else type(checkpoint).__name__
        raise CheckpointMismatchError(
            f"checkpoint does not match the expected format: {fmt}\n"
            f"a dict with 'netG' (or 'avgG') and 'config' is expected; found {keys}"
        )
    which = "avgG" if "avgG" in checkpoint else "netG"
    config = checkpoint.get("config", {})
    config = dict(config) if isinstance(config, Mapping) else dict(vars(config))
    unsupported = {
        "alpha": (config.get("alpha", 0), 0),
        "perChannelNormalization": (config.get("perChannelNormalization", True), True),
        "leakyReluLeak": (config.get("leakyReluLeak", LEAK), LEAK),
    }
    for name, (value, supported) in unsupported.items():
        if value != supported:
            why = " (saved during a resolution transition)" if name == "alpha" else ""
            raise CheckpointMismatchError(
                f"{fmt}: config.{name} = {value!r}{why} is not supported, only {supported!r}"
            )
    equalized = bool(config.get("equalizedlR", True))

    state = tensor_state(checkpoint[which], f"checkpoint['{which}']", fmt)
    state = strip_prefix(state, "module.")
    # Newer GAN zoo files keep the wrapped layer's name: 'formatLayer.module.weight'.
    state = {re.sub(r"\.module\.(weight|bias)$", r".\1", k): v for k, v in state.items()}
    _require(state, ["formatLayer.weight", "groupScale0.0.weight"], fmt)
    latent_dim = state["formatLayer.weight"].shape[1]
    channels = [state["groupScale0.0.weight"].shape[0]]
    channels += [state[f"scaleLayers.{k}.0.weight"].shape[0]
                 for k in _indices(state, r"scaleLayers\.{}\.0\.weight")]
    n_scales = len(channels)
    rgb = state.get(f"toRGBLayers.{n_scales - 1}.weight")
    out_channels = rgb.shape[0] if rgb is not None else config.get("dimOutput", 3)

    expected: dict[str, tuple[int, ...]] = {}

    def layer(name: str, weight_shape: tuple[int, ...]) -> None:
        expected[f"{name}.weight"], expected[f"{name}.bias"] = weight_shape, weight_shape[:1]

    layer("formatLayer", (channels[0] * 16, latent_dim))
    layer("groupScale0.0", (channels[0], channels[0], 3, 3))
    for k in range(1, n_scales):
        layer(f"scaleLayers.{k - 1}.0", (channels[k], channels[k - 1], 3, 3))
        layer(f"scaleLayers.{k - 1}.1", (channels[k], channels[k], 3, 3))
    for k in range(n_scales):
        layer(f"toRGBLayers.{k}", (out_channels, channels[k], 1, 1))
    check_state(state, expected, f"{fmt}, checkpoint['{which}']")

    def scaled(name: str) -> dict[str, torch.Tensor]:
        # GAN zoo computes (W ∗ x + b) · s, so b · s is this module's bias.
        weight, bias = state[f"{name}.weight"], state[f"{name}.bias"]
        s = math.sqrt(2.0 / weight[0].numel()) if equalized else 1.0
        return {"weight": weight, "bias": bias * s, "scale": torch.tensor(s)}

    parts = {
        "project": scaled("formatLayer"),
        "stages.0.0": scaled("groupScale0.0"),
        "to_rgb": scaled(f"toRGBLayers.{n_scales - 1}"),
    }
    for k in range(1, n_scales):
        parts[f"stages.{k}.0"] = scaled(f"scaleLayers.{k - 1}.0")
        parts[f"stages.{k}.1"] = scaled(f"scaleLayers.{k - 1}.1")
    return _named(parts), channels, latent_dim, out_channels
