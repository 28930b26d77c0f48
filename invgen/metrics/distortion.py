"""Distortion: PSNR and SSIM of ``x`` against ``ref`` and, where there is no ``ref`` (a
measured photograph), how well ``x`` explains ``y``. One value per image, ``(B,)``."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from invgen.validation import check_tensor


def check_pair(x: torch.Tensor, ref: torch.Tensor) -> None:
    """Both are finite float32/float64 ``(B, C, H, W)`` batches of one shape: a NaN would make
    the score NaN without saying which image was at fault."""
    check_tensor("x", x)
    check_tensor("ref", ref)
    if x.dim() != 4 or x.shape != ref.shape:
        raise ValueError(f"x and ref must be (B, C, H, W) batches of the same shape, got {tuple(x.shape)} "
                         f"and {tuple(ref.shape)}")


def psnr(x: torch.Tensor, ref: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """``10·log10(data_range² / MSE)`` per image, in dB (``inf`` where ``x == ref``)."""
    check_pair(x, ref)
    mse = (x.detach() - ref.detach()).double().flatten(1).square().mean(1)
    return (10 * torch.log10(data_range**2 / mse)).to(x.dtype)


def _gaussian_window(size: int, sigma: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    t = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-(t**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(x: torch.Tensor, ref: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Structural similarity (Wang, Bovik, Sheikh and Simoncelli, TIP 2004) per image.

    The paper's settings: local statistics under an 11×11 Gaussian window of std 1.5,
    ``C1 = (0.01·L)²``, ``C2 = (0.03·L)²`` with ``L = data_range``, the SSIM map over the
    positions where the window fits ("valid"), averaged over positions and channels.
    Images must be at least 11×11.
    """
    check_pair(x, ref)
    size, sigma = 11, 1.5
    if min(x.shape[-2:]) < size:
        raise ValueError(f"SSIM needs images of at least {size}×{size} pixels, got {tuple(x.shape[-2:])}")
    c = x.shape[1]
    x, ref = x.detach().double(), ref.detach().double()
    g = _gaussian_window(size, sigma, x.dtype, x.device)
    # The 2-D window is separable: filter rows, then columns, each channel on its own.
    rows, cols = g.view(1, 1, 1, size).repeat(c, 1, 1, 1), g.view(1, 1, size, 1).repeat(c, 1, 1, 1)

    def local_mean(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(t, rows, groups=c), cols, groups=c)

    mu_x, mu_r = local_mean(x), local_mean(ref)
    var_x = local_mean(x * x) - mu_x**2
    var_r = local_mean(ref * ref) - mu_r**2
    cov = local_mean(x * ref) - mu_x * mu_r
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    ssim_map = ((2 * mu_x * mu_r + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_r**2 + c1) * (var_x + var_r + c2))
    return ssim_map.flatten(1).mean(1).float()


def consistency(A, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``‖A x − y‖ / ‖y‖`` per image: how far the re-measured estimate is from the
    measurement (0 for an estimate that reproduces ``y``; about ``σ·√m / ‖y‖`` is what
    noise of std ``σ`` on ``m`` measurements leaves). ``A`` is an invgen operator."""
    check_tensor("x", x)
    check_tensor("y", y)
    residual = (A(x.detach()) - y.detach()).double().flatten(1).norm(dim=1)
    return (residual / y.detach().double().flatten(1).norm(dim=1).clamp_min(1e-300)).to(x.dtype)
