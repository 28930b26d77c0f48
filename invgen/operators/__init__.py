"""Linear measurement operators: values you can apply, transpose, invert and compose.

``A(x)``, ``A.adjoint(y)``, ``A.T``, ``A.pinv(y, eps)``, ``A @ B``, ``A + B``, ``c * A``;
``check(A)`` tests any operator (yours too) against the identities they all must satisfy.
"""
from invgen.operators.base import (
    Adjoint,
    Composition,
    LinearOperator,
    Scaled,
    Sum,
    singular_threshold,
)
from invgen.operators.blur import Blur
from invgen.operators.identities import CheckReport, OperatorCheckError, check
from invgen.operators.dct import SubsampledDCT
from invgen.operators.gaussian_cs import GaussianCS
from invgen.operators.identity import Identity
from invgen.operators.mask import Mask
from invgen.operators.padding import BOUNDARIES, Pad, ValidCorrelation
from invgen.operators.pylops_bridge import PylopsOperator, from_pylops, to_pylops
from invgen.operators.super_resolution import (
    SuperResolution,
    bicubic_kernel,
    keys_cubic,
)

__all__ = [
    "Adjoint",
    "BOUNDARIES",
    "Blur",
    "CheckReport",
    "Composition",
    "GaussianCS",
    "Identity",
    "LinearOperator",
    "Mask",
    "OperatorCheckError",
    "Pad",
    "PylopsOperator",
    "Scaled",
    "SubsampledDCT",
    "Sum",
    "SuperResolution",
    "ValidCorrelation",
    "bicubic_kernel",
    "check",
    "from_pylops",
    "keys_cubic",
    "singular_threshold",
    "to_pylops",
]
