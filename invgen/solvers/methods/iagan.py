"""IAGAN as a method: fine-tune z and the generator's weights from each CSGM start."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from invgen.operators import LinearOperator
from invgen.solvers.fidelity import holdout_block_for, holdout_cells
from invgen.solvers.iagan import iagan
from invgen.solvers.methods.base import Method, Problem, setting
from invgen.solvers.methods.csgm import search
from invgen.validation import PRECISIONS, count, fraction, positive, precision, whole


@dataclass(frozen=True)
class IAGANSettings:
    """Adam on z (``lr_z``) and a private copy of θ per image (``lr_theta``) for
    ``iagan_steps`` steps, from the latents of the CSGM search (each start of it when the
    starts are averaged); halved under noise, as in the paper.

    ``iagan_holdout``: for noiseless ``y``, the share of each image's measurements left out
    of the fit; the iterate kept is the one that predicts them best, so IAGAN stops where
    adapting only fits artefacts (0: fit all, keep the smallest objective, as the paper).
    With a noise level the discrepancy principle stops IAGAN instead: held-out errors are
    then mostly noise (on the tuning faces the holdout cost 0.2 dB at ×4, σ = 10/255).
    ``iagan_holdout_block``: leave out squares of that size instead of single entries; 0:
    chosen from the operator (:func:`~invgen.solvers.fidelity.holdout_block_for`: for a
    mask the side of its largest square hole, at most 8; otherwise single entries).
    ``iagan_precision``: mixed precision for the generator.
    The defaults were chosen on the tuning faces (``benchmarks/holdout_study.py``)."""

    iagan_steps: int = setting(100, "IAGAN's steps; halved with noise", count)
    lr_z: float = setting(1e-4, "IAGAN's lr for z", positive)
    lr_theta: float = setting(1e-4, "IAGAN's lr for θ", positive)
    iagan_holdout: float = setting(0.2, "share of each image's measurements IAGAN leaves out and keeps the iterate "
                                        "that predicts them best (noiseless y only; 0: fit all, keep the smallest "
                                        "objective)", fraction)
    iagan_holdout_block: int = setting(0, "size of the squares IAGAN leaves out of image measurements (1: single "
                                          "entries; 0: from the operator, for a mask the side of its largest "
                                          "square hole, at most 8)", whole)
    iagan_precision: str = setting("float32", "the generator's arithmetic in IAGAN: float32, or mixed bfloat16 or "
                                              "float16", precision)


def _estimates(problem: Problem, settings: IAGANSettings) -> torch.Tensor:
    start = problem.once(search)
    y = problem.y.repeat_interleave(len(start.x) // len(problem.y), dim=0)
    return iagan(problem.A, y, problem.generator, start.z, steps=settings.iagan_steps, lr_z=settings.lr_z,
                 lr_theta=settings.lr_theta, noise_std=problem.noise_std or None,
                 holdout=None if problem.noise_std else settings.iagan_holdout or None,
                 holdout_block=settings.iagan_holdout_block or None, seed=problem.seed,
                 precision=PRECISIONS[settings.iagan_precision], progress=problem.progress).x


def _check(A: LinearOperator, settings: IAGANSettings) -> None:
    if settings.iagan_holdout:
        holdout_cells(tuple(A.out_shape), settings.iagan_holdout,
                      settings.iagan_holdout_block or holdout_block_for(A))


IAGAN = Method("iagan", _estimates, IAGANSettings,
               "image-adaptive GAN: fit z and the generator's weights to y from CSGM's starts (Abu Hussein et al. 2020)",
               needs_generator=True, check=_check)
