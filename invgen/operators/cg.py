"""Batched conjugate gradients for symmetric positive (semi-)definite operators."""
from __future__ import annotations

from collections.abc import Callable

import torch


def conjugate_gradient(
    apply: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, tol: float = 1e-8, max_iter: int = 1000
) -> torch.Tensor:
    """Solve ``M u = b`` for each item of the batch ``b`` (first dimension), ``M = apply``.

    Stops when every item has ``‖b − M u‖ ≤ tol·‖b‖`` or after ``max_iter`` steps. Each
    item has its own step sizes, so the items stay independent systems.
    """
    def dot(a, c):
        return (a * c).flatten(1).sum(1).view(-1, *([1] * (a.dim() - 1)))

    u = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rr = dot(r, r)
    target = (tol**2) * rr
    for _ in range(max_iter):
        if bool((rr <= target).all()):
            break
        mp = apply(p)
        alpha = rr / dot(p, mp).clamp_min(torch.finfo(b.dtype).tiny)
        u = u + alpha * p
        r = r - alpha * mp
        rr_new = dot(r, r)
        p = r + (rr_new / rr.clamp_min(torch.finfo(b.dtype).tiny)) * p
        rr = rr_new
    return u
