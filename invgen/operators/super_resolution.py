"""Super-resolution: anti-aliasing filter, then decimation, with a closed-form pseudo-inverse."""
from __future__ import annotations

import math

import torch

from invgen.operators.base import LinearOperator, Shape, singular_threshold
from invgen.operators.cg import min_norm_solve
from invgen.operators.fourier import as_complex, as_stored, correlation_spectrum
from invgen.operators.padding import Boundary, Pad, ValidCorrelation, circulant_preconditioner


def keys_cubic(t: torch.Tensor, a: float = -0.5) -> torch.Tensor:
    """Keys' cubic convolution kernel (Keys 1981), ``a = −0.5`` for bicubic."""
    t = t.abs()
    near = (a + 2) * t**3 - (a + 3) * t**2 + 1
    far = a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a
    return torch.where(t <= 1, near, torch.where(t < 2, far, torch.zeros_like(t)))


def bicubic_kernel(factor: int) -> torch.Tensor:
    """The paper's 1-D anti-aliasing kernel for downscaling by ``factor``.

    Keys cubic (a = −0.5) stretched by ``factor``: ``4·factor`` taps (``+1`` for odd
    factors) at offsets ``(i − (L−1)/2)/factor`` from the centre, normalised to sum 1.
    """
    length = 4 * factor + (factor % 2)
    t = (torch.arange(length, dtype=torch.float64) - (length - 1) / 2) / factor
    k = keys_cubic(t)
    return k / k.sum()


def gaussian_kernel(factor: int) -> torch.Tensor:
    """1-D Gaussian with σ = factor/2, ``factor + 2·⌈2σ⌉`` taps, sum 1."""
    sigma = factor / 2
    length = factor + 2 * math.ceil(2 * sigma)
    t = torch.arange(length, dtype=torch.float64) - (length - 1) / 2
    k = torch.exp(-(t**2) / (2 * sigma**2))
    return k / k.sum()


