"""ST-LPIPS: the shift-tolerant learned perceptual distance of Ghildyal & Liu (ECCV 2022),
built here from the weights that the ``stlpips-pytorch`` wheel ships (nothing is downloaded,
and none of that package's code is imported: it needs torchvision and IPython).

The distance between images ``x`` and ``ref`` in [0, 1] is LPIPS's (Zhang et al., CVPR 2018),

    d(x, ref) = Σ_l  mean_{h,w}  w_lᵀ (φ̂_l(x) − φ̂_l(ref))²,

where ``φ_l`` are five feature maps of a trunk network, ``φ̂_l = φ_l / (‖φ_l‖₂ + 1e-10)`` is
unit-normalised over channels at each position, and ``w_l ≥ 0`` are the learned linear
heads (1×1 convolutions to one channel). The input is first mapped to [−1, 1] and
standardised per channel (``(t − shift) / scale``, the file's ``scaling_layer``).

What makes it shift-tolerant is the trunk: every stride-2 step is an anti-aliasing blur
pool (Zhang, ICML 2019) — reflect padding by 2, a [1, 2, 1]ᵀ[1, 2, 1] / 16 depthwise filter,
stride 2 — and the max-pools keep stride 1:

- ``alex`` (default, 2.5 M parameters): conv 11×11 (3→64, stride 1, pad 2), blur pool,
  ReLU → φ₁; max-pool 3, blur pool, conv 5×5 (64→192, pad 2), ReLU → φ₂; max-pool 3, blur
  pool, conv 3×3 (192→384), ReLU → φ₃; conv 3×3 (384→256), ReLU → φ₄; conv 3×3 (256→256),
  ReLU → φ₅.
- ``vgg`` (14.7 M parameters): VGG-16's thirteen 3×3 convolutions with ReLU in blocks of
  2, 2, 3, 3, 3 (64, 128, 256, 512, 512 channels), each block after the first preceded by a
  2×2 max-pool of stride 1 and a blur pool; φ_l is the last ReLU of block l.

Lower is closer; 0 for identical images. Images must be at least 21×21 pixels (``alex``)
or 18×18 (``vgg``): below that a blur pool's padding exceeds its input.
"""
from __future__ import annotations

from collections import OrderedDict
from importlib import resources

import torch
from torch import nn

from invgen.metrics.distortion import check_pair

MIN_SIZE = {"alex": 21, "vgg": 18}
NETS = tuple(MIN_SIZE)
WEIGHTS_PACKAGE = "stlpips_pytorch"
_models: dict[tuple[str, str], STLPIPS] = {}


def weights_file(net: str):
    """The ``stlpips-pytorch`` wheel's weight file for trunk ``net`` (a ``Traversable``)."""
    if net not in NETS:
        raise ValueError(f"net must be one of {NETS}, got {net!r}")
    try:
        folder = resources.files(WEIGHTS_PACKAGE)
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "ST-LPIPS reads its weights from the stlpips-pytorch package, which is not installed: "
            "pip install stlpips-pytorch==0.0.2 (a dependency of invgen; reinstall invgen)"
        ) from None
    path = folder / "weights" / "vST0.0" / f"{net}_shift_tolerant.pth"
    if not path.is_file():
        raise FileNotFoundError(f"the stlpips-pytorch package has no {net} weights at {path}; reinstall it")
    return path


