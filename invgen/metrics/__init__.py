"""How good an estimate is, per image: distortion (PSNR, SSIM) and learned perceptual
distance (ST-LPIPS, offline; the original LPIPS where its backbone is cached) of ``x``
against ``ref``, and, where there is no ``ref`` (a measured photograph), how well ``x``
explains ``y``.

Images are finite float32/float64 ``(B, C, H, W)`` batches (``TypeError``/``ValueError``
otherwise); every metric returns one value per image, ``(B,)``.
"""
from invgen.metrics.distortion import consistency, psnr, ssim
from invgen.metrics.lpips_package import BACKBONE_CHECKPOINTS, backbone_checkpoint, lpips, lpips_available
from invgen.metrics.shift_tolerant import STLPIPS, st_lpips

__all__ = ["BACKBONE_CHECKPOINTS", "STLPIPS", "backbone_checkpoint", "consistency", "lpips", "lpips_available",
           "psnr", "ssim", "st_lpips"]
