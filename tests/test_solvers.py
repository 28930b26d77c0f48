"""The solver loop and the methods on it: outcomes that could fail, on a tiny generator."""
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from invgen.forward import ForwardModel
from invgen.generators import wrap
from invgen.metrics import psnr
from invgen.operators import Blur, GaussianCS, Mask, SuperResolution
from invgen.priors import ImageAdaptivePrior, Prior
from invgen.solvers import (
    PAPER_CSGM,
    PAPER_IAGAN,
    CSGMSettings,
    DIPSettings,
    Estimates,
    IAGANSettings,
    SolveResult,
    back_project,
    csgm,
    dip,
    iagan,
    solve,
)

LATENT, SHAPE = 8, (1, 16, 16)


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_generator(seed: int = 0):
    """A random 16×16 DCGAN-like generator (linear → 2 transposed convs, batch norm, eval)."""
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Linear(LATENT, 32 * 4 * 4), nn.Unflatten(1, (32, 4, 4)), nn.BatchNorm2d(32), nn.ReLU(),
        nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.ConvTranspose2d(16, 1, 4, 2, 1), nn.Tanh(),
    )
    return wrap(net, LATENT).eval()


@pytest.fixture(scope="module")
def G():
    return tiny_generator()


@pytest.fixture(scope="module")
def cs():
    return GaussianCS(SHAPE, 128)  # m/n = 0.5


def in_range_images(G, n=2):
    with torch.no_grad():
        return G(torch.randn(n, LATENT, generator=torch.Generator().manual_seed(5)))


def out_of_range_images(n=2):
    """Smoothed noise: nothing a generator with an 8-dimensional latent can make."""
    noise = torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(1))
    return F.avg_pool2d(noise, 3, 1, 1)


def best_start(**changes) -> CSGMSettings:
    """CSGM as the paper runs it (each image's best start, no latent penalty), with ``changes``."""
    return replace(PAPER_CSGM, **changes)


def fit_all(**changes) -> IAGANSettings:
    """IAGAN as the paper runs it (every measurement fitted), with ``changes``."""
    return replace(PAPER_IAGAN, **changes)


def latents(z: torch.Tensor) -> Estimates:
    """A start for :func:`iagan` from latents ``(B, latent_dim)``, one per image."""
    return Estimates(x=torch.zeros(len(z), 1, *SHAPE), z=z.unsqueeze(1))


# ------------------------------------------------------------------ outcomes of the methods
def test_csgm_recovers_an_image_in_the_generators_range_from_half_the_measurements(G, cs):
    x = in_range_images(G)
    result = csgm(cs, cs(x), G, best_start(steps=200, restarts=2), progress=False)
    assert result.x.shape == (2, 1, *SHAPE) and result.z.shape == (2, 1, LATENT)
    assert (psnr(result.x[:, 0], x) >= 30).all(), psnr(result.x[:, 0], x)
    torch.testing.assert_close(result.x[:, 0], G(result.z[:, 0]))


def test_csgm_in_mixed_precision_recovers_the_image_as_well(G, cs):
    x = in_range_images(G)
    y = cs(x)
    full = csgm(cs, y, G, best_start(steps=300, restarts=2), progress=False)
    mixed = csgm(cs, y, G, best_start(steps=300, restarts=2, precision="bfloat16"), progress=False)
    assert mixed.x.dtype == torch.float32 and mixed.z.dtype == torch.float32
    assert not torch.equal(mixed.x, full.x)  # the generator did run in bfloat16
    # bfloat16 keeps ~3 digits: the image is found, to the precision it is computed in
    full_x, mixed_x = full.x[:, 0], mixed.x[:, 0]
    assert (psnr(full_x, x) > 60).all() and (psnr(mixed_x, x) > 45).all(), (psnr(mixed_x, x), psnr(full_x, x))
    assert (psnr(G(mixed.z[:, 0]), x) > 45).all()


def test_iagan_in_mixed_precision_adapts_every_images_weights_as_well(G, cs):
    x = out_of_range_images()
    y = cs(x)
    start = csgm(cs, y, G, best_start(steps=100, restarts=2), progress=False)
    full = iagan(cs, y, G, start, fit_all(steps=100), progress=False)
    mixed = iagan(cs, y, G, start, fit_all(steps=100, precision="bfloat16"), progress=False)
    assert mixed.x.dtype == torch.float32 and not torch.equal(mixed.x, full.x)
    assert (mixed.objective <= 0.5 * start.objective).all() and (mixed.objective <= 2 * full.objective).all(), (
        mixed.objective, full.objective, start.objective)


