"""Deep Image Prior (Ulyanov, Vedaldi & Lempitsky 2018): an untrained network fitted to y."""
from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap


def _norm(c: int) -> nn.Module:
    # Per-image statistics: under vmap each network sees a batch of one.
    return nn.BatchNorm2d(c, track_running_stats=False)


class _Level(nn.Module):
    """One scale of the hourglass: down, deeper levels, up, with a skip branch."""

    def __init__(self, c_in: int, width: int, skip: int, inner: nn.Module | None) -> None:
        super().__init__()
        act = nn.LeakyReLU(0.2)
        self.skip = nn.Sequential(nn.Conv2d(c_in, skip, 1), _norm(skip), act)
        self.down = nn.Sequential(nn.Conv2d(c_in, width, 3, 2, 1, padding_mode="reflect"), _norm(width), act,
                                  nn.Conv2d(width, width, 3, 1, 1, padding_mode="reflect"), _norm(width), act)
        self.inner = inner
        self.up = nn.Sequential(_norm(width + skip), nn.Conv2d(width + skip, width, 3, 1, 1, padding_mode="reflect"),
                                _norm(width), act, nn.Conv2d(width, width, 1), _norm(width), act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        deep = self.down(x)
        if self.inner is not None:
            deep = self.inner(deep)
        deep = nn.functional.interpolate(deep, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return self.up(torch.cat([deep, self.skip(x)], 1))


class HourglassNetwork(nn.Module):
    """Ulyanov et al.'s encoder–decoder with skip connections ("skip" architecture):
    ``depth`` scales of stride-2 3×3 convolutions, bilinear upsampling, 1×1 skip
    branches, batch norm and leaky ReLU; sigmoid output in [0, 1]."""

    def __init__(self, in_channels: int = 32, out_channels: int = 3, width: int = 32, skip: int = 4,
                 depth: int = 4) -> None:
        super().__init__()
        level = None
        for d in range(depth):
            level = _Level(in_channels if d == depth - 1 else width, width, skip, level)
        self.body = level
        self.head = nn.Sequential(nn.Conv2d(width, out_channels, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class DeepImagePrior:
    """``x_i = f_{θ_i}(u_i)``: one untrained :class:`HourglassNetwork` per image, fed a
    fixed random input ``u_i ~ U(0, 0.1)`` of ``in_channels`` maps; optimises ``θ_i``.

    The ``n`` networks are independent initialisations (``seed``), stacked and run
    together with ``torch.func.vmap``. No regulariser: DIP's prior is the architecture
    plus early stopping (Ulyanov et al.).
    """

    def __init__(self, image_shape: tuple[int, int, int], n: int, lr: float = 0.01, seed: int = 0,
                 in_channels: int = 32, width: int = 32, depth: int = 4) -> None:
        c, h, w = image_shape
        if h % 2**depth or w % 2**depth:
            raise ValueError(f"image size {h}×{w} must be divisible by 2**depth = {2**depth}")
        self.lr = lr
        gen = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            networks = [HourglassNetwork(in_channels, c, width, depth=depth) for _ in range(n)]
        self.template = networks[0]
        params, buffers = stack_module_state(networks)
        self.theta = {k: v.requires_grad_(True) for k, v in params.items()}
        self._buffers = buffers
        self.inputs = 0.1 * torch.rand(n, in_channels, h, w, generator=gen)

        def one_image(theta: dict, buffers: dict, u: torch.Tensor) -> torch.Tensor:
            return functional_call(self.template, (theta, buffers), (u.unsqueeze(0),)).squeeze(0)

        self._images = vmap(one_image)

    def parameter_groups(self) -> list[dict]:
        return [{"params": list(self.theta.values()), "lr": self.lr}]

    def __call__(self) -> torch.Tensor:
        return self._images(self.theta, self._buffers, self.inputs)

    def penalty(self) -> torch.Tensor:
        return self.inputs.new_zeros(self.inputs.shape[0])

    def state(self) -> dict[str, torch.Tensor]:
        return {}

    def to(self, device: torch.device) -> DeepImagePrior:
        self.theta = {k: v.detach().to(device).requires_grad_(True) for k, v in self.theta.items()}
        self._buffers = {k: v.to(device) for k, v in self._buffers.items()}
        self.inputs = self.inputs.to(device)
        self.template.to(device)
        return self
