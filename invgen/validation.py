"""Checks at the library's boundary: a wrong argument raises naming itself and what was expected.

``check_settings(steps=..., lr=..., eps=...)`` checks a solver's hyper-parameters by
name against :data:`RULES`, so every solver states its checks in one line and the same
argument gets the same message everywhere. ``check_tensor`` checks a tensor's type,
dtype and finiteness.
"""
from __future__ import annotations

import math
import numbers
import os
import sys

import torch

SUPPORTED_DTYPES = (torch.float32, torch.float64)


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def positive(name: str, value: object) -> None:
    """``value`` is a finite real number > 0."""
    if not (_is_real(value) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def nonnegative(name: str, value: object) -> None:
    """``value`` is a finite real number ≥ 0."""
    if not (_is_real(value) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number ≥ 0, got {value!r}")


def count(name: str, value: object) -> None:
    """``value`` is an integer ≥ 1."""
    if not (isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1):
        raise ValueError(f"{name} must be an integer ≥ 1, got {value!r}")


def whole(name: str, value: object) -> None:
    """``value`` is an integer ≥ 0."""
    if not (isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0):
        raise ValueError(f"{name} must be an integer ≥ 0, got {value!r}")


def fraction(name: str, value: object) -> None:
    """``value`` is a real number in [0, 1) (a share; 0 turns the feature off)."""
    if not (_is_real(value) and 0 <= value < 1):
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")


PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}


def precision(name: str, value: object) -> None:
    """``value`` names a precision: ``float32`` (full) or a mixed one, ``bfloat16`` or ``float16``."""
    if value not in PRECISIONS:
        raise ValueError(f"{name} must be one of {', '.join(PRECISIONS)}, got {value!r}")


def _optional(rule):
    def check(name: str, value: object) -> None:
        if value is not None:
            rule(name, value)
    return check


# What each hyper-parameter of the solvers and priors must be (``None`` allowed where optional).
RULES = {
    "steps": count,
    "restarts": count,
    "patience": _optional(count),
    "lr": positive,
    "lr_z": positive,
    "lr_theta": positive,
    "latent_weight": nonnegative,
    "eps": nonnegative,
}


def check_settings(**settings: object) -> None:
    """Check each ``name=value`` against ``RULES[name]``; ``ValueError`` naming the first bad one."""
    for name, value in settings.items():
        RULES[name](name, value)


def check_tensor(name: str, t: object, finite: bool = True) -> torch.Tensor:
    """``t`` is a float32/float64 tensor (``TypeError`` otherwise) with only finite entries
    when ``finite`` (``ValueError`` otherwise, counting the NaN/inf entries)."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dtype not in SUPPORTED_DTYPES:
        raise TypeError(f"{name} has dtype {t.dtype}; supported dtypes are torch.float32 and torch.float64 "
                        f"(convert with .float() or .double())")
    if finite:
        bad = int((~torch.isfinite(t)).sum())
        if bad:
            raise ValueError(f"{name} contains {bad} NaN or infinite entries out of {t.numel()}")
    return t


_INSIDE = (os.path.dirname(os.path.abspath(__file__)), os.path.dirname(os.path.abspath(torch.__file__)))


def caller_stacklevel() -> int:
    """The ``stacklevel`` for ``warnings.warn``, called from the function that warns, that
    attributes the warning to the first line outside invgen and torch: the caller's own line,
    where the problem can be fixed, not invgen's file."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_INSIDE):
        frame, level = frame.f_back, level + 1
    return level
