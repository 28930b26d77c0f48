"""GaussianCS's exact pseudo-inverse against numpy's SVD pseudo-inverse of the same matrix."""
import numpy as np
import pytest
import torch

from invgen.operators import GaussianCS


@pytest.mark.parametrize("m", [1, 150, 300], ids=["one-row", "half", "square"])
@pytest.mark.parametrize("eps", [0.0, 0.3])
def test_pinv_matches_numpy_in_float64(m, eps):
    A = GaussianCS((3, 10, 10), m, seed=4)
    phi = A.matrix.double().numpy()
    y = np.random.default_rng(0).standard_normal((2, m))
    expected = y @ np.linalg.pinv(phi).T if eps == 0 else y @ np.linalg.solve(phi @ phi.T + eps * np.eye(m), phi)
    got = A.pinv(torch.from_numpy(y), eps=eps).flatten(1).numpy()
    assert np.abs(got - expected).max() <= 1e-9 * np.abs(expected).max()
    if eps == 0:  # A A⁺ y = y: full row rank
        residual = np.linalg.norm(got @ phi.T - y) / np.linalg.norm(y)
        assert residual <= (1e-6 if m == 300 else 1e-12)

