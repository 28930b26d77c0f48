"""Deep Image Prior (Ulyanov, Vedaldi and Lempitsky, CVPR 2018): the structure of an
untrained convolutional network, fitted from a fixed random input, is the prior."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from invgen.priors._per_image import PerImageWeights
from invgen.priors.base import Prior
from invgen.validation import check_settings, nonnegative


def _conv_block(c_in: int, c_out: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2, padding_mode="reflect"),
        nn.BatchNorm2d(c_out, track_running_stats=False),
        nn.LeakyReLU(0.2),
    ]


class _Level(nn.Module):
    """One scale of the hourglass: skip branch, downsample → deeper levels → upsample, merge."""

    def __init__(self, c_in: int, channels: int, skip_channels: int, inner: nn.Module | None) -> None:
        super().__init__()
        self.skip = nn.Sequential(*_conv_block(c_in, skip_channels, 1))
        self.down = nn.Sequential(*_conv_block(c_in, channels, 3, stride=2), *_conv_block(channels, channels, 3))
        self.inner = inner if inner is not None else nn.Identity()
        self.up = nn.Sequential(
            nn.BatchNorm2d(skip_channels + channels, track_running_stats=False),
            *_conv_block(skip_channels + channels, channels, 3),
            *_conv_block(channels, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        deep = F.interpolate(self.inner(self.down(x)), size=x.shape[-2:], mode="bilinear", align_corners=False)
        return self.up(torch.cat([self.skip(x), deep], dim=1))


class SkipNetwork(nn.Module):
    """Ulyanov et al.'s encoder-decoder with skip connections ("skip" architecture).

    ``depth`` levels; each halves the resolution with a stride-2 convolution, keeps a
    ``skip_channels`` 1×1 branch at its own resolution, and merges the bilinearly
    upsampled deeper output with it. Convolutions use reflection padding, batch norm
    (statistics of the image itself) and leaky ReLU; a 1×1 convolution and a sigmoid
    give ``out_channels`` in [0, 1]. Any ``H×W`` works (odd sizes included).
    The paper uses 128 channels and 5 levels; the defaults here are sized for a CPU.
    """

    def __init__(self, in_channels: int, out_channels: int, channels: int = 32, depth: int = 4,
                 skip_channels: int = 4) -> None:
        super().__init__()
        inner = None
        for level in reversed(range(depth)):
            inner = _Level(in_channels if level == 0 else channels, channels, skip_channels, inner)
        self.levels = inner
        self.head = nn.Conv2d(channels, out_channels, 1)

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(self.levels(noise)))


def _max_depth(size: int) -> int:
    """How many stride-2 halvings keep a side of ``size`` pixels at least 2 long."""
    levels = 0
    while (size + 1) // 2 >= 2:
        size, levels = (size + 1) // 2, levels + 1
    return levels


@torch.no_grad()
def _initialise(module: nn.Module, rng: torch.Generator) -> None:
    """PyTorch's default initialisation, drawn from ``rng`` instead of the global RNG."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            bound = 1 / math.sqrt(m.weight[0].numel())
            nn.init.uniform_(m.weight, -bound, bound, generator=rng)
            nn.init.uniform_(m.bias, -bound, bound, generator=rng)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class DeepImagePrior(Prior):
    """``x_i = f_{θ_i}(u + σ·ε_t)``: ``n`` copies of a :class:`SkipNetwork` with the same
    seeded initialisation, one per image, all fed the same input ``u ~ U(0, 1/10)`` of
    ``input_channels`` channels (the paper's input), perturbed at every call ``t`` by fresh
    Gaussian noise ``ε_t ~ N(0, 1)`` of std ``σ = input_noise`` (the paper's regularisation,
    ``reg_noise_std``; 0: the fixed input). Only the weights ``θ_i`` are optimised.
    Small images get fewer than ``depth`` levels: the deepest feature map stays ≥ 2×2, as
    batch norm needs more than one value per channel.

    Each image has its own network and batch-norm statistics, and all images see the same
    perturbation at a call, so an image's fit does not depend on the other images of the
    batch. The perturbations are drawn from a generator seeded by ``seed``: a run is
    repeatable. ``state()`` is empty: the weights are not kept.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        n: int,
        *,
        lr: float,
        input_noise: float = 0.0,
        channels: int = 32,
        depth: int = 4,
        input_channels: int = 32,
        seed: int = 0,
        device: torch.device | str | None = None,
    ) -> None:
        check_settings(lr=lr)
        nonnegative("input_noise", input_noise)
        c, h, w = image_shape
        if min(h, w) < 3:
            raise ValueError(f"the Deep Image Prior needs images of at least 3×3 pixels, got {h}×{w}")
        depth = min(depth, _max_depth(min(h, w)))
        rng = torch.Generator().manual_seed(seed)
        with torch.device("meta"):  # no default initialisation: it would draw from the global RNG
            network = SkipNetwork(input_channels, c, channels, depth)
        network = network.to_empty(device="cpu")
        _initialise(network, rng)
        self.lr = float(lr)
        self.input_noise = float(input_noise)
        self.noise = (torch.rand(input_channels, h, w, generator=rng) / 10).to(device)
        # The perturbations' own stream, seeded from the initialisation's (not a second copy of it).
        stream = int(torch.randint(2**62, (1,), generator=rng))
        self.perturbations = torch.Generator(device=self.noise.device).manual_seed(stream)
        self.network = PerImageWeights(network.to(device), n)
        self.n = n

    def parameter_groups(self) -> list[dict]:
        return [{"params": list(self.network.params.values()), "lr": self.lr}]

    def named_parameters(self) -> dict[str, torch.Tensor]:
        """``"theta.NAME"`` for each weight of the network, ``(B, *shape)``."""
        return {f"theta.{name}": p for name, p in self.network.params.items()}

    def network_input(self) -> torch.Tensor:
        """The input of this call, ``u + σ·ε`` (``u`` itself when ``input_noise`` is 0)."""
        if not self.input_noise:
            return self.noise
        return self.noise + self.input_noise * torch.randn(self.noise.shape, generator=self.perturbations,
                                                           device=self.noise.device, dtype=self.noise.dtype)

    def __call__(self) -> torch.Tensor:
        u = self.network_input()
        return self.network(u.expand(self.n, *u.shape))
