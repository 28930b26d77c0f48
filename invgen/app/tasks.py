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

``make_operator(..., kernel=k)`` blurs with your kernel instead, ``mask=m`` keeps your
pixels, and ``boundary=`` sets blur's and SR's borders. A *measured* image (a photograph,
no truth) is a ``y`` of a task in :data:`MEASURABLE`; :func:`image_shape` says which ``x``
it measures.
"""
from __future__ import annotations

import math
import re

import torch

from invgen.operators import (
    Blur,
    GaussianCS,
    Identity,
    LinearOperator,
    Mask,
    SubsampledDCT,
    SuperResolution,
)
from invgen.operators.padding import Boundary

TASK_HELP = "srF (e.g. sr4, sr8), cs:R (e.g. cs:0.1), dct:R, blur or blur:SIGMA, inpaint, denoise"
DEFAULT_BLUR_SIGMA = 1.5
# The eye band of an aligned 64×64 CelebA face, as fractions of the image side:
# rows 22/64–40/64, columns 10/64–54/64.
EYE_BAND = (22 / 64, 10 / 64, 18 / 64, 44 / 64)
# Tasks whose measurement is an image, so a photograph can be one.
MEASURABLE = ("sr", "blur", "inpaint", "denoise")


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


def image_shape(task: str, measured_shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """The shape ``(C, H, W)`` of the images that ``task`` measures as ``measured_shape``:
    ×F for ``srF``, the same for the other tasks of :data:`MEASURABLE`; ``ValueError``
    for compressed sensing, whose measurements are not images."""
    kind, value = parse_task(task)
    if kind not in MEASURABLE:
        raise ValueError(f"task {task!r} measures vectors, not images: a measured image can be y of srF, blur, "
                         "inpaint or denoise")
    c, h, w = measured_shape
    return (c, h * int(value), w * int(value)) if kind == "sr" else (c, h, w)


def make_operator(
    task: str,
    shape: tuple[int, int, int],
    seed: int = 0,
    *,
    boundary: Boundary = "circular",
    mask: torch.Tensor | None = None,
    kernel: torch.Tensor | None = None,
) -> LinearOperator:
    """The operator of ``task`` (see the module docstring) for images of ``shape = (C, H, W)``.

    ``boundary`` applies to ``srF`` and ``blur``; ``kernel`` (2-D, see
    :class:`~invgen.operators.Blur`) replaces the Gaussian of ``blur`` (which then takes
    no ``:SIGMA``); ``mask`` (``(H, W)``, 1 = known) replaces the eye band of ``inpaint``.
    """
    c, h, w = shape
    n = c * h * w
    kind, value = parse_task(task)
    if kernel is not None and (kind != "blur" or ":" in task):
        raise ValueError(f"a kernel is the blur of task 'blur' (without :SIGMA), not of {task!r}")
    if mask is not None and kind != "inpaint":
        raise ValueError(f"a mask is the operator of task 'inpaint', not of {task!r}")
    if kind == "sr":
        if h % value or w % value:
            raise ValueError(f"task {task!r}: the factor {value} must divide the image size {h}×{w}")
        return SuperResolution(shape, int(value), boundary=boundary)
    if kind in ("cs", "dct"):
        op = GaussianCS if kind == "cs" else SubsampledDCT
        return op(shape, max(1, round(value * n)), seed=seed)
    if kind == "blur":
        return Blur(shape, kernel, boundary) if kernel is not None else Blur.gaussian(shape, value, boundary=boundary)
    if kind == "inpaint":
        if mask is not None:
            return Mask(shape, mask)
        top, left, height, width = EYE_BAND
        return Mask.box(shape, round(top * h), round(left * w), round(height * h), round(width * w))
    return Identity(shape)