def test_iagan_fits_an_out_of_range_image_far_better_than_csgm(G, cs):
    x = out_of_range_images()
    y = cs(x)
    start = csgm(cs, y, G, best_start(steps=200, restarts=2), progress=False)
    adapted = iagan(cs, y, G, start, fit_all(steps=200), progress=False)  # the paper's learning rates
    # CSGM plateaus (mode collapse); adapting θ lowers the objective at least 4-fold.
    assert (adapted.objective <= 0.25 * start.objective).all(), (adapted.objective, start.objective)
    assert (psnr(adapted.x[:, 0], x) > psnr(start.x[:, 0], x)).all()


OPERATORS = {
    "super-resolution": lambda: SuperResolution((3, 16, 16), 2),
    "gaussian-cs": lambda: GaussianCS((3, 16, 16), 300),
    "blur": lambda: Blur.gaussian((3, 16, 16), sigma=1.0),
    "mask": lambda: Mask((3, 16, 16), torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0)) > 0.5),
}


@pytest.mark.parametrize("name", OPERATORS)
def test_back_projection_makes_the_estimate_consistent_with_y(name):
    A = OPERATORS[name]()
    g = torch.Generator().manual_seed(2)
    x_true, x_guess = torch.rand(2, 3, 16, 16, generator=g), torch.rand(2, 3, 16, 16, generator=g)
    y = A(x_true)
    before = ((A(x_guess) - y).flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1))
    x_bp = back_project(A, y, x_guess)
    after = ((A(x_bp) - y).flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1))
    assert (before > 1e-2).all()
    assert (after <= 1e-5).all(), after
    # Regularised back-projection corrects less, and is still closer than the guess.
    soft = ((A(back_project(A, y, x_guess, eps=1.0)) - y).flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1))
    assert (after < soft).all() and (soft < before).all()


def test_dip_fits_the_measurements(cs):
    x = out_of_range_images(1)
    y = cs(x)
    result = dip(cs, y, DIPSettings(steps=60), progress=False)
    assert result.x.shape == (1, 1, *SHAPE) and result.objective.shape == (1, 1)
    assert result.objective[0, 0] <= 0.1 * result.solve.history[0, 0]
    assert result.z is None
    with pytest.raises(AttributeError, match="no latent"):
        _ = result.solve.z


# ------------------------------------------------------------------ restarts and batches
def test_the_best_estimate_is_the_start_of_smallest_objective_of_each_image():
    objective = torch.tensor([3.0, 1.0, 2.0, 0.5, float("nan"), 4.0])
    result = SolveResult(x=torch.arange(6.0).view(6, 1, 1, 1), objective=objective,
                         history=objective.repeat(5, 1), state={"z": torch.arange(6.0).view(6, 1)})
    estimates = Estimates.from_rows(result, 3)
    assert estimates.x.shape == (2, 3, 1, 1, 1) and estimates.k == 3
    assert estimates.x[1, :, 0, 0, 0].tolist() == [3.0, 4.0, 5.0]  # image-major rows
    best = estimates.best()
    assert best.k == 1 and best.x.shape == (2, 1, 1, 1, 1)
    assert best.x.flatten().tolist() == [1.0, 3.0]
    assert best.z.flatten().tolist() == [1.0, 3.0]  # NaN counts as worst
    assert best.objective.tolist() == [[1.0], [0.5]]
    assert best.solve.history.shape == (5, 2)
    with pytest.raises(ValueError, match="no objective"):
        Estimates.single(torch.zeros(2, 1, 1, 1)).best()


def test_csgm_keeps_every_start_or_each_images_best(G, cs):
    y = cs(out_of_range_images(2))
    every = csgm(cs, y, G, CSGMSettings(steps=30, restarts=3), progress=False)
    best = csgm(cs, y, G, CSGMSettings(steps=30, restarts=3, average=False), progress=False)
    assert every.x.shape == (2, 3, *SHAPE) and every.objective.shape == (2, 3) and every.z.shape == (2, 3, LATENT)
    assert best.x.shape == (2, 1, *SHAPE)
    rows = every.objective.argmin(1)
    assert torch.equal(best.x[:, 0], every.x[torch.arange(2), rows])
    assert torch.equal(best.objective[:, 0], every.objective.min(1).values)
    assert not torch.allclose(every.x[:, 0], every.x[:, 1])  # distinct starts, distinct estimates
    torch.testing.assert_close(every.mean(), every.x.mean(1))


