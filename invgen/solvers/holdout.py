"""Held-out measurements: cross-validation of ``y`` as a stop rule that needs no truth and no
noise level (:func:`holdout_split`), and how to choose the held-out squares for an operator."""
from __future__ import annotations

import math

import torch

from invgen.fidelity import Fidelity, squared_error
from invgen.operators import LinearOperator, Mask


class Masked:
    """``fidelity(mask ⊙ Ax, mask ⊙ y)`` per image: a fidelity on the measurements where
    ``mask`` (boolean, ``(B, *A.out_shape)`` or broadcastable to it) is true — each of
    invgen's fidelities is a sum over entries that vanishes where ``Ax = y`` (the Poisson
    one up to its rate floor), so the masked-out entries add nothing."""

    def __init__(self, fidelity: Fidelity, mask: torch.Tensor) -> None:
        self.fidelity, self.mask = fidelity, mask

    def __call__(self, Ax: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.fidelity is squared_error:  # the common case, in one pass
            return ((y - Ax) * self.mask).flatten(1).square().sum(1)
        return self.fidelity(Ax * self.mask, y * self.mask)

    def __repr__(self) -> str:
        return f"Masked({self.fidelity!r}, {int(self.mask.sum())} of {self.mask.numel()} entries)"


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
    y: torch.Tensor, fraction: float, seed: int = 0, block: int = 1, fidelity: Fidelity = squared_error,
    starts: int = 1,
) -> tuple[Masked, Masked]:
    """``(fit, check)``: ``fidelity`` (default the squared error; the forward model's, e.g.
    Poisson) on a random ``1 − fraction`` of each row's measurements, and on the
    ``fraction`` left out (at least one entry each). ``y`` holds ``starts`` rows per image,
    image-major (row ``i·starts + j``: start ``j`` of image ``i``); start ``j`` of every image
    is split by the ``j``-th draw of ``seed`` — the same for every image, so an image's split
    (and its estimate) does not depend on its place in the batch, nor on the batch's size.
    Used as ``solve(fidelity=fit, validation=check)``:
    cross-validation of the measurements (Ward, IEEE Trans. Inf. Theory 2009), which keeps
    the iterate that predicts the unseen measurements best — a stop rule that needs no truth
    and no noise level.

    ``block`` > 1 (for measurements that are images, ``y`` of shape ``(B, C, H, W)``) leaves
    out whole ``block × block`` squares, all channels, instead of single entries: the check
    then asks the estimate to fill a hole, as inpainting does, not to interpolate between
    known neighbours.
    """
    cells = holdout_cells(tuple(y.shape[1:]), fraction, block)
    if y.shape[0] % starts:
        raise ValueError(f"y holds {y.shape[0]} rows, not a whole number of images of {starts} starts each")
    per_image = math.prod(cells)
    n_out = min(per_image - 1, max(1, round(fraction * per_image)))
    rng = torch.Generator().manual_seed(seed)
    draws = torch.stack([torch.randperm(per_image, generator=rng) for _ in range(starts)])
    held = (draws < n_out).repeat(y.shape[0] // starts, 1).view(y.shape[0], *cells)
    if block > 1:
        held = held.repeat_interleave(block, 2).repeat_interleave(block, 3)[..., :y.shape[2], :y.shape[3]]
        held = held.expand_as(y)
    held = held.to(y.device)
    return Masked(fidelity, ~held), Masked(fidelity, held)
