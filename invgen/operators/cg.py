"""Batched conjugate gradients for symmetric positive (semi-)definite operators."""
from __future__ import annotations

from collections.abc import Callable

import torch


def conjugate_gradient(
    apply: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, tol: float = 1e-8, max_iter: int = 1000
) -> torch.Tensor:
    """Solve ``M u = b`` for each item of the batch ``b`` (first dimension), ``M = apply``.

    Each item has its own step sizes, so the items stay independent systems, and stops on
    its own: when ``‖b − M u‖ ≤ max(tol, 100·eps(dtype))·‖b‖`` (a float32 solve cannot
    go much below 1e-5), or when the search direction has no positive curvature left
    (rounding has pushed it into the null space of a semi-definite ``M``). At most
    ``max_iter`` steps.
    """
    def dot(a, c):
        return (a * c).flatten(1).sum(1).view(-1, *([1] * (a.dim() - 1)))

    tol = max(tol, 100 * torch.finfo(b.dtype).eps)
    u = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rr = dot(r, r)
    target = (tol**2) * rr
    active = rr > target
    for _ in range(max_iter):
        if not bool(active.any()):
            break
        mp = apply(p)
        curvature = dot(p, mp)
        active = active & (curvature > 0)
        alpha = torch.where(active, rr / torch.where(active, curvature, 1), 0)
        u = u + alpha * p
        r = r - alpha * mp
        rr_new = dot(r, r)
        beta = torch.where(active, rr_new / torch.where(active, rr, 1), 0)
        p = r + beta * p
        rr = rr_new
        active = active & (rr > target)
    return u