def test_more_restarts_never_do_worse_per_image(G, cs):
    y = cs(out_of_range_images(3))
    one = csgm(cs, y, G, best_start(steps=30, restarts=1), progress=False)
    four = csgm(cs, y, G, best_start(steps=30, restarts=4), progress=False)  # its first start is `one`'s start
    assert (four.objective <= one.objective * (1 + 1e-4)).all()
    assert (four.objective < 0.99 * one.objective).any()


def test_each_image_of_a_batch_is_solved_on_its_own(G, cs):
    x = torch.cat([in_range_images(G, 1), out_of_range_images(2)])
    y, y_other = cs(x[:2]), cs(x[[0, 2]])  # the same first image, a different second one

    # csgm: image 0's result is the same whatever image 1 is, and the same alone.
    both, other = (csgm(cs, v, G, best_start(steps=40, restarts=2), progress=False) for v in (y, y_other))
    assert torch.equal(both.z[0], other.z[0]) and torch.equal(both.x[0], other.x[0])
    alone = csgm(cs, y[:1], G, best_start(steps=40, restarts=2), progress=False)
    torch.testing.assert_close(both.z[:1], alone.z, atol=1e-4, rtol=1e-4)

    # iagan: each image adapts its own copy of θ …
    adapted, adapted_other = (iagan(cs, v, G, latents(both.z[:, 0]), fit_all(steps=20, lr_theta=1e-3),
                                    progress=False) for v in (y, y_other))
    assert torch.equal(adapted.x[0], adapted_other.x[0])
    assert not torch.allclose(adapted.x[1], adapted_other.x[1])

    # … and so does dip with its network.
    fitted, fitted_other = (dip(cs, v, DIPSettings(steps=10), progress=False) for v in (y, y_other))
    assert torch.equal(fitted.x[0], fitted_other.x[0])
    assert not torch.allclose(fitted.x[1], fitted_other.x[1])


def test_iagan_leaves_the_users_generator_untouched(G, cs):
    before = {k: v.clone() for k, v in G.state_dict().items()}
    y = cs(out_of_range_images(2))
    iagan(cs, y, G, latents(torch.zeros(2, LATENT)), fit_all(steps=10, lr_theta=1e-2), progress=False)
    assert all(torch.equal(v, before[k]) for k, v in G.state_dict().items())
    assert not G.training
    assert all(p.grad is None for p in G.parameters())


def test_the_same_seed_gives_identical_results(G, cs):
    y = cs(out_of_range_images(2))
    a = csgm(cs, y, G, best_start(steps=20, restarts=2), seed=7, progress=False)
    b = csgm(cs, y, G, best_start(steps=20, restarts=2), seed=7, progress=False)
    c = csgm(cs, y, G, best_start(steps=20, restarts=2), seed=8, progress=False)
    assert torch.equal(a.x, b.x) and torch.equal(a.z, b.z)
    assert not torch.equal(a.z, c.z)
    five = DIPSettings(steps=5)
    assert torch.equal(dip(cs, y, five, seed=3, progress=False).x, dip(cs, y, five, seed=3, progress=False).x)


# ------------------------------------------------------------------ input validation
@pytest.mark.parametrize("bad", ["nan", "inf", "no batch dim", "wrong size"])
def test_bad_measurements_raise_value_error(G, cs, bad):
    y = cs(in_range_images(G, 1))
    if bad == "nan":
        y[0, 3] = float("nan")
    elif bad == "inf":
        y[0, 3] = float("inf")
    elif bad == "no batch dim":
        y = y[0]
    else:
        y = y[:, :100]
    message = "NaN or infinite" if bad in ("nan", "inf") else "shape"
    calls = [
        lambda: csgm(cs, y, G, CSGMSettings(steps=2), progress=False),
        lambda: iagan(cs, y, G, latents(torch.zeros(1, LATENT)), IAGANSettings(steps=2), progress=False),
        lambda: dip(cs, y, DIPSettings(steps=2), progress=False),
        lambda: back_project(cs, y, torch.zeros(1, *SHAPE)),
        lambda: back_project(ForwardModel(cs, sigma=0.1), y, torch.zeros(1, *SHAPE)),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=message):
            call()


