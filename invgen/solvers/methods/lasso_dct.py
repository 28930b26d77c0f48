"""Lasso-DCT, the classic compressed-sensing baseline: sparsity in the 2-D DCT, by FISTA."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pylops
import torch

from invgen.operators import LinearOperator, to_pylops
from invgen.progress import progress_bar
from invgen.solvers.methods.base import Method, Problem, setting
from invgen.validation import count, positive


@dataclass(frozen=True)
class LassoDCTSettings:
    """λ as a fraction of ``‖(A Dᵀ)ᵀ y‖∞``, above which ``c = 0`` is optimal (a fixed rule,
    not tuned on the faces), and the number of FISTA iterations."""

    lasso_lambda: float = setting(0.01, "Lasso-DCT's λ as a fraction of ‖(A Dᵀ)ᵀy‖∞ (where c = 0 becomes optimal)",
                                  positive)
    lasso_iterations: int = setting(200, "Lasso-DCT's FISTA iterations", count)


def lasso_dct(
    A: LinearOperator, y: torch.Tensor, lambda_fraction: float, iterations: int, progress: bool = True,
) -> torch.Tensor:
    """``x̂_i = Dᵀ ĉ_i``, ``ĉ_i = argmin_c ½‖y_i − A Dᵀc‖² + λ_i‖c‖₁`` with ``D`` the orthonormal
    2-D DCT of each channel and ``λ_i = lambda_fraction·‖(A Dᵀ)ᵀ y_i‖∞``, by PyLops' FISTA
    in float64 on the CPU, one image after another (``progress``: one tick per image);
    ``(B, *A.in_shape)``, clipped to [0, 1]."""
    c, h, w = A.in_shape
    idct = pylops.signalprocessing.DCT(dims=(c, h, w), axes=(1, 2), dtype="float64").H
    op = to_pylops(A) @ idct
    estimates = []
    for y_i in progress_bar(list(y.detach().cpu().double().numpy()), "lasso-dct", progress):
        y_i = y_i.ravel()
        lam = lambda_fraction * np.abs(op.H @ y_i).max()
        coeffs = pylops.optimization.sparsity.fista(op, y_i, niter=iterations, eps=lam, show=False)[0]
        estimates.append(torch.from_numpy((idct @ coeffs).reshape(c, h, w)))
    return torch.stack(estimates).to(y).clamp(0, 1)


def _estimates(problem: Problem, settings: LassoDCTSettings) -> torch.Tensor:
    return lasso_dct(problem.A, problem.y, settings.lasso_lambda, settings.lasso_iterations, problem.progress)


LASSO_DCT = Method("lasso-dct", _estimates, LassoDCTSettings,
                   "Lasso in the 2-D DCT by FISTA, the classic compressed-sensing baseline")
