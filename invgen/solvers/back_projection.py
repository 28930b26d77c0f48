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


def noise_adapted_eps(A: LinearOperator, y: torch.Tensor, x: torch.Tensor, noise_std: float) -> torch.Tensor:
    """Per-image η, shape ``(B,)``, for the regularised ``x + Aᵀ(AAᵀ + ηI)⁻¹(y − Ax)``.

    A scalar Wiener choice: with residual ``r = y − Ax`` of ``m`` entries, of which
    ``mσ²`` is expected noise energy, ``η = mσ² / (‖r‖² − mσ²)`` — large when the
    residual is mostly noise (little correction), 0 for noiseless ``y`` (exact BP).
    """
    if noise_std == 0:
        return torch.zeros(y.shape[0])
    r2 = (y - A(x)).flatten(1).pow(2).sum(1)
    noise = y[0].numel() * noise_std**2
    return noise / (r2 - noise).clamp_min(1e-3 * noise)


def back_project_noisy(A: LinearOperator, y: torch.Tensor, x: torch.Tensor, noise_std: float) -> torch.Tensor:
    """:func:`back_project` of each image with its own :func:`noise_adapted_eps`.

    ``noise_std = 0`` gives the exact projection (one batched call); otherwise one
    regularised pseudo-inverse per image, since ``A.pinv`` takes a scalar η.
    """
    if noise_std == 0:
        return back_project(A, y, x)
    eps = noise_adapted_eps(A, y, x, noise_std)
    return torch.cat([back_project(A, y[i : i + 1], x[i : i + 1], eps=float(eps[i])) for i in range(len(y))])