def test_a_prior_making_the_wrong_number_of_images_is_refused(G, cs):
    y = cs(in_range_images(G, 2))
    prior = ImageAdaptivePrior(G, torch.zeros(3, LATENT), lr_z=1e-4, lr_theta=1e-4)
    with pytest.raises(ValueError, match="makes 3 images"):
        solve(cs, y, prior, 2, progress=False)
    # iagan names a start that is not of these images before it builds the prior
    with pytest.raises(ValueError, match="start must be the latent search's estimates of these 2 images"):
        iagan(cs, y, G, latents(torch.zeros(3, LATENT)), IAGANSettings(steps=2), progress=False)
    with pytest.raises(ValueError, match="start must be the latent search's estimates"):
        iagan(cs, y, G, Estimates.single(torch.zeros(2, *SHAPE)), IAGANSettings(steps=2), progress=False)


# ------------------------------------------------------------------ the loop itself
class PixelPrior(Prior):
    """x = p directly (a prior-free least-squares fit), with hooks to misbehave."""

    def __init__(self, x0, lr=0.1, poison_at=None):
        self.p = x0.clone().requires_grad_()
        self.lr, self.poison_at, self.calls = lr, poison_at, 0

    def parameter_groups(self):
        return [{"params": [self.p], "lr": self.lr}]

    def __call__(self):
        self.calls += 1
        if self.poison_at is not None and self.calls > self.poison_at:
            # image 1 diverges; image 0 is untouched
            return torch.cat([self.p[:1], self.p[1:] * float("nan")])
        return self.p

    def state(self):
        return {"p": self.p.detach()}


def test_a_non_finite_objective_returns_the_best_finite_iterate_and_spares_the_others(cs):
    y = cs(out_of_range_images(2))
    x0 = torch.full((2, *SHAPE), 0.5)
    clean = solve(cs, y, PixelPrior(x0), 30, progress=False)
    poisoned = solve(cs, y, PixelPrior(x0, poison_at=10), 30, progress=False)
    assert torch.isfinite(poisoned.x).all() and torch.isfinite(poisoned.objective).all()
    assert poisoned.objective[1] == clean.history[:10, 1].min()  # the best of the finite iterates
    torch.testing.assert_close(poisoned.state["p"][1], poisoned.x[1])
    torch.testing.assert_close(poisoned.x[0], clean.x[0])
    assert poisoned.history.shape == (31, 2)  # the start and 30 updates


def test_patience_stops_an_image_that_no_longer_improves(cs):
    y = cs(out_of_range_images(2))
    frozen = PixelPrior(torch.full((2, *SHAPE), 0.5), lr=0.0)  # the objective never changes
    result = solve(cs, y, frozen, 100, patience=5, progress=False)
    assert result.history.shape[0] == 6  # the first step improves on +inf, then 5 without gain
    assert solve(cs, y, PixelPrior(torch.full((2, *SHAPE), 0.5)), 40, patience=5,
                 progress=False).history.shape[0] == 41  # a converging fit keeps going: start + 40 updates


def test_the_discrepancy_principle_stops_at_the_noise_level(cs):
    sigma = 0.02
    y = cs(out_of_range_images(2)) + sigma * torch.randn(2, 128, generator=torch.Generator().manual_seed(0))
    noise_level = 128 * sigma**2
    model = ForwardModel(cs, sigma=sigma)  # the noise level comes with the model
    result = solve(model, y, PixelPrior(torch.full((2, *SHAPE), 0.5)), 500, progress=False)
    misfit = (y - cs(result.x)).square().sum(1)
    assert result.history.shape[0] < 500
    assert (misfit <= noise_level).all()
    assert (misfit >= 0.5 * noise_level).all()  # stopped near the noise level, not at 0
    with_tau = solve(model, y, PixelPrior(torch.full((2, *SHAPE), 0.5)), 500, discrepancy=2.0, progress=False)
    assert with_tau.history.shape[0] < result.history.shape[0]
    unstopped = solve(model, y, PixelPrior(torch.full((2, *SHAPE), 0.5)), 500, discrepancy=None, progress=False)
    assert unstopped.history.shape[0] == 501


