"""Back-projection (Tirer and Giryes 2019; IAGAN paper eq. 5): make an estimate agree with y."""
from __future__ import annotations

import torch

from invgen.forward import ForwardModel, forward_model
from invgen.operators import LinearOperator
from invgen.validation import check_settings, check_tensor


def back_project(problem: ForwardModel | LinearOperator, y: torch.Tensor, x: torch.Tensor,
                 eps: float | None = None) -> torch.Tensor:
    """``x_bp = x + A⁺(y − A x)`` with ``A⁺ = A.pinv(·, eps)``, for a batch ``x`` ``(B, *A.in_shape)``
    (:meth:`Estimates.back_project <invgen.solvers.Estimates.back_project>` back-projects each of
    the ``K`` estimates of image ``i`` onto ``y_i``).

    With ``eps = 0`` this is the orthogonal projection of ``x`` onto ``{x : A x = y}``, so
    ``A x_bp = y`` exactly (to the accuracy of ``A.pinv``) — what ``eps=None`` (the default)
    does for an operator or a noiseless forward model. For a noisy forward model ``eps=None``
    regularises each image with its own :func:`noise_adapted_eps`, ``Aᵀ(AAᵀ + ηI)⁻¹``, which
    corrects ``x`` less along directions ``A`` barely sees; a number sets η for every image.
    """
    model = forward_model(problem)
    A, y = model.A, model.check(y)
    _check_estimate(A, y, x)
    if eps is not None or model.noiseless:
        check_settings(eps=eps or 0.0)
        return x + A.pinv(y - A(x), eps=eps or 0.0)
    etas = noise_adapted_eps(model, y, x)
    return torch.cat([x[i : i + 1] + A.pinv(y[i : i + 1] - A(x[i : i + 1]), eps=float(etas[i]))
                      for i in range(len(y))])


def _check_estimate(A: LinearOperator, y: torch.Tensor, x: torch.Tensor) -> None:
    """``x`` is a batch ``(B, *A.in_shape)`` with one image per measurement of ``y``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"the estimate x must be a torch.Tensor (B, *A.in_shape), got {type(x).__name__}; "
                        "back-project Estimates with estimates.back_project(model, y)")
    check_tensor("the estimate x", x)
    if tuple(x.shape) != (y.shape[0], *A.in_shape):
        raise ValueError(f"the estimate x has shape {tuple(x.shape)} but y holds {y.shape[0]} measurement(s) "
                         f"of an operator on {A.in_shape}: expected x of shape {(y.shape[0], *A.in_shape)}")


def noise_adapted_eps(model: ForwardModel, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-image η, shape ``(B,)``, for the regularised ``x + Aᵀ(AAᵀ + ηI)⁻¹(y − Ax)``.

    A scalar Wiener choice: with residual ``r = y − Ax`` holding an expected noise energy
    ``e`` (``model.noise.energy(y)``: ``mσ²`` for Gaussian noise),
    ``η = e / (‖r‖² − e)`` — large when the residual is mostly noise (little correction),
    0 for noiseless ``y`` (exact BP).
    """
    if model.noiseless:
        return torch.zeros(y.shape[0])
    r2 = (y - model.A(x)).flatten(1).pow(2).sum(1)
    noise = model.noise.energy(y)
    return noise / (r2 - noise).clamp_min(1e-3 * noise)