class BlurPool(nn.Module):
    """Anti-aliased stride-2 downsampling: reflect-pad by 2, blur each channel with ``filt``
    (the binomial [1, 2, 1]ᵀ[1, 2, 1] / 16, read from the weight file), keep every second pixel."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        taps = torch.tensor([1.0, 2.0, 1.0])
        self.register_buffer("filt", (taps[:, None] * taps[None, :] / 16).expand(channels, 1, 3, 3).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = nn.functional.pad(x, (2, 2, 2, 2), mode="reflect")
        return nn.functional.conv2d(padded, self.filt, stride=2, groups=x.shape[1])


def _stage(layers: dict[int, nn.Module]) -> nn.Sequential:
    # Named by the layer's position in the published trunk, as in the weight file.
    return nn.Sequential(OrderedDict((str(i), m) for i, m in layers.items()))


def _alex() -> list[nn.Sequential]:
    conv = nn.Conv2d
    return [
        _stage({0: conv(3, 64, 11, padding=2), 1: BlurPool(64), 2: nn.ReLU()}),
        _stage({3: nn.MaxPool2d(3, 1), 4: BlurPool(64), 5: conv(64, 192, 5, padding=2), 6: nn.ReLU()}),
        _stage({7: nn.MaxPool2d(3, 1), 8: BlurPool(192), 9: conv(192, 384, 3, padding=1), 10: nn.ReLU()}),
        _stage({11: conv(384, 256, 3, padding=1), 12: nn.ReLU()}),
        _stage({13: conv(256, 256, 3, padding=1), 14: nn.ReLU()}),
    ]


def _vgg() -> list[nn.Sequential]:
    stages, position, c_in = [], 0, 3
    for block, (c_out, convs) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]):
        layers: dict[int, nn.Module] = {}
        if block > 0:
            layers[position], layers[position + 1] = nn.MaxPool2d(2, 1), BlurPool(c_in)
            position += 2
        for _ in range(convs):
            layers[position], layers[position + 1] = nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU()
            position, c_in = position + 2, c_out
        stages.append(_stage(layers))
    return stages


class STLPIPS(nn.Module):
    """The ST-LPIPS distance as a frozen, differentiable module: ``STLPIPS("alex")(x, ref)``
    → ``(B,)`` for ``x``, ``ref`` of shape ``(B, 3, H, W)`` in [0, 1] (gradients flow to
    both, so it also serves as a training loss or a solver's penalty). Eval mode; every
    tensor of the weight file is loaded, strictly."""

    def __init__(self, net: str = "alex") -> None:
        super().__init__()
        path = weights_file(net)
        self.net_name = net
        self.stages = nn.ModuleList(_alex() if net == "alex" else _vgg())
        widths = [next(m for m in reversed(s) if isinstance(m, nn.Conv2d)).out_channels for s in self.stages]
        self.heads = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in widths)
        self.register_buffer("shift", torch.zeros(1, 3, 1, 1))
        self.register_buffer("scale", torch.ones(1, 3, 1, 1))
        with resources.as_file(path) as file:
            published = torch.load(file, map_location="cpu", weights_only=True)
        self.load_state_dict({self._rename(k): v for k, v in published.items()}, strict=True)
        self.requires_grad_(False).eval()

    @staticmethod
    def _rename(key: str) -> str:
        """The published names (``net.slice1.0.weight``, ``lin0.model.1.weight``,
        ``scaling_layer.shift``) → this module's."""
        if key.startswith("net.slice"):
            stage, rest = key[len("net.slice"):].split(".", 1)
            return f"stages.{int(stage) - 1}.{rest}"
        if key.startswith("lin"):
            return f"heads.{key[3:].split('.', 1)[0]}.weight"
        return key.removeprefix("scaling_layer.")

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The five unit-normalised feature maps φ̂_l of images ``x`` in [0, 1]."""
        h = ((2 * x - 1) - self.shift) / self.scale
        out = []
        for stage in self.stages:
            h = stage(h)
            out.append(h / (h.square().sum(1, keepdim=True).sqrt() + 1e-10))
        return out

    def forward(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        distance = x.new_zeros(x.shape[0])
        for fx, fr, head in zip(self.features(x), self.features(ref), self.heads):
            distance = distance + head((fx - fr).square()).mean((1, 2, 3))
        return distance


def st_lpips(x: torch.Tensor, ref: torch.Tensor, net: str = "alex") -> torch.Tensor:
    """ST-LPIPS distance per image (Ghildyal & Liu, ECCV 2022), ``(B,)``; lower is closer.

    ``x`` and ``ref`` are ``(B, 3, H, W)`` RGB batches in [0, 1] (see :data:`MIN_SIZE`); computed in
    float32 without gradients (:class:`STLPIPS` is the differentiable module). The network
    is built once per trunk and device and reused.
    """
    check_pair(x, ref)
    if net not in NETS:
        raise ValueError(f"net must be one of {NETS}, got {net!r}")
    if x.shape[1] != 3 or min(x.shape[-2:]) < MIN_SIZE[net]:
        raise ValueError(f"ST-LPIPS ({net}) needs RGB images of at least {MIN_SIZE[net]}×{MIN_SIZE[net]} pixels, "
                         f"got shape {tuple(x.shape)}")
    key = (net, str(x.device))
    if key not in _models:
        _models[key] = STLPIPS(net).to(x.device)
    with torch.no_grad():
        return _models[key](x.detach().float(), ref.detach().float()).to(x.dtype)