class SuperResolution(LinearOperator):
    """``A = S_f K``: correlation with a 2-D low-pass kernel ``K``, then keeping every
    ``factor``-th pixel (per channel). ``in_shape = (C, H, W)``, ``out_shape = (C, H/f, W/f)``.
    ``boundary`` says what the image is beyond its borders, where the kernel reads:
    ``"circular"`` (periodic, the default), ``"reflect"``, ``"replicate"`` or ``"zero"``
    (see :func:`invgen.operators.padding.boundary_index`).

    Alignment: low-resolution pixel ``(p, q)`` is centred on the ``f × f`` block it
    summarises, high-resolution position ``(f·p + (f−1)/2, f·q + (f−1)/2)``; a kernel of
    length ``L`` must therefore have ``L ≡ f (mod 2)``. ``kernel``: ``"bicubic"`` (the
    paper's, :func:`bicubic_kernel`), ``"box"`` (block average), ``"gaussian"``
    (σ = f/2), or a ``(kh, kw)`` tensor.

    Everything is computed with FFTs. With ``Ĥ`` the symbol of ``K`` on the ``H × W`` grid
    and ``M = (H/f, W/f)``: ``(Ax)^(k) = f⁻² Σ_j (Ĥ X)(k + jM)`` (aliasing: the ``f²``
    high-resolution frequencies that fold onto ``k``), ``(Aᵀy)^(k) = conj(Ĥ(k)) Y(k mod M)``
    (zero-filling tiles the spectrum, then the kernel is applied transposed).
    ``AAᵀ`` is a circular convolution on the low-resolution grid with the real symbol
    ``P(k) = f⁻² Σ_j |Ĥ(k + jM)|²`` (its values are the squared singular values of ``A``),
    so the pseudo-inverse is exact and closed form, one FFT on each grid:
    ``A⁺y = Aᵀ F⁻¹[F y / P]``, with ``1/P`` replaced by 0 where
    ``P ≤ singular_threshold(dtype)²·max P`` (the numerical null space), and
    ``Aᵀ(AAᵀ + eps)⁻¹y = Aᵀ F⁻¹[F y / (P + eps)]`` when ``eps > 0``. All of this is for
    the circular boundary.

    Other boundaries: ``A = S_f K P`` with ``P`` the
    :class:`~invgen.operators.padding.Pad` of the kernel's reach (``(L − f)/2`` pixels on
    each side) and ``S_f K`` the :class:`~invgen.operators.padding.ValidCorrelation` with
    stride ``f`` (FFTs on the padded grid); ``Aᵀ = Pᵀ (S_f K)ᵀ``, whose ``Pᵀ`` folds the
    border back onto the pixels it copied. The pseudo-inverse is iterative
    (:func:`~invgen.operators.cg.min_norm_solve`): for ``eps > 0``, ``Aᵀu`` with
    ``(AAᵀ + eps)u = y`` solved by conjugate gradients on the low-resolution grid,
    preconditioned by the circular operator's closed-form ``F⁻¹[1/(P + eps)]F``
    (:func:`~invgen.operators.padding.circulant_preconditioner`); for ``eps = 0``, plain
    CG on the normal equations (minimum norm also when ``A`` is rank-deficient).
    """

    def __init__(
        self, in_shape: Shape, factor: int, kernel: str | torch.Tensor = "bicubic", boundary: Boundary = "circular"
    ) -> None:
        if len(in_shape) != 3:
            raise ValueError(f"in_shape must be (C, H, W), got {tuple(in_shape)}")
        c, h, w = (int(s) for s in in_shape)
        if factor < 1 or h % factor or w % factor:
            raise ValueError(f"factor {factor} must be ≥ 1 and divide the image size {h}×{w}")
        super().__init__((c, h, w), (c, h // factor, w // factor))
        self.factor = int(factor)
        k2d = self._kernel_2d(kernel, factor)
        kh, kw = k2d.shape
        if (kh - factor) % 2 or (kw - factor) % 2:
            raise ValueError(f"a {kh}×{kw} kernel cannot be centred on a {factor}×{factor} block: "
                             f"its sides must have the parity of the factor")
        # The tap at index o multiplies x[f·p + o − origin]; centring puts origin at (L − f)/2.
        origin = ((kh - factor) // 2, (kw - factor) // 2)
        self.register_buffer("kernel", k2d)
        self.boundary = boundary
        if boundary != "circular":
            pad = Pad(self.in_shape, (origin[0], origin[0], origin[1], origin[1]), boundary)
            self.padded = ValidCorrelation(pad.out_shape, k2d, stride=factor) @ pad
        symbol = correlation_spectrum(k2d, origin, (h, w))
        self.register_buffer("symbol", as_stored(symbol[:, : w // 2 + 1]))  # the rfft2 half of Ĥ
        folded = (symbol.abs() ** 2).view(factor, h // factor, factor, w // factor).sum((0, 2)) / factor**2
        self.register_buffer("gram_symbol", folded)  # P, on the full low-resolution grid

    @staticmethod
    def _kernel_2d(kernel: str | torch.Tensor, factor: int) -> torch.Tensor:
        if isinstance(kernel, str):
            makers = {"bicubic": bicubic_kernel, "gaussian": gaussian_kernel,
                      "box": lambda f: torch.full((f,), 1.0 / f, dtype=torch.float64)}
            if kernel not in makers:
                raise ValueError(f"kernel must be one of {sorted(makers)} or a 2-D tensor, got {kernel!r}")
            k = makers[kernel](factor)
            return torch.outer(k, k)
        kernel = torch.as_tensor(kernel, dtype=torch.float64)
        if kernel.dim() != 2:
            raise ValueError(f"a kernel tensor must be 2-D (kh, kw), got shape {tuple(kernel.shape)}")
        return kernel

    def _matvec(self, x):
        if self.boundary != "circular":
            return self.padded._matvec(x)
        f, m1, w = self.factor, self.out_shape[1], self.in_shape[2]
        spectrum = torch.fft.rfft2(x) * as_complex(self.symbol, x.dtype)
        # Rows are decimated in the Fourier domain (fold the f aliases of each row
        # frequency, invert on the short grid), columns in space: this touches the
        # high-resolution grid with one real FFT only.
        rows = torch.fft.ifft(spectrum.unflatten(-2, (f, m1)).sum(-3) / f, dim=-2)
        return torch.fft.irfft(rows, n=w, dim=-1)[..., ::f].contiguous()

    def _rmatvec(self, y):
        if self.boundary != "circular":
            return self.padded._rmatvec(y)
        return self._adjoint_of_spectrum(torch.fft.fft2(y))

    def _adjoint_of_spectrum(self, spectrum: torch.Tensor) -> torch.Tensor:
        """``Aᵀy`` from ``F y``: tile it f × f (zero-filling), keep the rfft2 half, apply ``conj(Ĥ)``."""
        f, (h, w) = self.factor, self.in_shape[1:]
        tiled = spectrum.repeat(*([1] * (spectrum.dim() - 2)), f, f)[..., : w // 2 + 1]
        return torch.fft.irfft2(tiled * as_complex(self.symbol, spectrum.real.dtype).conj(), s=(h, w))

    @property
    def closed_form_pinv(self) -> bool:
        return self.boundary == "circular"

    def _pinv(self, y, eps):
        p = self.gram_symbol.to(y.dtype)
        if self.boundary != "circular":
            # The circular operator's (AAᵀ + eps)⁻¹, one FFT on the low-resolution grid,
            # differs from this one only near the borders: it cuts the CG steps.
            inverse = circulant_preconditioner(p, eps)
            return min_norm_solve(self._matvec, self._rmatvec, y, eps,
                                  lambda r: torch.fft.ifft2(torch.fft.fft2(r) * inverse).real,
                                  self.cg_tol, self.cg_max_iter)
        if eps > 0:
            inverse = 1 / (p + eps)
        else:
            keep = p > singular_threshold(y.dtype) ** 2 * p.max()
            inverse = torch.where(keep, 1 / torch.where(keep, p, 1), 0)
        return self._adjoint_of_spectrum(torch.fft.fft2(y) * inverse)

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, factor={self.factor}, kernel={tuple(self.kernel.shape)}, "
                f"boundary={self.boundary!r}")
