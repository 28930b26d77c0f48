"""The forward model y = A x + n: its noise has the stated law, seeds reproduce it, and
bad settings are named."""
import pytest
import torch

from invgen.forward import ForwardModel, Gaussian, Poisson
from invgen.operators import Blur, GaussianCS, Identity, SuperResolution
from invgen.fidelity import PoissonNLL, squared_error

SHAPE = (3, 16, 16)


def _images(n=2, seed=0):
    return torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(seed))


def test_gaussian_noise_is_sigma_times_the_generators_normals():
    A, x = SuperResolution(SHAPE, 2), _images()
    model = ForwardModel(A, sigma=0.05)
    y = model.measure(x, torch.Generator().manual_seed(7))
    # The recipe the command line used by hand: one generator for the batch.
    expected = A(x) + 0.05 * torch.randn(A(x).shape, generator=torch.Generator().manual_seed(7))
    assert torch.equal(y, expected)
    assert model.noise == Gaussian(0.05) and model.fidelity is squared_error
    assert torch.equal(ForwardModel(A).measure(x), A(x))  # σ = 0: exact


def test_gaussian_noise_has_the_stated_standard_deviation_and_follows_the_dtype():
    A = GaussianCS(SHAPE, 300)
    x = _images(8).double()
    y = ForwardModel(A, sigma=0.1).measure(x, torch.Generator().manual_seed(0))
    assert y.dtype == torch.float64
    residual = (y - A(x)).flatten()
    assert abs(residual.std().item() - 0.1) < 0.005 and abs(residual.mean().item()) < 0.005


def test_per_image_seeds_give_an_image_the_same_noise_in_any_batch():
    A, x = Identity(SHAPE), _images(3)
    model = ForwardModel(A, sigma=0.2)
    batch = model.measure(x, seeds=[10, 11, 12])
    alone = model.measure(x[1:2], seeds=[11])
    assert torch.equal(batch[1:2], alone)
    # the experiments' recipe: image i's noise from its own generator
    expected = x[2] + 0.2 * torch.randn(A.out_shape, generator=torch.Generator().manual_seed(12))
    assert torch.equal(batch[2], expected)
    assert not torch.equal(batch[0] - x[0], batch[1] - x[1])


def test_poisson_noise_has_mean_ax_and_variance_ax_over_peak():
    A = Blur.gaussian(SHAPE, 1.0)  # FFT rounding leaves tiny negatives: they count as 0
    x = 0.2 + 0.6 * _images(4)
    peak = 50.0
    model = ForwardModel(A, noise="poisson", peak=peak)
    y = model.measure(x, torch.Generator().manual_seed(1))
    counts = y * peak
    assert torch.allclose(counts, counts.round(), atol=1e-3)  # whole photons
    Ax = A(x)
    standardised = (y - Ax) / (Ax / peak).sqrt()
    assert abs(standardised.mean().item()) < 0.05 and abs(standardised.std().item() - 1) < 0.05
    assert model.noise == Poisson(peak) and not model.noise.known_level
    assert isinstance(model.fidelity, PoissonNLL) and model.fidelity.peak == peak
    assert torch.equal(y, model.measure(x, torch.Generator().manual_seed(1)))


def test_poisson_noise_refuses_negative_rates():
    x = _images(1) - 0.5
    with pytest.raises(ValueError, match=r"Poisson noise needs A x ≥ 0.*-0\.\d"):
        ForwardModel(Identity(SHAPE), noise="poisson", peak=10.0).measure(x)


A16 = Identity(SHAPE)


@pytest.mark.parametrize("make, error, culprit", [
    (lambda: ForwardModel(A16, sigma=float("nan")), ValueError, "sigma"),
    (lambda: ForwardModel(A16, sigma=float("inf")), ValueError, "sigma"),
    (lambda: ForwardModel(A16, sigma=-0.1), ValueError, "sigma"),
    (lambda: ForwardModel(A16, noise="laplace"), ValueError, "noise must be a Noise object or one of gaussian, poisson"),
    (lambda: ForwardModel(A16, Gaussian(0.1), sigma=0.1), ValueError, "sigma and peak set the level of noise given by name"),
    (lambda: Gaussian(-1.0), ValueError, "sigma"),
    (lambda: Poisson(0.0), ValueError, "peak"),
    (lambda: ForwardModel(A16, noise="poisson"), ValueError, "needs peak"),
    (lambda: ForwardModel(A16, noise="poisson", peak=0.0), ValueError, "peak"),
    (lambda: ForwardModel(A16, noise="poisson", peak=float("inf")), ValueError, "peak"),
    (lambda: ForwardModel(A16, noise="poisson", peak=5.0, sigma=0.1), ValueError, "sigma .*Gaussian"),
    (lambda: ForwardModel(A16, sigma=0.1, peak=5.0), ValueError, "peak .*Poisson"),
    (lambda: ForwardModel("blur", sigma=0.1), TypeError, "A must be an invgen LinearOperator"),
    (lambda: ForwardModel(A16, sigma=0.1).measure(_images(2), seeds=[1]), ValueError, r"one seed per image \(2\)"),
    (lambda: ForwardModel(A16, sigma=0.1).measure(_images(1), torch.Generator(), seeds=[1]), ValueError,
     "either generator or seeds"),
])
def test_bad_settings_name_the_culprit(make, error, culprit):
    with pytest.raises(error, match=culprit):
        make()
