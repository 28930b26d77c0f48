"""Priors on a generator's intermediate features: ILO's ℓ1-bounded deviation at one layer and
mGANprior's mixture of several codes' features (see :mod:`invgen.generators.layers`). Both run
the generator's own chain, in eval mode, and leave the caller's generator in the mode it was in."""
from __future__ import annotations

import torch

from invgen.generators.base import Generator
from invgen.generators.layers import chain_of
from invgen.priors.base import Prior
from invgen.validation import check_settings, check_tensor, count, nonnegative


def project_l1_ball(v: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """Each row ``v_i`` (flattened) projected onto ``{u : ‖u‖₁ ≤ radius_i}``, the closest point
    in Euclidean distance (Duchi, Shalev-Shwartz, Singer and Chandra, ICML 2008: soft
    thresholding by the θ_i that makes the ℓ1 norm ``radius_i``); rows inside are unchanged."""
    flat = v.flatten(1)
    magnitude = flat.abs()
    inside = magnitude.sum(1) <= radius
    ordered = magnitude.sort(1, descending=True).values
    cumulative = ordered.cumsum(1) - radius[:, None]
    ranks = torch.arange(1, flat.shape[1] + 1, device=v.device, dtype=v.dtype)
    kept = (ordered - cumulative / ranks > 0).sum(1).clamp_min(1)
    theta = cumulative.gather(1, (kept - 1)[:, None]) / kept[:, None].to(v.dtype)
    shrunk = flat.sign() * (magnitude - theta.clamp_min(0)).clamp_min(0)
    return torch.where(inside[:, None], flat, shrunk).view_as(v)


class IntermediateLayerPrior(Prior):
    """ILO's prior at split point ``k`` (Daras, Dean, Jalal and Dimakis, ICML 2021):
    ``x_i = G_{k→}(h_i + δ_i)`` with ``h_i`` fixed features at point ``k`` (those of the
    previous stage's solution: the range of the blocks before ``k``) and the deviation
    ``δ_i`` optimised inside the ℓ1 ball ``‖δ_i‖₁ ≤ radius·‖h_i‖₁`` by projected gradient
    steps (:meth:`project`); the later blocks are the generator's
    (:func:`~invgen.generators.layers.chain_of`), fixed. ``z`` feeds what the later blocks read
    of the latent (StyleGAN2's styles; nothing for most networks)."""

    def __init__(self, generator: Generator, z: torch.Tensor, features: torch.Tensor, point: int, *,
                 radius: float, lr: float) -> None:
        check_settings(lr=lr)
        nonnegative("radius", radius)
        self.generator, self.layers, self.point = generator, chain_of(generator), point
        self.z = check_tensor("z", z).detach()
        self.features = check_tensor("features", features).detach()
        self.radius = radius * self.features.flatten(1).abs().sum(1)
        self.delta = torch.zeros_like(self.features, requires_grad=True)
        self.lr = float(lr)

    def parameter_groups(self) -> list[dict]:
        return [{"params": [self.delta], "lr": self.lr}]

    def named_parameters(self) -> dict[str, torch.Tensor]:
        return {"delta": self.delta}

    def __call__(self) -> torch.Tensor:
        raw = self.layers.run(self.features + self.delta, self.z, self.point, self.layers.points + 1)
        return self.generator.to_unit(raw)

    def project(self) -> None:
        self.delta.copy_(project_l1_ball(self.delta, self.radius))

    def state(self) -> dict[str, torch.Tensor]:
        return {"z": self.z, "features": self.features + self.delta.detach()}


class MultiCodePrior(Prior):
    """mGANprior's prior at split point ``k`` (Gu, Shen and Zhou, CVPR 2020): ``N`` latent codes
    per image, each mapped to features ``F_n = G_{→k}(z_n)``, combined with per-channel
    importance weights, ``F = Σ_n α_n ⊙ F_n``, then the rest of the generator, ``x = G_{k→}(F)``.
    The codes ``(B, N, d)`` and weights ``(B, N, C)`` are optimised; start from ``z_init``
    ``(B, N, d)`` and ``alpha_init`` ``(B, N, C)``."""

    def __init__(self, generator: Generator, z_init: torch.Tensor, alpha_init: torch.Tensor, point: int, *,
                 lr_z: float, lr_alpha: float) -> None:
        check_settings(lr_z=lr_z, lr=lr_alpha)
        count("point", point)
        self.generator, self.layers, self.point = generator, chain_of(generator), point
        b, n, _ = check_tensor("z_init", z_init).shape
        if tuple(alpha_init.shape[:2]) != (b, n):
            raise ValueError(f"alpha_init must be (B, N, C) = ({b}, {n}, C), got {tuple(alpha_init.shape)}")
        self.z = z_init.detach().clone().requires_grad_()
        self.alpha = alpha_init.detach().clone().requires_grad_()
        self.lr_z, self.lr_alpha = float(lr_z), float(lr_alpha)

    def parameter_groups(self) -> list[dict]:
        return [{"params": [self.z], "lr": self.lr_z}, {"params": [self.alpha], "lr": self.lr_alpha}]

    def named_parameters(self) -> dict[str, torch.Tensor]:
        return {"z": self.z, "alpha": self.alpha}

    def __call__(self) -> torch.Tensor:
        b, n, d = self.z.shape
        codes = self.z.reshape(b * n, d)
        features = self.layers.run(codes, codes, 0, self.point)
        features = features.view(b, n, *features.shape[1:])
        weights = self.alpha.view(b, n, -1, *[1] * (features.dim() - 3))
        mixed = (weights * features).sum(1)
        return self.generator.to_unit(self.layers.run(mixed, self.z[:, 0], self.point, self.layers.points + 1))

    def state(self) -> dict[str, torch.Tensor]:
        return {"z": self.z.detach(), "alpha": self.alpha.detach()}
