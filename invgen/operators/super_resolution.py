"""Super-resolution: anti-aliasing filter, then decimation, with a closed-form pseudo-inverse."""
from __future__ import annotations

import math

import torch

from invgen.operators.base import LinearOperator, Shape, singular_threshold
from invgen.operators.fourier import correlation_spectrum


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
    ``factor``-th pixel (circular boundary, per channel). ``in_shape = (C, H, W)``,
    ``out_shape = (C, H/f, W/f)``.

    Alignment: low-resolution pixel ``(p, q)`` is centred on the ``f × f`` block it
    summarises, high-resolution position ``(f·p + (f−1)/2, f·q + (f−1)/2)``; a kernel of
    length ``L`` must therefore have ``L ≡ f (mod 2)``. ``kernel``: ``"bicubic"`` (the
    paper's, :func:`bicubic_kernel`), ``"box"`` (block average), ``"gaussian"``
    (σ = f/2), or a ``(kh, kw)`` tensor.

    Everything is computed in the Fourier domain. With ``Ĥ`` the symbol of ``K`` on the
    ``H × W`` grid and ``M = H/f``: ``(Ax)^(k) = f⁻² Σ_j (Ĥ X)(k + jM)`` (aliasing, sum
    over the ``f²`` frequencies folding onto ``k``), ``(Aᵀy)^(k) = conj(Ĥ(k)) Y(k mod M)``.
    ``AAᵀ`` is a circular convolution on the low-resolution grid with symbol
    ``P(k) = f⁻² Σ_j |Ĥ(k + jM)|²``, so the pseudo-inverse is exact and closed form:
    ``A⁺y = Aᵀ F⁻¹[F y / (P + eps)]``, with ``1/P`` replaced by 0 where
    ``P ≤ singular_threshold(dtype)²·max P`` (P holds squared singular values).
    """

    def __init__(self, in_shape: Shape, factor: int, kernel: str | torch.Tensor = "bicubic") -> None:
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
        symbol = correlation_spectrum(k2d, origin, (h, w))
        self.register_buffer("symbol", symbol)
        folded = (symbol.abs() ** 2).view(factor, h // factor, factor, w // factor).sum((0, 2)) / factor**2
        self.register_buffer("gram_symbol", folded)

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

    def _fold(self, spectrum: torch.Tensor) -> torch.Tensor:
        """Sum the ``f²`` aliases of each low-resolution frequency, divided by ``f²``."""
        f, (h, w) = self.factor, spectrum.shape[-2:]
        return spectrum.unflatten(-1, (f, w // f)).unflatten(-3, (f, h // f)).sum((-4, -2)) / f**2

    def _complex(self, t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        return t.to(torch.complex128 if dtype == torch.float64 else torch.complex64)

    def _matvec(self, x):
        spectrum = torch.fft.fft2(x) * self._complex(self.symbol, x.dtype)
        return torch.fft.ifft2(self._fold(spectrum)).real.to(x.dtype)

    def _rmatvec(self, y):
        f = self.factor
        tiled = torch.fft.fft2(y).repeat(*([1] * (y.dim() - 2)), f, f)
        return torch.fft.ifft2(tiled * self._complex(self.symbol.conj(), y.dtype)).real.to(y.dtype)

    def _pinv(self, y, eps):
        p = self.gram_symbol.to(y.dtype)
        keep = p > singular_threshold(y.dtype) ** 2 * p.max()
        inverse = torch.where(keep, 1.0 / (p + eps).where(keep, torch.ones_like(p)), torch.zeros_like(p))
        u = torch.fft.ifft2(torch.fft.fft2(y) * inverse).real.to(y.dtype)
        return self._rmatvec(u)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, factor={self.factor}, kernel={tuple(self.kernel.shape)}"
