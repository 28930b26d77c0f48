"""Image-adaptive GAN reconstruction (Abu Hussein, Tirer and Giryes, AAAI 2020)."""
from __future__ import annotations

import torch

from invgen.generators.base import Generator, check_image_shape
from invgen.operators import LinearOperator
from invgen.priors.image_adaptive import ImageAdaptivePrior
from invgen.solvers.fidelity import holdout_block_for, holdout_split, squared_error
from invgen.solvers.loop import SolveResult, solve
from invgen.validation import check_settings


def iagan(
    A: LinearOperator,
    y: torch.Tensor,
    generator: Generator,
    z_init: torch.Tensor,
    steps: int = 500,
    lr_z: float = 1e-4,
    lr_theta: float = 1e-4,
    noise_std: float | None = None,
    *,
    patience: int | None = None,
    holdout: float | None = None,
    holdout_block: int | None = None,
    seed: int = 0,
    precision: torch.dtype | None = None,
    progress: bool = True,
) -> SolveResult:
    """Fine-tune ``z`` and a per-image copy of ``G``'s weights to ``y`` (paper eq. 4).

    Start from ``z_init`` (the CSGM latents, e.g. ``csgm(A, y, G).z``). The small
    learning rates and the early stop keep the prior's semantics while fitting ``y``:
    with noisy measurements (``noise_std`` > 0) the number of steps is halved, as in the
    paper, and each image also stops by the discrepancy principle (see :func:`solve`).
    ``generator`` is never modified.

    With ``holdout`` (a fraction, e.g. 0.1) that share of each image's measurements (drawn
    with ``seed``) is left out of the fit, and the iterate kept is the one that predicts them
    best — the start itself when adaptation only fits artefacts
    (:func:`~invgen.solvers.fidelity.holdout_split`); ``patience`` then counts steps without
    a gain on them; ``holdout_block`` > 1 leaves out squares of that size of image
    measurements (holes, as inpainting has) instead of single entries (``None``: chosen
    from ``A`` by :func:`~invgen.solvers.fidelity.holdout_block_for`). Back-project the
    result to use every measurement again. ``precision``: mixed precision (see :func:`solve`).

    Returns ``.x`` (adapted estimate), ``.z``, ``.objective`` and ``.history``; the adapted
    weights are not returned.
    """
    check_settings(steps=steps, lr_z=lr_z, lr_theta=lr_theta, noise_std=noise_std, patience=patience)
    check_image_shape(generator, A.in_shape)
    if noise_std:
        steps = max(1, steps // 2)
    if holdout_block is None:
        holdout_block = holdout_block_for(A)
    fit, check = holdout_split(y, holdout, seed, holdout_block) if holdout else (squared_error, None)
    prior = ImageAdaptivePrior(generator, z_init, lr_z=lr_z, lr_theta=lr_theta)
    return solve(A, y, prior, steps, fidelity=fit, validation=check, noise_std=noise_std, patience=patience,
                 precision=precision, progress=progress, desc="iagan")
