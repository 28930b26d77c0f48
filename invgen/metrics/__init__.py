"""How good an estimate is, per image: distortion (PSNR, SSIM), learned perceptual distance
(ST-LPIPS, offline; the original LPIPS where its backbone is cached) and perceptual indices
without learned weights (HaarPSI, MS-GMSD) of ``x`` against ``ref``, all of them at once
(:func:`scores`), and, where there is no ``ref`` (a measured photograph), how well ``x``
explains ``y``.

The judges reward different things: PSNR and SSIM reward the pixel-wise mean (blur costs
little); ST-LPIPS, trained on human judgements of distorted patches, rewards texture and
sharpness and can be fooled by them (DIP's colour speckle made it *closer*, a generator's grid
texture too); HaarPSI and MS-GMSD compare wavelet and gradient structure without learning and
agreed with PSNR and the eye on DIP's speckle.

Images are finite float32/float64 ``(B, C, H, W)`` batches (``TypeError``/``ValueError``
otherwise); every metric returns one value per image, ``(B,)``.
"""
from invgen.metrics.distortion import consistency, psnr, ssim
from invgen.metrics.lpips_package import BACKBONE_CHECKPOINTS, backbone_checkpoint, lpips, lpips_available
from invgen.metrics.shift_tolerant import STLPIPS, st_lpips
from invgen.metrics.wavelet import haarpsi
from invgen.metrics.gradient import ms_gmsd
from invgen.metrics.full_reference import scores

__all__ = ["BACKBONE_CHECKPOINTS", "STLPIPS", "backbone_checkpoint", "consistency", "haarpsi",
           "lpips", "lpips_available", "ms_gmsd", "psnr", "scores", "ssim", "st_lpips"]
