"""The scores ``invgen demo`` and ``invgen reconstruct`` print and write: the library's
(:func:`invgen.metrics.scores`: PSNR, SSIM, ST-LPIPS, HaarPSI, MS-GMSD), averaged over the images."""
from __future__ import annotations

import math

import torch

from invgen.metrics import scores

# (key, heading, width, digits) of each column of the table.
COLUMNS = (("psnr", "PSNR dB", 8, 2), ("ssim", "SSIM", 6, 3), ("st_lpips", "ST-LPIPS↓", 9, 3),
           ("haarpsi", "HaarPSI↑", 8, 3), ("ms_gmsd", "MS-GMSD↓", 8, 3))
SCORE_HEAD = " ".join(f"{heading:>{width}}" for _, heading, width, _ in COLUMNS)


def evaluate(estimates: dict[str, torch.Tensor], truth: torch.Tensor) -> dict[str, dict[str, float | None]]:
    """The mean of each score of :func:`invgen.metrics.scores` (but MSE) over the images, for
    each estimate against ``truth``; ``None`` for a score not defined on these images (e.g.
    ST-LPIPS on a grey image)."""
    def mean(v: torch.Tensor) -> float | None:
        value = v.mean().item()
        return None if math.isnan(value) else value

    return {name: {key: mean(v) for key, v in scores(x, truth).items() if key != "mse"}
            for name, x in estimates.items()}


def score_line(label: str, m: dict) -> str:
    """One row of the table under :data:`SCORE_HEAD`; ``—`` for an undefined score (``None``: in
    strict JSON, e.g. the infinite PSNR of an exact estimate, or no ST-LPIPS for a small image)."""
    def shown(key: str, width: int, digits: int) -> str:
        return f"{'—':>{width}}" if m.get(key) is None else f"{m[key]:>{width}.{digits}f}"

    return f"{label:<16} " + " ".join(shown(key, width, digits) for key, _, width, digits in COLUMNS)
