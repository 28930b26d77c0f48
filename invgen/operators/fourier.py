"""Circular correlation kernels in the Fourier domain (shared by Blur and SuperResolution).

Symbols are stored as real ``(..., 2)`` tensors (``torch.view_as_real``) so that
``module.to(dtype)`` changes their precision instead of discarding their imaginary part.
"""
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


def as_stored(spectrum: torch.Tensor) -> torch.Tensor:
    """A complex spectrum as the real ``(..., 2)`` tensor kept in a buffer."""
    return torch.view_as_real(spectrum).clone()


def as_complex(stored: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A stored spectrum as a complex tensor matching the real ``dtype`` of the data."""
    real = torch.float64 if dtype == torch.float64 else torch.float32
    return torch.view_as_complex(stored.to(real).contiguous())


def apply_half_symbol(x: torch.Tensor, half_symbol: torch.Tensor) -> torch.Tensor:
    """``ifft2(fft2(x) · Ĥ)`` for real ``x``, with the ``rfft2`` half ``Ĥ[:, :W//2+1]``."""
    return torch.fft.irfft2(torch.fft.rfft2(x) * half_symbol, s=x.shape[-2:])
