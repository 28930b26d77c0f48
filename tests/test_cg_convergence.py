"""CG's pseudo-inverse says when it stopped short of its tolerance: on an ill-conditioned
composition it is then far from ``A⁺y`` (error ~ cond(A)²·residual), and nothing else
shows it."""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch

from invgen.operators import Blur, SuperResolution


def _randn(shape, seed=0):
    return torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def _relative_error(x: torch.Tensor, expected: np.ndarray) -> float:
    return float(np.linalg.norm(x.reshape(len(x), -1).numpy() - expected) / np.linalg.norm(expected))


def test_an_ill_conditioned_composition_warns_with_the_residual_it_reached():
    # cond(A) ≈ 7e6, so CG on AᵀA (cond ≈ 5e13) is still far from 1e-8 after its 1000 steps.
    A = SuperResolution((1, 32, 32), 2) @ Blur.gaussian((1, 32, 32), 2.5)
    y = _randn((2, *A.out_shape))
    with pytest.warns(RuntimeWarning, match=r"after 1000 steps .* above the tolerance 1\.0e-08.*eps > 0") as record:
        x = A.pinv(y)
    # The residual it names is that of the normal equations, ‖Aᵀ(y − A x)‖ / ‖Aᵀy‖, of the worst image.
    assert record[0].filename == __file__  # the caller's line, not invgen's
    reported = float(re.search(r"relative residual of (\S+),", str(record[0].message)).group(1))
    true = ((A.T(y - A(x))).flatten(1).norm(dim=1) / A.T(y).flatten(1).norm(dim=1)).max().item()
    assert 1e-6 < reported and true / 10 < reported < true * 10, (reported, true)
    M = A.to_dense().numpy()
    exact = y.reshape(2, -1).numpy() @ np.linalg.pinv(M, rcond=1e-15).T
    assert _relative_error(x, exact) > 0.1  # what the warning is about
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        A.pinv(y, eps=1e-3)  # the advice: regularised, the system is well-conditioned and converges


def test_a_well_conditioned_composition_converges_without_a_warning():
    A = SuperResolution((1, 8, 8), 2) @ Blur.gaussian((1, 8, 8), 0.8)  # cond ≈ 10
    y = _randn((2, *A.out_shape), seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        x = A.pinv(y)
    exact = y.reshape(2, -1).numpy() @ np.linalg.pinv(A.to_dense().numpy()).T
    assert _relative_error(x, exact) < 1e-10
