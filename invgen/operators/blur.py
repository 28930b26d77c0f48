"""Blur (deblurring), with a circular, reflecting, replicating or zero boundary."""
from __future__ import annotations

import math

import torch

from invgen.operators.base import LinearOperator, Shape, singular_threshold
from invgen.operators.cg import min_norm_solve
from invgen.operators.fourier import (
    apply_half_symbol,
    as_complex,
    as_stored,
    correlation_spectrum,
)
from invgen.operators.padding import Boundary, Pad, ValidCorrelation, circulant_preconditioner


class Blur(LinearOperator):
    """``A x = k ⋆ x``: each channel correlated with the 2-D ``kernel``, the kernel's
    centre tap — index ``(kh // 2, kw // 2)`` — on the pixel: ``(Ax)[n, m] = Σ_{i,j}
    k[i, j] x[n + i − kh//2, m + j − kw//2]``. ``in_shape = out_shape = (C, H, W)``.
    ``boundary`` says what ``x`` is beyond the image (see
    :func:`invgen.operators.padding.boundary_index`): ``"circular"`` (periodic, the
    default), ``"reflect"`` (mirrored about the edge pixels), ``"replicate"`` (the edge
    pixel) or ``"zero"``.

    Circular: ``A`` is diagonalised by the 2-D DFT with symbol ``Ĥ`` (its singular values
    are ``|Ĥ|``), computed by real FFTs; ``Aᵀ`` multiplies by ``conj(Ĥ)``, and the
    pseudo-inverse is exact and closed form. With ``eps = 0``, ``A⁺ y = F⁻¹[F y / Ĥ]`` on
    the frequencies where ``|Ĥ| > singular_threshold(dtype)·max|Ĥ|`` and 0 on the others
    (the numerical null space, as ``numpy.linalg.pinv`` with that ``rcond``). With
    ``eps > 0``, ``Aᵀ(AAᵀ + eps)⁻¹ y = F⁻¹[conj(Ĥ)/(|Ĥ|² + eps) · F y]`` on every frequency.

    Other boundaries: ``A = K P`` with ``P`` the :class:`~invgen.operators.padding.Pad`
    of the kernel's reach and ``K`` the
    :class:`~invgen.operators.padding.ValidCorrelation` of the padded image (FFTs on the
    padded grid); ``Aᵀ = Pᵀ Kᵀ``, whose ``Pᵀ`` folds the border back onto the pixels it
    copied. No transform diagonalises ``A``, so the pseudo-inverse is iterative
    (:func:`~invgen.operators.cg.min_norm_solve`, at most ``cg_max_iter`` steps of
    tolerance ``cg_tol``): for ``eps > 0``, ``Aᵀu`` with ``(AAᵀ + eps)u = y``,
    preconditioned by the circular blur's closed-form ``(AAᵀ + eps)⁻¹``
    (:func:`~invgen.operators.padding.circulant_preconditioner`); for ``eps = 0``, plain
    CG on the normal equations (the minimum-norm solution even when the blur loses
    frequencies, as a box blur does). With ``eps = 0`` and a strong blur the system is
    so ill-conditioned that CG stops at the step limit (a relative residual
    ``‖Aᵀ(y − A A⁺y)‖`` of about 2e-2 for σ = 1.5 at 64², 2–5 s on one core): prefer
    ``eps > 0``.
    """

    def __init__(self, in_shape: Shape, kernel: torch.Tensor, boundary: Boundary = "circular") -> None:
        super().__init__(in_shape, in_shape)
        kernel = torch.as_tensor(kernel, dtype=torch.float64)
        if kernel.dim() != 2:
            raise ValueError(f"kernel must be 2-D (kh, kw), got shape {tuple(kernel.shape)}")
        self.register_buffer("kernel", kernel)
        (kh, kw), (oh, ow) = kernel.shape, (kernel.shape[0] // 2, kernel.shape[1] // 2)
        self.boundary = boundary
        if boundary != "circular":
            pad = Pad(self.in_shape, (oh, kh - 1 - oh, ow, kw - 1 - ow), boundary)
            self.padded = ValidCorrelation(pad.out_shape, kernel) @ pad
        w = self.in_shape[-1]
        half = correlation_spectrum(kernel, (oh, ow), self.in_shape[-2:])[:, : w // 2 + 1]
        self.register_buffer("symbol", as_stored(half))  # the rfft2 half of Ĥ (circular)

    @classmethod
    def gaussian(cls, in_shape: Shape, sigma: float, size: int | None = None, boundary: Boundary = "circular") -> Blur:
        """Isotropic Gaussian of std ``sigma`` pixels, ``size`` taps (default ``2⌈3σ⌉+1``), sum 1."""
        if sigma <= 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        size = size or 2 * math.ceil(3 * sigma) + 1
        t = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
        g = torch.exp(-(t**2) / (2 * sigma**2))
        k = torch.outer(g, g)
        return cls(in_shape, k / k.sum(), boundary)

    @classmethod
    def box(cls, in_shape: Shape, size: int, boundary: Boundary = "circular") -> Blur:
        """Uniform ``size × size`` average."""
        if size < 1:
            raise ValueError(f"size must be ≥ 1, got {size}")
        return cls(in_shape, torch.full((size, size), 1.0 / size**2, dtype=torch.float64), boundary)

    @classmethod
    def motion(cls, in_shape: Shape, length: int, angle: float = 0.0, boundary: Boundary = "circular") -> Blur:
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
        return cls(in_shape, k / k.sum(), boundary)

    def _matvec(self, x):
        if self.boundary != "circular":
            return self.padded._matvec(x)
        return apply_half_symbol(x, as_complex(self.symbol, x.dtype))

    def _rmatvec(self, y):
        if self.boundary != "circular":
            return self.padded._rmatvec(y)
        return apply_half_symbol(y, as_complex(self.symbol, y.dtype).conj())

    @property
    def closed_form_pinv(self) -> bool:
        return self.boundary == "circular"

    def _pinv(self, y, eps):
        h = as_complex(self.symbol, y.dtype)
        if self.boundary != "circular":
            # The circular blur differs from this one only near the borders: its
            # (AAᵀ + eps)⁻¹, one FFT, cuts the CG steps.
            inverse = circulant_preconditioner(h.abs() ** 2, eps)
            return min_norm_solve(self._matvec, self._rmatvec, y, eps, lambda r: apply_half_symbol(r, inverse),
                                  self.cg_tol, self.cg_max_iter)
        if eps > 0:
            return apply_half_symbol(y, h.conj() / (h.abs() ** 2 + eps))
        keep = h.abs() > singular_threshold(y.dtype) * h.abs().max()
        return apply_half_symbol(y, torch.where(keep, 1 / torch.where(keep, h, 1), 0))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, kernel={tuple(self.kernel.shape)}, boundary={self.boundary!r}"
