"""Back-projection (Tirer and Giryes 2019; IAGAN paper eq. 5): make an estimate agree with y."""
from __future__ import annotations

import torch

from invgen.operators import LinearOperator
from invgen.solvers.loop import check_measurement


def back_project(A: LinearOperator, y: torch.Tensor, x: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """``x_bp = x + A⁺(y − A x)`` with ``A⁺ = A.pinv(·, eps)``.

    With ``eps = 0`` this is the orthogonal projection of ``x`` onto ``{x : A x = y}``, so
    ``A x_bp = y`` exactly (to the accuracy of ``A.pinv``). For noisy ``y`` use ``eps > 0``,
    ``Aᵀ(AAᵀ + eps·I)⁻¹``, which corrects ``x`` less along directions ``A`` barely sees.
    """
    check_measurement(A, y)
    return x + A.pinv(y - A(x), eps=eps)
