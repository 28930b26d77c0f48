"""The scores ``invgen demo`` and ``invgen reconstruct`` print and write: PSNR, SSIM and ST-LPIPS."""
from __future__ import annotations

import torch

SCORE_HEAD = f"{'PSNR dB':>8} {'SSIM':>6} {'ST-LPIPS↓':>8}"


def evaluate(estimates: dict[str, torch.Tensor], truth: torch.Tensor) -> dict[str, dict[str, float | None]]:
    """Mean PSNR, SSIM and ST-LPIPS (lower is closer; ``None`` for an image too small for it)
    of each estimate against ``truth``."""
    from invgen.metrics import psnr, ssim, st_lpips
    from invgen.metrics.shift_tolerant import MIN_SIZE as PERCEPTUAL_MIN

    perceptual = truth.shape[1] == 3 and min(truth.shape[-2:]) >= PERCEPTUAL_MIN["alex"]
    return {name: {"psnr": psnr(x, truth).mean().item(), "ssim": ssim(x, truth).mean().item(),
                   "st_lpips": st_lpips(x, truth).mean().item() if perceptual else None}
            for name, x in estimates.items()}


def score_line(label: str, m: dict) -> str:
    """One row of a PSNR / SSIM / ST-LPIPS table; ``—`` for an undefined score (``None``: in
    strict JSON, e.g. the infinite PSNR of an exact estimate, or no ST-LPIPS for a small image)."""
    def shown(key: str, width: int, digits: int) -> str:
        return f"{'—':>{width}}" if m[key] is None else f"{m[key]:>{width}.{digits}f}"

    return f"{label:<16} {shown('psnr', 8, 2)} {shown('ssim', 6, 3)} {shown('st_lpips', 8, 3)}"
