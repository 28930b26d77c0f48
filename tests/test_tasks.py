"""Task strings → operators, and the method pipeline's own pieces."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.fft
import torch

from invgen.app.tasks import make_operator
from invgen.forward import ForwardModel
from invgen.operators import Blur, GaussianCS, Identity, Mask, SubsampledDCT, SuperResolution
from invgen.solvers import back_project, bicubic_upsample, reconstruct_mean
from invgen.solvers.back_projection import noise_adapted_eps

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
    assert noise_adapted_eps(ForwardModel(A), y, x).eq(0).all()
    eps = noise_adapted_eps(ForwardModel(A, sigma=0.1), y, x)
    # Residual energy 16·0.01 equals the expected noise (huge η: no correction);
    # residual 16·1 is mostly signal (η = 0.16 / 15.84).
    assert eps[0] > 100 and abs(eps[1].item() - 0.16 / 15.84) < 1e-6


def test_noise_adapted_eps_of_poisson_noise_reads_each_images_counts():
    # Poisson noise of peak 100 on y: expected ‖n‖² = Σ y / 100 per image, 0.04 for image 0
    # (16 entries of 0.25) and 0.16 for image 1 (16 of 1.0).
    A = Identity((1, 4, 4))
    y = torch.stack([torch.full((1, 4, 4), 0.25), torch.full((1, 4, 4), 1.0)])
    x = torch.stack([torch.full((1, 4, 4), 0.2), torch.full((1, 4, 4), 0.0)])
    eps = noise_adapted_eps(ForwardModel(A, noise="poisson", peak=100.0), y, x)
    # image 0: residual 16·0.05² = 0.04, all noise (huge η); image 1: residual 16, η = 0.16 / 15.84
    assert eps[0] > 100 and abs(eps[1].item() - 0.16 / 15.84) < 1e-6


def test_back_projection_of_a_noisy_model_regularises_each_image_with_its_own_eps():
    A = SuperResolution((1, 8, 8), 2)
    g = torch.Generator().manual_seed(0)
    x_true, x_guess = torch.rand(2, 1, 8, 8, generator=g), torch.rand(2, 1, 8, 8, generator=g)
    x_guess[1] = x_true[1] + 0.01 * torch.randn(1, 8, 8, generator=g)  # image 1 is nearly right already
    model = ForwardModel(A, sigma=0.05)
    y = model.measure(x_true, torch.Generator().manual_seed(1))
    etas = noise_adapted_eps(model, y, x_guess)
    assert etas[1] > 10 * etas[0]  # a residual of mostly noise is corrected less
    expected = torch.cat([x_guess[i:i + 1] + A.pinv(y[i:i + 1] - A(x_guess[i:i + 1]), eps=float(etas[i]))
                          for i in range(2)])
    torch.testing.assert_close(back_project(model, y, x_guess), expected)
    # an operator, or the noiseless model, projects exactly onto {x : A x = y}
    for exact in (A, ForwardModel(A)):
        torch.testing.assert_close(A(back_project(exact, y, x_guess)), y)
    # a given eps is used for every image, noisy model or not
    torch.testing.assert_close(back_project(model, y, x_guess, eps=0.5), x_guess + A.pinv(y - A(x_guess), eps=0.5))


def test_bicubic_only_for_super_resolution():
    with pytest.raises(ValueError, match="super-resolution"):
        bicubic_upsample(Identity(SHAPE), torch.zeros(1, *SHAPE))
    A = SuperResolution(SHAPE, 4)
    x = torch.rand(1, *SHAPE)
    assert bicubic_upsample(A, A(x)).shape == x.shape


def test_reconstruct_rejects_unknown_methods_and_missing_generator():
    A = Identity(SHAPE)
    with pytest.raises(ValueError, match="unknown method"):
        reconstruct_mean(A, torch.zeros(1, *SHAPE), ["magic"])
    with pytest.raises(ValueError, match="need a generator"):
        reconstruct_mean(A, torch.zeros(1, *SHAPE), ["csgm"])
    with pytest.raises(ValueError, match="csgm, iagan need a generator"):  # and the method it continues from
        reconstruct_mean(A, torch.zeros(1, *SHAPE), ["iagan-bp"])


def test_lasso_dct_recovers_an_image_sparse_in_the_dct_where_the_pseudo_inverse_does_not():
    coefficients = np.zeros((1, 16, 16))
    coefficients[0, 0, 0] = 8.0  # a mean of 0.5
    coefficients[0, [1, 2, 4, 7], [3, 0, 5, 1]] = [0.6, -0.5, 0.4, -0.3]
    x = torch.from_numpy(scipy.fft.idctn(coefficients, axes=(1, 2), norm="ortho")).float()[None]
    A = GaussianCS((1, 16, 16), 96, seed=0)
    estimates = reconstruct_mean(A, A(x), ["lasso-dct", "pinv"])
    error = {name: (x_hat - x).square().mean().item() for name, x_hat in estimates.items()}
    assert error["lasso-dct"] < 0.01 * error["pinv"], error
