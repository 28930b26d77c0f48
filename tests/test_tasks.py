"""Task strings → operators, and the method pipeline's own pieces."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.fft
import torch

from invgen.app.tasks import make_operator
from invgen.operators import Blur, GaussianCS, Identity, Mask, SubsampledDCT, SuperResolution
from invgen.solvers import reconstruct
from invgen.solvers.back_projection import noise_adapted_eps
from invgen.solvers.methods.baselines import bicubic_upsample

SHAPE = (3, 32, 32)


@pytest.mark.parametrize(
    "task, kind, out_shape",
    [
        ("sr4", SuperResolution, (3, 8, 8)),
        ("sr8", SuperResolution, (3, 4, 4)),
        ("cs:0.1", GaussianCS, (307,)),
        ("dct:0.5", SubsampledDCT, (1536,)),
        ("blur", Blur, SHAPE),
        ("blur:2.5", Blur, SHAPE),
        ("inpaint", Mask, SHAPE),
        ("denoise", Identity, SHAPE),
    ],
)
def test_tasks_build_their_operator(task, kind, out_shape):
    A = make_operator(task, SHAPE)
    assert isinstance(A, kind)
    assert A.out_shape == out_shape


def test_inpaint_hides_the_eye_band():
    A = make_operator("inpaint", (3, 64, 64))
    assert A.mask[:, 30, 32].eq(0).all() and A.mask[:, 5, 5].eq(1).all()


@pytest.mark.parametrize("task", ["sr5", "sr1", "cs:0", "cs:1.5", "blur:0", "warp", "dct:x"])
def test_bad_tasks_say_what_is_expected(task):
    with pytest.raises(ValueError, match="task|ratio|factor|sigma"):
        make_operator(task, SHAPE)


def test_noise_adapted_eps():
    A = Identity((1, 4, 4))
    y = torch.zeros(2, 1, 4, 4)
    x = torch.stack([torch.full((1, 4, 4), 0.1), torch.full((1, 4, 4), 1.0)])
    assert noise_adapted_eps(A, y, x, 0.0).eq(0).all()
    eps = noise_adapted_eps(A, y, x, 0.1)
    # Residual energy 16·0.01 equals the expected noise (huge η: no correction);
    # residual 16·1 is mostly signal (η = 0.16 / 15.84).
    assert eps[0] > 100 and abs(eps[1].item() - 0.16 / 15.84) < 1e-6


def test_bicubic_only_for_super_resolution():
    with pytest.raises(ValueError, match="super-resolution"):
        bicubic_upsample(Identity(SHAPE), torch.zeros(1, *SHAPE))
    A = SuperResolution(SHAPE, 4)
    x = torch.rand(1, *SHAPE)
    assert bicubic_upsample(A, A(x)).shape == x.shape


def test_reconstruct_rejects_unknown_methods_and_missing_generator():
    A = Identity(SHAPE)
    with pytest.raises(ValueError, match="unknown method"):
        reconstruct(A, torch.zeros(1, *SHAPE), ["magic"])
    with pytest.raises(ValueError, match="need a generator"):
        reconstruct(A, torch.zeros(1, *SHAPE), ["csgm"])


def test_lasso_dct_recovers_an_image_sparse_in_the_dct_where_the_pseudo_inverse_does_not():
    coefficients = np.zeros((1, 16, 16))
    coefficients[0, 0, 0] = 8.0  # a mean of 0.5
    coefficients[0, [1, 2, 4, 7], [3, 0, 5, 1]] = [0.6, -0.5, 0.4, -0.3]
    x = torch.from_numpy(scipy.fft.idctn(coefficients, axes=(1, 2), norm="ortho")).float()[None]
    A = GaussianCS((1, 16, 16), 96, seed=0)
    estimates = reconstruct(A, A(x), ["lasso-dct", "pinv"])
    error = {name: (x_hat - x).square().mean().item() for name, x_hat in estimates.items()}
    assert error["lasso-dct"] < 0.01 * error["pinv"], error
