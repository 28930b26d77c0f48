"""Every full-reference score of estimates against their truth, the one scorer behind
:func:`invgen.solvers.compare`, the experiments, ``invgen demo`` and ``invgen reconstruct``."""
from __future__ import annotations

import math

import torch

from invgen.metrics import gradient, shift_tolerant, wavelet
from invgen.metrics.distortion import check_pair, psnr, ssim
from invgen.metrics.gradient import ms_gmsd
from invgen.metrics.shift_tolerant import st_lpips
from invgen.metrics.wavelet import haarpsi


def scores(x: torch.Tensor, truth: torch.Tensor) -> dict[str, torch.Tensor]:
    """Of each estimate ``x`` against ``truth`` (``(B, C, H, W)`` in [0, 1]), ``(B,)`` each:

    - distortion: ``mse``, ``psnr`` (dB), ``ssim``;
    - ``st_lpips``: learned perceptual distance (lower is closer; rewards texture, and was
      fooled by DIP's colour speckle);
    - ``haarpsi`` (higher is closer) and ``ms_gmsd`` (lower is closer): perceptual indices
      without learned weights, built on wavelet and gradient structure.

    A score that is not defined for these images (ST-LPIPS on grey images or ones under 21
    pixels, HaarPSI under 16, MS-GMSD under 17) is NaN.
    """
    check_pair(x, truth)
    b, c, side = x.shape[0], x.shape[1], min(x.shape[-2:])

    def undefined() -> torch.Tensor:
        return torch.full((b,), math.nan, dtype=x.dtype, device=x.device)

    defined = {"st_lpips": c == 3 and side >= shift_tolerant.MIN_SIZE["alex"],
               "haarpsi": c in (1, 3) and side >= wavelet.MIN_SIZE,
               "ms_gmsd": c in (1, 3) and side >= gradient.MIN_SIZE}
    return {"mse": (x.detach() - truth.detach()).flatten(1).square().mean(1), "psnr": psnr(x, truth),
            "ssim": ssim(x, truth),
            "st_lpips": st_lpips(x, truth) if defined["st_lpips"] else undefined(),
            "haarpsi": haarpsi(x, truth) if defined["haarpsi"] else undefined(),
            "ms_gmsd": ms_gmsd(x, truth) if defined["ms_gmsd"] else undefined()}
