"""Circular blur (deblurring)."""
from __future__ import annotations

import math

import torch

from invgen.operators.base import LinearOperator, Shape, singular_threshold
from invgen.operators.fourier import (
    apply_half_symbol,
    as_complex,
    as_stored,
    correlation_spectrum,
)


class Blur(LinearOperator):
    """``A x = k ⋆ x``: each channel correlated with the 2-D ``kernel`` (circular
    boundary, the kernel's centre tap — index ``(kh // 2, kw // 2)`` — on the pixel),
    computed by real FFTs. ``in_shape = out_shape = (C, H, W)``.

    ``A`` is diagonalised by the 2-D DFT with symbol ``Ĥ`` (its singular values are
    ``|Ĥ|``): ``Aᵀ`` multiplies by ``conj(Ĥ)``, and the pseudo-inverse is exact and closed
    form. With ``eps = 0``, ``A⁺ y = F⁻¹[F y / Ĥ]`` on the frequencies where
    ``|Ĥ| > singular_threshold(dtype)·max|Ĥ|`` and 0 on the others (the numerical null
    space, as ``numpy.linalg.pinv`` with that ``rcond``). With ``eps > 0``,
    ``Aᵀ(AAᵀ + eps)⁻¹ y = F⁻¹[conj(Ĥ)/(|Ĥ|² + eps) · F y]`` on every frequency.
    """

    def __init__(self, in_shape: Shape, kernel: torch.Tensor) -> None:
        super().__init__(in_shape, in_shape)
        kernel = torch.as_tensor(kernel, dtype=torch.float64)
        if kernel.dim() != 2:
            raise ValueError(f"kernel must be 2-D (kh, kw), got shape {tuple(kernel.shape)}")
        self.register_buffer("kernel", kernel)
        origin = (kernel.shape[0] // 2, kernel.shape[1] // 2)
        w = self.in_shape[-1]
        half = correlation_spectrum(kernel, origin, self.in_shape[-2:])[:, : w // 2 + 1]
        self.register_buffer("symbol", as_stored(half))  # the rfft2 half of Ĥ

    @classmethod
    def gaussian(cls, in_shape: Shape, sigma: float, size: int | None = None) -> Blur:
        """Isotropic Gaussian of std ``sigma`` pixels, ``size`` taps (default ``2⌈3σ⌉+1``), sum 1."""
        if sigma <= 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        size = size or 2 * math.ceil(3 * sigma) + 1
        t = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
        g = torch.exp(-(t**2) / (2 * sigma**2))
        k = torch.outer(g, g)
        return cls(in_shape, k / k.sum())

    @classmethod
    def box(cls, in_shape: Shape, size: int) -> Blur:
        """Uniform ``size × size`` average."""
        if size < 1:
            raise ValueError(f"size must be ≥ 1, got {size}")
        return cls(in_shape, torch.full((size, size), 1.0 / size**2, dtype=torch.float64))

    @classmethod
    def motion(cls, in_shape: Shape, length: int, angle: float = 0.0) -> Blur:
        """Linear motion of ``length`` pixels at ``angle`` degrees (0 = horizontal), sum 1.

        The line is sampled at ``4·length`` points and splatted bilinearly onto the grid.
        """
        if length < 1:
            raise ValueError(f"length must be ≥ 1, got {length}")
        size = length + 2 + (length % 2 == 0)  # odd, so the line is centred on a pixel
        k = torch.zeros(size, size, dtype=torch.float64)
        c = (size - 1) / 2
        theta = math.radians(angle)
        for s in torch.linspace(-(length - 1) / 2, (length - 1) / 2, 4 * length).tolist():
            r, q = c - s * math.sin(theta), c + s * math.cos(theta)
            r0, q0 = math.floor(r), math.floor(q)
            for dr, dq in ((0, 0), (0, 1), (1, 0), (1, 1)):
                weight = (1 - abs(r - r0 - dr)) * (1 - abs(q - q0 - dq))
                if 0 <= r0 + dr < size and 0 <= q0 + dq < size:
                    k[r0 + dr, q0 + dq] += weight
        return cls(in_shape, k / k.sum())

    def _matvec(self, x):
        return apply_half_symbol(x, as_complex(self.symbol, x.dtype))

    def _rmatvec(self, y):
        return apply_half_symbol(y, as_complex(self.symbol, y.dtype).conj())

    def _pinv(self, y, eps):
        h = as_complex(self.symbol, y.dtype)
        if eps > 0:
            return apply_half_symbol(y, h.conj() / (h.abs() ** 2 + eps))
        keep = h.abs() > singular_threshold(y.dtype) * h.abs().max()
        return apply_half_symbol(y, torch.where(keep, 1 / torch.where(keep, h, 1), 0))
