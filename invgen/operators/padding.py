"""Padding an image beyond its borders: the boundary condition of blur and super-resolution."""
from __future__ import annotations

from typing import Literal

import torch

from invgen.operators.base import LinearOperator, Shape
from invgen.operators.fourier import apply_half_symbol, as_complex, as_stored, correlation_spectrum

Boundary = Literal["circular", "reflect", "replicate", "zero"]
BOUNDARIES = ("circular", "reflect", "replicate", "zero")


def boundary_index(n: int, before: int, after: int, boundary: Boundary) -> tuple[torch.Tensor, torch.Tensor]:
    """Source pixel of every padded position along an axis of ``n`` pixels.

    Padded position ``t`` (``0 ≤ t < before + n + after``) shows pixel ``index[t]`` when
    ``valid[t]``, else 0. ``circular``: ``(t − before) mod n``; ``reflect``: mirrored about
    the edge pixels without repeating them (``x[−1] = x[1]``, as ``numpy.pad``'s
    ``"reflect"``), periodically for pads longer than the image; ``replicate``: the edge
    pixel (``numpy``'s ``"edge"``); ``zero``: 0 outside. Negative pads crop.
    """
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")
    i = torch.arange(-before, n + after)
    valid = torch.ones_like(i, dtype=torch.bool)
    if boundary == "circular":
        i = i % n
    elif boundary == "reflect":
        period = 2 * (n - 1)
        i = (i % period if period else torch.zeros_like(i))
        i = torch.where(i >= n, period - i, i)
    elif boundary == "replicate":
        i = i.clamp(0, n - 1)
    else:
        valid = (i >= 0) & (i < n)
        i = i.clamp(0, n - 1)
    return i, valid


class Pad(LinearOperator):
    """Extend each channel beyond its borders: ``(…, H, W) → (…, t + H + b, l + W + r)``
    with ``pads = (t, b, l, r)`` and the ``boundary`` of :func:`boundary_index`.

    Each padded pixel is one pixel of the image (or 0), so ``A = P_H ⊗ P_W`` with 0/1 row
    matrices ``P``: ``A x = P_H x P_Wᵀ`` is two gathers, and ``Aᵀ z = P_Hᵀ z P_W`` two
    scatter-adds that fold the border back onto the pixels it copied (for ``zero``, a crop).
    The pseudo-inverse is iterative (CG, see :class:`LinearOperator`).
    """

    def __init__(self, in_shape: Shape, pads: tuple[int, int, int, int], boundary: Boundary) -> None:
        *lead, h, w = in_shape
        t, b, l, r = pads
        super().__init__(in_shape, (*lead, t + h + b, l + w + r))
        if min(self.out_shape) < 1:
            raise ValueError(f"pads {pads} crop a {h}×{w} image to nothing")
        self.boundary = boundary
        rows, row_valid = boundary_index(h, t, b, boundary)
        cols, col_valid = boundary_index(w, l, r, boundary)
        self.register_buffer("rows", rows)
        self.register_buffer("cols", cols)
        self.register_buffer("row_valid", row_valid)
        self.register_buffer("col_valid", col_valid)

    def _matvec(self, x):
        z = x.index_select(-2, self.rows).index_select(-1, self.cols)
        if self.boundary == "zero":
            z = z * (self.row_valid[:, None] & self.col_valid[None, :])
        return z

    def _rmatvec(self, z):
        if self.boundary == "zero":
            z = z * (self.row_valid[:, None] & self.col_valid[None, :])
        h, w = self.in_shape[-2:]
        folded = z.new_zeros(*z.shape[:-1], w).index_add(-1, self.cols, z)
        return folded.new_zeros(*z.shape[:-2], h, w).index_add(-2, self.rows, folded)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, boundary={self.boundary!r}"




class ValidCorrelation(LinearOperator):
    """``z[n, m] = Σ_{i,j} k[i, j] x[s·n + i, s·m + j]`` on each channel, only where the
    window fits (no padding): ``(…, Hp, Wp) → (…, (Hp − kh) // s + 1, (Wp − kw) // s + 1)``.

    Computed by real FFTs on the ``Hp × Wp`` grid: the windows that fit never wrap around,
    so the circular correlation there is the plain one. ``Aᵀ`` places ``z`` back on the
    grid (zeros between the strided samples) and applies the conjugate symbol: every
    sample spreads ``k`` over the window it read. Composed after :class:`Pad`, it is a
    blur or a decimation with that boundary.
    """

    def __init__(self, in_shape: Shape, kernel: torch.Tensor, stride: int = 1) -> None:
        *lead, hp, wp = in_shape
        (kh, kw) = kernel.shape
        if kh > hp or kw > wp:
            raise ValueError(f"a {kh}×{kw} kernel does not fit in {hp}×{wp}")
        super().__init__(in_shape, (*lead, (hp - kh) // stride + 1, (wp - kw) // stride + 1))
        self.stride = stride
        self.register_buffer("symbol", as_stored(correlation_spectrum(kernel, (0, 0), (hp, wp))[:, : wp // 2 + 1]))

    def _samples(self) -> tuple[slice, slice]:
        (m, n), s = self.out_shape[-2:], self.stride
        return slice(0, (m - 1) * s + 1, s), slice(0, (n - 1) * s + 1, s)

    def _matvec(self, x):
        rows, cols = self._samples()
        return apply_half_symbol(x, as_complex(self.symbol, x.dtype))[..., rows, cols]

    def _rmatvec(self, z):
        rows, cols = self._samples()
        grid = z.new_zeros(*z.shape[:-2], *self.in_shape[-2:])
        grid[..., rows, cols] = z
        return apply_half_symbol(grid, as_complex(self.symbol, z.dtype).conj())

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, stride={self.stride}"




def circulant_preconditioner(power: torch.Tensor, eps: float) -> torch.Tensor:
    """``1/(P + eps + max P/100)``: the Fourier multiplier of the circular operator's
    ``(AAᵀ + eps)⁻¹`` (``P`` its symbol), which preconditions CG for the other boundaries.

    The floor keeps it from amplifying the border modes the circular model lacks: on a
    Gaussian blur (σ = 1.5, 64², reflect) it halves the CG steps at ``eps = 1e-3``, where
    the unfloored inverse stalls CG altogether.
    """
    return 1 / (power + eps + power.max() / 100)
