"""The classic baselines: bicubic interpolation (super-resolution), the pseudo-inverse, and
Lasso in the 2-D DCT (compressed sensing), each one estimate per image."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pylops
import torch
import torch.nn.functional as F

from invgen.forward import ForwardModel, forward_model
from invgen.operators import LinearOperator, SuperResolution, to_pylops
from invgen.progress import progress_bar
from invgen.solvers.estimates import Estimates
from invgen.solvers.method import Method, Problem
from invgen.solvers.registry import register
from invgen.solvers.settings import NoSettings, Settings, setting
from invgen.validation import count, positive


def bicubic_upsample(problem: ForwardModel | LinearOperator, y: torch.Tensor) -> torch.Tensor:
    """Bicubic interpolation of the low-resolution images ``y`` ``(B, C, h, w)`` to
    ``(B, C, F·h, F·w)``, clipped to [0, 1]; ``problem``: a forward model (or an operator) of
    super-resolution ×F only."""
    model = forward_model(problem)
    if not isinstance(model.A, SuperResolution):
        raise ValueError(f"the bicubic baseline applies to super-resolution only, not to {type(model.A).__name__}")
    return F.interpolate(model.check(y), scale_factor=model.A.factor, mode="bicubic", align_corners=False).clamp(0, 1)


@dataclass(frozen=True)
class LassoDCTSettings(Settings):
    """λ as a fraction of ``‖(A Dᵀ)ᵀ y‖∞``, above which ``c = 0`` is optimal (a fixed rule,
    not tuned on the faces), and the number of FISTA iterations."""

    lambda_fraction: float = setting(0.01, "λ as a fraction of ‖(A Dᵀ)ᵀy‖∞ (where c = 0 becomes optimal)",
                                     positive)
    iterations: int = setting(200, "FISTA iterations", count)


def lasso_dct(
    problem: ForwardModel | LinearOperator, y: torch.Tensor, settings: LassoDCTSettings = LassoDCTSettings(),
    progress: bool = True,
) -> torch.Tensor:
    """``x̂_i = Dᵀ ĉ_i``, ``ĉ_i = argmin_c ½‖y_i − A Dᵀc‖² + λ_i‖c‖₁`` with ``A`` the forward
    model's operator (``problem``: a forward model, or an operator), ``D`` the orthonormal
    2-D DCT of each channel and ``λ_i = settings.lambda_fraction·‖(A Dᵀ)ᵀ y_i‖∞``, by PyLops'
    FISTA in float64 on the CPU, one image after another (``progress``: one tick per image);
    ``(B, *A.in_shape)``, clipped to [0, 1]. A least-squares fit whatever the noise."""
    model = forward_model(problem)
    A, y = model.A, model.check(y)
    c, h, w = A.in_shape
    idct = pylops.signalprocessing.DCT(dims=(c, h, w), axes=(1, 2), dtype="float64").H
    op = to_pylops(A) @ idct
    estimates = []
    for y_i in progress_bar(list(y.detach().cpu().double().numpy()), "lasso-dct", progress):
        y_i = y_i.ravel()
        lam = settings.lambda_fraction * np.abs(op.H @ y_i).max()
        coeffs = pylops.optimization.sparsity.fista(op, y_i, niter=settings.iterations, eps=lam, show=False)[0]
        estimates.append(torch.from_numpy((idct @ coeffs).reshape(c, h, w)))
    return torch.stack(estimates).to(y).clamp(0, 1)


def _bicubic(problem: Problem, settings: NoSettings) -> Estimates:
    return Estimates.single(bicubic_upsample(problem.model, problem.y))


def _pinv(problem: Problem, settings: NoSettings) -> Estimates:
    return Estimates.single(problem.A.pinv(problem.y).clamp(0, 1))


def _lasso_dct(problem: Problem, settings: LassoDCTSettings) -> Estimates:
    return Estimates.single(lasso_dct(problem.model, problem.y, settings, problem.progress))


BICUBIC = register(Method("bicubic", _bicubic, summary="bicubic interpolation of y (super-resolution only)",
                          back_projectable=False))
PINV = register(Method("pinv", _pinv, summary="A⁺y, the minimum-norm image that explains y", back_projectable=False))
LASSO_DCT = register(Method("lasso-dct", _lasso_dct, LassoDCTSettings,
                            summary="Lasso in the 2-D DCT by FISTA, the classic compressed-sensing baseline"))
