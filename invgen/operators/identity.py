"""The identity (denoising)."""
from __future__ import annotations

from invgen.operators.base import LinearOperator, Shape


class Identity(LinearOperator):
    """``A = I`` on ``in_shape`` (denoising). ``Aᵀ = A⁺ = I``; with ``eps``, ``y/(1+eps)``."""

    def __init__(self, in_shape: Shape) -> None:
        super().__init__(in_shape, in_shape)

    def _matvec(self, x):
        return x

    def _rmatvec(self, y):
        return y

    def _pinv(self, y, eps):
        return y / (1.0 + eps)
