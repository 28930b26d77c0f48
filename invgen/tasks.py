"""Named inverse problems: a task string → the measurement operator for an image shape.

=============  ==========================================================================
task           operator
=============  ==========================================================================
``srF``        ``SuperResolution(shape, F)`` — the paper's bicubic kernel, ×F (``sr4``)
``cs:R``       ``GaussianCS(shape, round(R·n))`` — dense Gaussian, m/n = R (``cs:0.1``)
``dct:R``      ``SubsampledDCT(shape, round(R·n))`` — matrix-free CS, m/n = R
``blur[:S]``   ``Blur.gaussian(shape, sigma=S)`` — Gaussian blur, σ = S pixels (default 1.5)
``inpaint``    ``Mask.box`` — a missing band over the eyes of an aligned face
``denoise``    ``Identity(shape)``
=============  ==========================================================================
"""
from __future__ import annotations

import re

from invgen.operators import (
    Blur,
    GaussianCS,
    Identity,
    LinearOperator,
    Mask,
    SubsampledDCT,
    SuperResolution,
)

TASK_HELP = "srF (e.g. sr4, sr8), cs:R (e.g. cs:0.1), dct:R, blur or blur:SIGMA, inpaint, denoise"
DEFAULT_BLUR_SIGMA = 1.5
# The eye band of an aligned 64×64 CelebA face, as fractions of the image side:
# rows 22/64–40/64, columns 10/64–54/64.
EYE_BAND = (22 / 64, 10 / 64, 18 / 64, 44 / 64)


def make_operator(task: str, shape: tuple[int, int, int], seed: int = 0) -> LinearOperator:
    """The operator of ``task`` (see the module docstring) for images of ``shape = (C, H, W)``."""
    c, h, w = shape
    n = c * h * w
    if m := re.fullmatch(r"sr(\d+)", task):
        factor = int(m.group(1))
        if factor < 2 or h % factor or w % factor:
            raise ValueError(f"task {task!r}: the factor must be ≥ 2 and divide the image size {h}×{w}")
        return SuperResolution(shape, factor)
    if m := re.fullmatch(r"(cs|dct):([0-9.]+)", task):
        ratio = float(m.group(2))
        if not 0 < ratio <= 1:
            raise ValueError(f"task {task!r}: the ratio m/n must lie in (0, 1]")
        op = GaussianCS if m.group(1) == "cs" else SubsampledDCT
        return op(shape, max(1, round(ratio * n)), seed=seed)
    if m := re.fullmatch(r"blur(?::([0-9.]+))?", task):
        sigma = float(m.group(1)) if m.group(1) else DEFAULT_BLUR_SIGMA
        if sigma <= 0:
            raise ValueError(f"task {task!r}: the blur sigma must be positive")
        return Blur.gaussian(shape, sigma)
    if task == "inpaint":
        top, left, height, width = EYE_BAND
        return Mask.box(shape, round(top * h), round(left * w), round(height * h), round(width * w))
    if task == "denoise":
        return Identity(shape)
    raise ValueError(f"unknown task {task!r}; expected one of: {TASK_HELP}")
