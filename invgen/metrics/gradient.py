"""MS-GMSD, the gradient magnitude similarity deviation on several scales (Zhang, Sander and
Bermak, ICASSP 2017; GMSD: Xue, Zhang, Mou and Bovik, TIP 2014): a full-reference index without
learned weights.

At each of four scales (the luminance ``Y`` of YIQ in [0, 255], halved by 2×2 means between
scales), the gradient magnitudes ``g = ‖(p ∗ Y, pᵀ ∗ Y)‖`` with the Prewitt filter
``p = [[−1, 0, 1]] × 3 / 3`` (zero padding) give the masked similarity map
``GMS = (2 g_x g_ref − α g_x g_ref + T) / (g_x² + g_ref² − α g_x g_ref + T)``,
``α = 0.5``, ``T = 170``, and ``GMSD_s`` is its standard deviation over the pixels;
``MS-GMSD = √(Σ_s w_s GMSD_s²)`` with the paper's weights ``w = (0.096, 0.596, 0.289, 0.019)``.

0 for identical images, higher for less similar ones (a distance).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from invgen.metrics.wavelet import check_judged_pair, half_resolution, rgb_to_yiq

WEIGHTS = (0.096, 0.596, 0.289, 0.019)
ALPHA = 0.5
T = 170.0
#: The smallest side MS-GMSD takes: the coarsest scale keeps at least 3 pixels.
MIN_SIZE = 2 ** len(WEIGHTS) + 1


def _gmsd(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """GMSD of ``(B, 1, H, W)`` luminances in [0, 255], ``(B,)``."""
    p = torch.tensor([[-1.0, 0.0, 1.0]] * 3, dtype=x.dtype, device=x.device) / 3
    kernels = torch.stack([p, p.T]).unsqueeze(1)

    def magnitude(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, kernels, padding=1).square().sum(1).sqrt()

    g_x, g_ref = magnitude(x), magnitude(ref)
    both = g_x * g_ref
    gms = (2 * both - ALPHA * both + T) / (g_x.square() + g_ref.square() - ALPHA * both + T)
    return gms.flatten(1).std(1, correction=0)


def ms_gmsd(x: torch.Tensor, ref: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """MS-GMSD of each image ``x`` against ``ref``, ``(B,)``; lower is closer (0: identical).

    ``x`` and ``ref``: ``(B, C, H, W)`` with ``C`` 1 (grey) or 3 (RGB) and sides of at least
    :data:`MIN_SIZE` pixels, in ``[0, data_range]``. Computed in float64 without gradients.
    """
    check_judged_pair("MS-GMSD", x, ref, MIN_SIZE)
    dtype = x.dtype
    luminance = []
    for t in (x, ref):
        t = t.detach().double() * (255.0 / data_range)
        luminance.append((rgb_to_yiq(t) if t.shape[1] == 3 else t)[:, :1])
    y_x, y_ref = luminance
    total = torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)
    for s, w in enumerate(WEIGHTS):
        if s:
            y_x, y_ref = half_resolution(y_x), half_resolution(y_ref)
        total += w * _gmsd(y_x, y_ref).square()
    return total.sqrt().to(dtype)
