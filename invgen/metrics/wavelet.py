"""HaarPSI, the Haar wavelet-based perceptual similarity index (Reisenhofer, Bosse, Kutyniok and
Wiegand, Signal Processing: Image Communication 2018): a full-reference index without learned
weights, among the best-correlated with human judgement on LIVE, TID2013, CSIQ and KADID-10k.

For images in [0, 255] (colour in YIQ, the luminance ``Y`` and the chroma ``I``, ``Q``), first
averaged over 2×2 blocks (the viewing distance), with Haar filters ``h_s`` of ``2^s × 2^s``
pixels (rows ``+1/2^s`` above the middle, ``−1/2^s`` below; ``h_sᵀ`` the other orientation),
``s = 1, 2, 3``, applied to ``Y`` (padding as MATLAB's ``conv2(·, 'same')``):

- local similarity in orientation ``o``:
  ``HS_o = ½ Σ_{s=1,2} S(|h_s^o ∗ Y_x|, |h_s^o ∗ Y_ref|)`` with ``S(a, b) = (2ab + C)/(a² + b² + C)``,
  ``C = 30``; for colour a third map from the chroma, ``½ Σ_{c=I,Q} S(|m ∗ c_x|, |m ∗ c_ref|)``
  with ``m`` the 2×2 mean;
- weights: the coarsest scale's magnitude, ``W_o = max(|h_3^o ∗ Y_x|, |h_3^o ∗ Y_ref|)``, and
  their mean for the chroma map;
- ``HaarPSI = (l_α⁻¹(Σ l_α(HS) W / Σ W))²``, ``l_α`` the logistic of slope ``α = 4.2``.

1 for identical images, lower for less similar ones.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from invgen.metrics.distortion import check_pair

C = 30.0
ALPHA = 4.2
SCALES = 3
#: The smallest side HaarPSI takes: the coarsest Haar filter's.
MIN_SIZE = 2 ** (SCALES + 1)

# Rows of YIQ (NTSC) from RGB.
_YIQ = torch.tensor([[0.299, 0.587, 0.114],
                     [0.5959, -0.2746, -0.3213],
                     [0.2115, -0.5227, 0.3112]], dtype=torch.float64)


def rgb_to_yiq(x: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` RGB → YIQ."""
    return torch.einsum("ij,bjhw->bihw", _YIQ.to(x), x)


def half_resolution(x: torch.Tensor) -> torch.Tensor:
    """The mean of each 2×2 block; an odd side is first padded with a zero row or column."""
    odd = max(x.shape[-2] % 2, x.shape[-1] % 2)
    return F.avg_pool2d(F.pad(x, [0, odd, 0, odd]), 2)


def _similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (2 * a * b + C) / (a * a + b * b + C)


def _haar_responses(y: torch.Tensor) -> torch.Tensor:
    """``|h_s^o ∗ y|`` of a ``(B, 1, H, W)`` luminance, ``(B, 2·SCALES, H, W)``: scale by scale,
    the filter ``h_s`` then its transpose."""
    responses = []
    for s in range(1, SCALES + 1):
        k = 2**s
        h = torch.full((k, k), 1.0 / k, dtype=y.dtype, device=y.device)
        h[k // 2:] *= -1
        before, after = k // 2 - 1, k // 2  # an even filter centred as MATLAB's conv2 'same' centres it
        padded = F.pad(y, [before, after, before, after])
        responses.append(F.conv2d(padded, torch.stack([h, h.T]).unsqueeze(1)).abs())
    return torch.cat(responses, dim=1)


def check_judged_pair(judge: str, x: torch.Tensor, ref: torch.Tensor, min_size: int) -> None:
    """Raise unless ``x`` and ``ref`` are a pair (:func:`check_pair`) of grey or RGB images with
    sides of at least ``min_size`` pixels, naming the ``judge`` that needs them."""
    check_pair(x, ref)
    if x.shape[1] not in (1, 3) or min(x.shape[-2:]) < min_size:
        raise ValueError(f"{judge} needs grey or RGB images of at least {min_size}×{min_size} pixels, got shape "
                         f"{tuple(x.shape)}")


def haarpsi(x: torch.Tensor, ref: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """HaarPSI of each image ``x`` against ``ref``, ``(B,)``; higher is closer (1: identical).

    ``x`` and ``ref``: ``(B, C, H, W)`` with ``C`` 1 (grey) or 3 (RGB) and sides of at least
    :data:`MIN_SIZE` pixels, in ``[0, data_range]``. Computed in float64 without gradients.
    """
    check_judged_pair("HaarPSI", x, ref, MIN_SIZE)
    colour, dtype = x.shape[1] == 3, x.dtype
    images = []
    for t in (x, ref):
        t = t.detach().double() * (255.0 / data_range)
        images.append(half_resolution(rgb_to_yiq(t) if colour else t))
    (x, ref), (n_x, n_ref) = images, [_haar_responses(t[:, :1]) for t in images]
    weights = torch.maximum(n_x[:, -2:], n_ref[:, -2:])
    # orientation o at scales 1 and 2: channels o and o + 2
    maps = [_similarity(n_x[:, o:o + 3:2], n_ref[:, o:o + 3:2]).mean(1, keepdim=True) for o in (0, 1)]
    if colour:
        def chroma(t: torch.Tensor) -> torch.Tensor:
            return F.avg_pool2d(F.pad(t[:, 1:], [0, 1, 0, 1]), 2, stride=1).abs()

        maps.append(_similarity(chroma(x), chroma(ref)).mean(1, keepdim=True))
        weights = torch.cat([weights, weights.mean(1, keepdim=True)], dim=1)
    similarity = torch.cat(maps, dim=1)
    eps = torch.finfo(similarity.dtype).eps
    pooled = (((ALPHA * similarity).sigmoid() * weights).sum((1, 2, 3)) + eps) / (weights.sum((1, 2, 3)) + eps)
    return (torch.logit(pooled) / ALPHA).square().to(dtype)
