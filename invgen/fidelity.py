"""Data fidelities: how far ``A x`` is from ``y``, the negative log-likelihood of a noise model
(up to constants). The forward model picks the one matching its noise
(:attr:`invgen.forward.ForwardModel.fidelity`); :func:`invgen.solvers.solve` minimises it.

A fidelity is any callable ``(Ax, y) → (B,)``: ``Ax`` and ``y`` are ``(B, *A.out_shape)``
batches, the result holds one loss per image (summed over that image's measurements) and
must be differentiable in ``Ax``. Each one here is ≥ 0 and 0 exactly when ``Ax = y``, so
the solver's relative-improvement test (``patience``) means the same for all of them.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from invgen.validation import positive

Fidelity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def squared_error(Ax: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``‖y − Ax‖²`` per image (no ½: this is the objective every method reports, and the
    one the discrepancy principle compares with ``τ·m·σ²``). The Gaussian negative
    log-likelihood times ``2σ²``, up to a constant. The default of ``solve``."""
    return (y - Ax).flatten(1).square().sum(1)


def l1(Ax: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``‖y − Ax‖₁`` per image: the Laplace negative log-likelihood (times its scale),
    robust to a few grossly wrong measurements (impulse noise, outliers)."""
    return (y - Ax).flatten(1).abs().sum(1)


class Huber:
    """``Σⱼ h_δ(yⱼ − (Ax)ⱼ)`` per image, with ``h_δ(r) = r²/2`` for ``|r| ≤ δ`` and
    ``δ(|r| − δ/2)`` beyond (Huber 1964): quadratic on small residuals, linear on outliers.
    For residuals all below ``δ`` it is half of :func:`squared_error`."""

    def __init__(self, delta: float = 0.1) -> None:
        positive("delta", delta)
        self.delta = float(delta)

    def __call__(self, Ax: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.huber_loss(Ax, y, reduction="none", delta=self.delta).flatten(1).sum(1)

    def __repr__(self) -> str:
        return f"Huber(delta={self.delta})"


class PoissonNLL:
    """Poisson negative log-likelihood for ``y = Poisson(peak·Ax)/peak`` (shot noise; ``y``
    and ``Ax`` in the image's units, ``peak`` the photon count of a unit intensity):

    ``peak · Σⱼ [λⱼ − yⱼ + yⱼ log(yⱼ/λⱼ)]``, ``λ = max(Ax, floor)``,

    which is ``−log p(y | x)`` minus its value at ``λ = y`` (a constant in ``x``; half the
    Poisson deviance), so it is ≥ 0 and 0 at a perfect fit (``peak·floor`` per zero
    count, whose best rate is the floor); ``y log y`` is 0 where ``y = 0``. ``y`` must be
    ≥ 0. The model needs ``Ax ≥ 0`` (a non-negative ``A`` on a non-negative image); rates
    below ``floor`` are clamped to it, which keeps the logarithm finite (and gives such
    entries no gradient).
    """

    def __init__(self, peak: float = 1.0, floor: float = 1e-6) -> None:
        positive("peak", peak)
        positive("floor", floor)
        self.peak, self.floor = float(peak), float(floor)

    def __call__(self, Ax: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if (y < 0).any():
            raise ValueError(f"the Poisson fidelity needs counts y ≥ 0, got min(y) = {y.min().item():.3g}")
        rate = Ax.clamp_min(self.floor)
        # Two xlogy terms, not xlogy(y, y/λ): its gradient in λ is 0/0 where y = 0.
        return self.peak * (rate - y + torch.xlogy(y, y) - torch.xlogy(y, rate)).flatten(1).sum(1)

    def __repr__(self) -> str:
        return f"PoissonNLL(peak={self.peak}, floor={self.floor})"
