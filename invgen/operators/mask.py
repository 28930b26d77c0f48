"""Pixel masks (inpainting)."""
from __future__ import annotations

import torch

from invgen.operators.base import LinearOperator, Shape


class Mask(LinearOperator):
    """Keep the pixels where ``mask`` is 1, zero the rest (inpainting).

    ``A x = m ⊙ x`` with a binary ``m`` of shape ``in_shape`` or ``(H, W)`` (shared by the
    channels); ``out_shape = in_shape`` (missing pixels read 0). ``A`` is an orthogonal
    projection, so ``Aᵀ = A⁺ = A``, and ``Aᵀ(AAᵀ + eps)⁻¹ = A/(1 + eps)``.
    """

    def __init__(self, in_shape: Shape, mask: torch.Tensor) -> None:
        super().__init__(in_shape, in_shape)
        mask = torch.as_tensor(mask)
        if tuple(mask.shape) not in (self.in_shape, self.in_shape[-2:]):
            raise ValueError(f"mask must have shape {self.in_shape} or {self.in_shape[-2:]}, got {tuple(mask.shape)}")
        if not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError("mask must be binary (0 = missing, 1 = observed)")
        self.register_buffer("mask", mask.to(torch.get_default_dtype()).expand(self.in_shape).clone())

    @classmethod
    def random(cls, in_shape: Shape, keep: float, seed: int = 0) -> Mask:
        """Observe each pixel (all channels together) with probability ``keep``."""
        if not 0 <= keep <= 1:
            raise ValueError(f"keep must lie in [0, 1], got {keep}")
        gen = torch.Generator().manual_seed(seed)
        return cls(in_shape, (torch.rand(tuple(in_shape)[-2:], generator=gen) < keep).float())

    @classmethod
    def box(cls, in_shape: Shape, top: int, left: int, height: int, width: int) -> Mask:
        """A missing ``height × width`` rectangle with top-left corner ``(top, left)``."""
        h, w = tuple(in_shape)[-2:]
        if not (0 <= top and 0 <= left and height > 0 and width > 0 and top + height <= h and left + width <= w):
            raise ValueError(f"box (top={top}, left={left}, {height}×{width}) does not fit in a {h}×{w} image")
        mask = torch.ones(h, w)
        mask[top : top + height, left : left + width] = 0
        return cls(in_shape, mask)

    @property
    def largest_hole(self) -> int:
        """The side of the largest square of pixels missing in every channel (0: none).

        A square of side ``s`` fits where an ``s × s`` window of the missing-pixel map sums
        to ``s²`` (integral image); the side is found by bisection, since every smaller
        square fits where a larger one does."""
        missing = (self.mask == 0).flatten(0, -3).all(0).int()
        integral = torch.nn.functional.pad(missing.cumsum(0).cumsum(1), (1, 0, 1, 0))

        def fits(s: int) -> bool:
            window = integral[s:, s:] - integral[:-s, s:] - integral[s:, :-s] + integral[:-s, :-s]
            return bool((window == s * s).any())

        lo, hi = 0, min(missing.shape)  # fits(lo) (or lo = 0); hi is an upper bound
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
        return lo

    def _matvec(self, x):
        return x * self.mask.to(x.dtype)

    def _rmatvec(self, y):
        return y * self.mask.to(y.dtype)

    def _pinv(self, y, eps):
        return y * self.mask.to(y.dtype) / (1.0 + eps)
