"""Deep Image Prior reconstruction (Ulyanov, Vedaldi and Lempitsky, CVPR 2018)."""
from __future__ import annotations

import torch

from invgen.operators import LinearOperator
from invgen.priors.deep_image_prior import DeepImagePrior
from invgen.solvers.loop import SolveResult, check_measurement, solve
from invgen.validation import check_settings


def dip(
    A: LinearOperator,
    y: torch.Tensor,
    steps: int = 2000,
    lr: float = 0.01,
    seed: int = 0,
    noise_std: float | None = None,
    *,
    patience: int | None = None,
    progress: bool = True,
) -> SolveResult:
    """Fit an untrained encoder-decoder (one per image, same seeded start) to ``y``.

    DIP overfits noise if run too long; with ``noise_std`` given each image stops by the
    discrepancy principle (see :func:`solve`). ``lr`` 0.01 with Adam is the paper's.
    """
    check_measurement(A, y)
    check_settings(steps=steps, lr=lr, noise_std=noise_std, patience=patience)
    prior = DeepImagePrior(A.in_shape, y.shape[0], lr=lr, seed=seed, device=y.device)
    return solve(A, y, prior, steps, noise_std=noise_std, patience=patience, progress=progress, desc="dip")