def test_iagan_stops_by_the_discrepancy_principle_before_fitting_the_noise(G, cs):
    sigma = 0.02
    y = cs(out_of_range_images(1)) + sigma * torch.randn(1, 128, generator=torch.Generator().manual_seed(0))
    start = csgm(cs, y, G, best_start(steps=100), progress=False)
    result = iagan(ForwardModel(cs, sigma=sigma), y, G, start, IAGANSettings(steps=400, lr_theta=1e-3),
                   progress=False)
    assert result.solve.history.shape[0] < 200  # 400 halved for noise, then stopped early
    assert (y - cs(result.x[:, 0])).square().sum() <= 128 * sigma**2
    assert result.solve.validation_history is None  # under Gaussian noise nothing is held out


def test_iagan_with_held_out_measurements_stops_before_it_fits_the_noise(G, cs):
    # Heavy noise and no noise level given: fitting every measurement for 300 steps fits the
    # noise; the iterate that predicts the held-out fifth is an earlier, better one.
    x = out_of_range_images(2)
    y = cs(x) + 0.3 * torch.randn(2, 128, generator=torch.Generator().manual_seed(0))
    start = csgm(cs, y, G, best_start(steps=100), progress=False)
    plain = iagan(cs, y, G, start, IAGANSettings(steps=300, lr_theta=1e-3, holdout=0.0), progress=False)
    held = iagan(cs, y, G, start, IAGANSettings(steps=300, lr_theta=1e-3, holdout=0.2), progress=False)
    assert plain.solve.validation_history is None and held.solve.validation_history is not None
    assert (plain.solve.best_step >= 290).all()
    assert (held.solve.best_step < 150).all(), held.solve.best_step
    held_psnr, plain_psnr = psnr(held.x[:, 0], x), psnr(plain.x[:, 0], x)
    assert (held_psnr > plain_psnr).all(), (held_psnr, plain_psnr)


def test_iagan_halves_its_steps_for_noisy_measurements(G, cs):
    y = cs(out_of_range_images(1))
    start = latents(torch.zeros(1, LATENT))
    assert iagan(cs, y, G, start, IAGANSettings(steps=20), progress=False).solve.history.shape[0] == 21
    # σ so small that the discrepancy principle cannot stop it first
    noisy = ForwardModel(cs, sigma=1e-6)
    assert iagan(noisy, y, G, start, IAGANSettings(steps=20), progress=False).solve.history.shape[0] == 11
    # one step is one update, even halved: noisy IAGAN never does nothing
    assert iagan(noisy, y, G, start, IAGANSettings(steps=1), progress=False).solve.history.shape[0] == 2
    # Poisson noise halves them too, and still holds measurements out (no σ to stop by)
    sr = SuperResolution(SHAPE, 2)
    counts = ForwardModel(sr, noise="poisson", peak=50.0)
    y_counts = counts.measure(out_of_range_images(1), torch.Generator().manual_seed(0))
    poisson = iagan(counts, y_counts, G, start, IAGANSettings(steps=20), progress=False)
    assert poisson.solve.history.shape[0] == 11 and poisson.solve.validation_history is not None
    exact = iagan(sr, sr(out_of_range_images(1)), G, start, IAGANSettings(steps=20), progress=False)
    assert exact.solve.history.shape[0] == 21 and exact.solve.validation_history is not None


@pytest.mark.slow
def test_the_pipeline_on_the_default_64x64_architecture_for_x4_super_resolution():
    from invgen.generators.face64 import build_face64

    torch.manual_seed(0)
    G64 = build_face64(latent_dim=128, width=32)  # untrained: only its range matters here
    A = SuperResolution((3, 64, 64), 4)
    with torch.no_grad():
        x = G64(torch.randn(2, 128, generator=torch.Generator().manual_seed(3)))
    assert (psnr(csgm(A, A(x), G64, best_start(steps=300, restarts=2), progress=False).x[:, 0], x) >= 30).all()

    x_out = F.avg_pool2d(torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1)), 5, 1, 2)
    y = A(x_out)
    start = csgm(A, y, G64, best_start(steps=300, restarts=2), progress=False)
    adapted = iagan(A, y, G64, start, fit_all(steps=200), progress=False)
    assert (adapted.objective <= 0.1 * start.objective).all()
    x_bp = back_project(A, y, start.x[:, 0])
    assert ((A(x_bp) - y).flatten(1).norm(dim=1) <= 1e-5 * y.flatten(1).norm(dim=1)).all()
    assert (psnr(x_bp, x_out) > psnr(start.x[:, 0], x_out)).all()
