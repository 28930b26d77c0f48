"""Circular correlation kernels in the Fourier domain (shared by Blur and SuperResolution)."""
from __future__ import annotations

import torch


def correlation_spectrum(kernel: torch.Tensor, origin: tuple[int, int], size: tuple[int, int]) -> torch.Tensor:
    """Fourier symbol ``Ĥ`` of ``x ↦ Σ_{i,j} k[i, j] x[n + i − oᵢ, m + j − oⱼ]`` (circular).

    ``kernel`` is ``(kh, kw)``, ``origin = (oᵢ, oⱼ)`` the tap that multiplies ``x[n, m]``;
    the map is then ``x ↦ ifft2(fft2(x) · Ĥ)`` with ``Ĥ`` of shape ``size``, complex128.
    """
    kh, kw = kernel.shape
    h, w = size
    # Correlation with k = convolution with the flipped kernel g[d] = k[o − d]; taps of a
    # kernel larger than the image wrap around and add up (the boundary is circular).
    g = torch.zeros(h, w, dtype=torch.float64)
    rows = ((origin[0] - torch.arange(kh)) % h)[:, None].expand(kh, kw)
    cols = ((origin[1] - torch.arange(kw)) % w)[None, :].expand(kh, kw)
    g.index_put_((rows, cols), kernel.double(), accumulate=True)
    return torch.fft.fft2(g)


def apply_symbol(x: torch.Tensor, symbol: torch.Tensor) -> torch.Tensor:
    """``ifft2(fft2(x) · symbol)``, real part, in the dtype of ``x``."""
    complex_dtype = torch.complex128 if x.dtype == torch.float64 else torch.complex64
    return torch.fft.ifft2(torch.fft.fft2(x) * symbol.to(complex_dtype)).real.to(x.dtype)
