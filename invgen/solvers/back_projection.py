"""Back-projection (Tirer and Giryes 2019; IAGAN paper eq. 5): make an estimate agree with y."""
from __future__ import annotations

import torch

from invgen.operators import LinearOperator
from invgen.solvers.loop import check_measurement
from invgen.validation import check_settings, check_tensor


def back_project(A: LinearOperator, y: torch.Tensor, x: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """``x_bp = x + A⁺(y − A x)`` with ``A⁺ = A.pinv(·, eps)``.

    With ``eps = 0`` this is the orthogonal projection of ``x`` onto ``{x : A x = y}``, so
    ``A x_bp = y`` exactly (to the accuracy of ``A.pinv``). For noisy ``y`` use ``eps > 0``,
    ``Aᵀ(AAᵀ + eps·I)⁻¹``, which corrects ``x`` less along directions ``A`` barely sees.
    """
    check_measurement(A, y)
    _check_estimate(A, y, x)
    return x + A.pinv(y - A(x), eps=eps)


def _check_estimate(A: LinearOperator, y: torch.Tensor, x: torch.Tensor) -> None:
    """``x`` is a batch ``(B, *A.in_shape)`` with one image per measurement of ``y``."""
    check_tensor("the estimate x", x)
    if tuple(x.shape) != (y.shape[0], *A.in_shape):
        raise ValueError(f"the estimate x has shape {tuple(x.shape)} but y holds {y.shape[0]} measurement(s) "
                         f"of an operator on {A.in_shape}: expected x of shape {(y.shape[0], *A.in_shape)}")


def noise_adapted_eps(A: LinearOperator, y: torch.Tensor, x: torch.Tensor, noise_std: float) -> torch.Tensor:
    """Per-image η, shape ``(B,)``, for the regularised ``x + Aᵀ(AAᵀ + ηI)⁻¹(y − Ax)``.

    A scalar Wiener choice: with residual ``r = y − Ax`` of ``m`` entries, of which
    ``mσ²`` is expected noise energy, ``η = mσ² / (‖r‖² − mσ²)`` — large when the
    residual is mostly noise (little correction), 0 for noiseless ``y`` (exact BP).
    """
    check_settings(noise_std=noise_std)
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
    check_settings(noise_std=noise_std)
    if noise_std == 0:
        return back_project(A, y, x)
    check_measurement(A, y)
    _check_estimate(A, y, x)
    eps = noise_adapted_eps(A, y, x, noise_std)
    return torch.cat([back_project(A, y[i : i + 1], x[i : i + 1], eps=float(eps[i])) for i in range(len(y))])
