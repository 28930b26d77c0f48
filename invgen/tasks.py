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

import math
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


def parse_task(task: str) -> tuple[str, float | None]:
    """``(kind, parameter)`` of a task string — ``("sr", 4)``, ``("cs", 0.1)``, ``("dct", 0.1)``,
    ``("blur", 1.5)``, ``("inpaint", None)``, ``("denoise", None)`` — or a ``ValueError``
    naming the task and what its parameter must be. Checks what needs no image size."""
    kind, sep, value = task.partition(":")
    if m := re.fullmatch(r"sr(\d+)", task):
        factor = int(m.group(1))
        if factor < 2:
            raise ValueError(f"task {task!r}: the super-resolution factor must be an integer ≥ 2")
        return "sr", factor
    if kind in ("cs", "dct") and sep:
        ratio = _number(value)
        if ratio is None or not 0 < ratio <= 1:
            raise ValueError(f"task {task!r}: the ratio m/n must be a number in (0, 1], got {value!r}")
        return kind, ratio
    if kind == "blur":
        sigma = _number(value) if sep else DEFAULT_BLUR_SIGMA
        if sigma is None or not 0 < sigma < math.inf:
            raise ValueError(f"task {task!r}: the blur sigma must be a positive number of pixels, got {value!r}")
        return "blur", sigma
    if task in ("inpaint", "denoise"):
        return task, None
    raise ValueError(f"unknown task {task!r}; expected one of: {TASK_HELP}")


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def make_operator(task: str, shape: tuple[int, int, int], seed: int = 0) -> LinearOperator:
    """The operator of ``task`` (see the module docstring) for images of ``shape = (C, H, W)``."""
    c, h, w = shape
    n = c * h * w
    kind, value = parse_task(task)
    if kind == "sr":
        if h % value or w % value:
            raise ValueError(f"task {task!r}: the factor {value} must divide the image size {h}×{w}")
        return SuperResolution(shape, int(value))
    if kind in ("cs", "dct"):
        op = GaussianCS if kind == "cs" else SubsampledDCT
        return op(shape, max(1, round(value * n)), seed=seed)
    if kind == "blur":
        return Blur.gaussian(shape, value)
    if kind == "inpaint":
        top, left, height, width = EYE_BAND
        return Mask.box(shape, round(top * h), round(left * w), round(height * h), round(width * w))
    return Identity(shape)
