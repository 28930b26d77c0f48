"""The classic baselines: bicubic interpolation (super-resolution) and the pseudo-inverse."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from invgen.operators import LinearOperator, SuperResolution
from invgen.solvers.methods.base import Method, NoSettings, Problem


def bicubic_upsample(A: LinearOperator, y: torch.Tensor) -> torch.Tensor:
    """Bicubic interpolation of the low-resolution images ``y`` ``(B, C, h, w)`` to
    ``(B, C, F·h, F·w)``, clipped to [0, 1]; super-resolution ×F only."""
    if not isinstance(A, SuperResolution):
        raise ValueError("the bicubic baseline applies to super-resolution tasks only")
    return F.interpolate(y, scale_factor=A.factor, mode="bicubic", align_corners=False).clamp(0, 1)


def _bicubic(problem: Problem, settings: NoSettings) -> torch.Tensor:
    return bicubic_upsample(problem.A, problem.y)


def _pinv(problem: Problem, settings: NoSettings) -> torch.Tensor:
    return problem.A.pinv(problem.y).clamp(0, 1)


BICUBIC = Method("bicubic", _bicubic, summary="bicubic interpolation of y (super-resolution only)",
                 back_projectable=False)
PINV = Method("pinv", _pinv, summary="A⁺y, the minimum-norm image that explains y", back_projectable=False)
