"""Data-fidelity terms for :func:`invgen.solvers.solve`: how far ``A x`` is from ``y``.

A fidelity is any callable ``(Ax, y) → (B,)``: ``Ax`` and ``y`` are ``(B, *A.out_shape)``
batches, the result holds one loss per image (summed over that image's measurements) and
must be differentiable in ``Ax``. Each one here is ≥ 0 and 0 exactly when ``Ax = y``, so
the solver's relative-improvement test (``patience``) means the same for all of them.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from invgen.operators import LinearOperator, Mask
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


class MaskedSquaredError:
    """``‖mask ⊙ (y − Ax)‖²`` per image: the squared error on the measurements where
    ``mask`` (boolean, ``(B, *A.out_shape)`` or broadcastable to it) is true."""

    def __init__(self, mask: torch.Tensor) -> None:
        self.mask = mask

    def __call__(self, Ax: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ((y - Ax) * self.mask).flatten(1).square().sum(1)

    def __repr__(self) -> str:
        return f"MaskedSquaredError({int(self.mask.sum())} of {self.mask.numel()} entries)"


MAX_HOLDOUT_BLOCK = 8
"""The largest held-out square :func:`holdout_block_for` chooses: on the tuning faces'
eye-band inpainting (an 18 × 44 hole), squares of 8 did best of 4, 8 and 16
(``benchmarks/results/holdout_study_inpaint_blocks.json``)."""


def holdout_block_for(A: LinearOperator) -> int:
    """The size of the squares to hold out of ``A``'s measurements: for a :class:`Mask`,
    the side of its largest square hole, at most :data:`MAX_HOLDOUT_BLOCK` (at least 1) —
    the held-out squares then look like what the estimate must fill; 1 (single entries)
    for any other operator."""
    if isinstance(A, Mask):
        return max(1, min(A.largest_hole, MAX_HOLDOUT_BLOCK))
    return 1


def holdout_cells(shape: tuple[int, ...], fraction: float, block: int = 1) -> tuple[int, ...]:
    """The shape of what :func:`holdout_split` draws from, per image: the measurement shape
    ``shape``, or its grid of ``block × block`` squares (one for all channels) for image
    measurements ``(C, H, W)``. ``ValueError`` for a fraction outside (0, 1), a block size
    < 1, blocks of measurements that are not images, or fewer than 2 cells."""
    if not 0 < fraction < 1:
        raise ValueError(f"the held-out fraction must be in (0, 1), got {fraction}")
    if block < 1:
        raise ValueError(f"the held-out block size must be ≥ 1, got {block}")
    if block > 1 and len(shape) != 3:
        raise ValueError(f"held-out blocks need image measurements (C, H, W), got measurements of shape {shape}; "
                         "use single entries (block 1)")
    cells = (1, -(-shape[1] // block), -(-shape[2] // block)) if block > 1 else shape
    if math.prod(cells) < 2:
        raise ValueError(f"holding out needs at least 2 measurements (or blocks) per image; measurements of shape "
                         f"{shape} in blocks of {block} make {math.prod(cells)}")
    return cells


def holdout_split(
    y: torch.Tensor, fraction: float, seed: int = 0, block: int = 1,
) -> tuple[MaskedSquaredError, MaskedSquaredError]:
    """``(fit, check)``: the squared error on a random ``1 − fraction`` of each image's
    measurements, and on the ``fraction`` left out (at least one entry each), drawn
    independently per image with ``seed``. Used as ``solve(fidelity=fit, validation=check)``:
    cross-validation of the measurements (Ward, IEEE Trans. Inf. Theory 2009), which keeps
    the iterate that predicts the unseen measurements best — a stop rule that needs no truth
    and no noise level.

    ``block`` > 1 (for measurements that are images, ``y`` of shape ``(B, C, H, W)``) leaves
    out whole ``block × block`` squares, all channels, instead of single entries: the check
    then asks the estimate to fill a hole, as inpainting does, not to interpolate between
    known neighbours.
    """
    cells = holdout_cells(tuple(y.shape[1:]), fraction, block)
    per_image = math.prod(cells)
    n_out = min(per_image - 1, max(1, round(fraction * per_image)))
    rng = torch.Generator().manual_seed(seed)
    order = torch.stack([torch.randperm(per_image, generator=rng) for _ in range(y.shape[0])])
    held = (order < n_out).view(y.shape[0], *cells)
    if block > 1:
        held = held.repeat_interleave(block, 2).repeat_interleave(block, 3)[..., :y.shape[2], :y.shape[3]]
        held = held.expand_as(y)
    held = held.to(y.device)
    return MaskedSquaredError(~held), MaskedSquaredError(held)
