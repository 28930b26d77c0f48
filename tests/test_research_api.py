"""The research API keeps one source of truth: a method's function called with no settings runs
exactly what ``reconstruct_mean`` (and so the command line) runs; the forward model carries the noise
and its likelihood through every method; results are (B, K, ...) with K explicit."""
from __future__ import annotations

import pytest
import torch

from invgen.fidelity import PoissonNLL, l1, squared_error
from invgen.forward import ForwardModel, Noise, forward_model
from invgen.generators.face64 import build_face64
from invgen.operators import SuperResolution
from invgen.priors import GenerativePrior
from invgen.solvers import (Budget, CSGMSettings, DGPSettings, DIPSettings, IAGANSettings, ILOSettings,
                            MGANpriorSettings, compare, csgm, dip, iagan, reconstruct_mean, reconstruct_samples, solve)
from invgen.solvers import adaptation, latent_search

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def problem():
    torch.manual_seed(0)
    G = build_face64(8, 4)
    A = SuperResolution((3, 64, 64), 8)
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    return G, A, x, A(x)


def test_functions_with_no_settings_run_what_reconstruct_runs(problem):
    G, A, _, y = problem
    start = csgm(A, y, G, progress=False)  # invgen's defaults: 1000 steps, 4 starts kept
    adapted = iagan(A, y, G, start, progress=False)
    samples = reconstruct_samples(A, y, ["csgm", "iagan"], G, progress=False)
    assert start.x.shape == (2, CSGMSettings().restarts, 3, 64, 64) == samples["csgm"].x.shape
    assert torch.equal(start.x, samples["csgm"].x) and torch.equal(adapted.x, samples["iagan"].x)
    assert torch.equal(start.x.mean(1), reconstruct_mean(A, y, ["csgm"], G, progress=False)["csgm"])
    # ... and the settings given to one run are the ones the other runs with.
    quick = Budget(csgm=CSGMSettings(steps=7, restarts=2), iagan=IAGANSettings(steps=3))
    alone = iagan(A, y, G, csgm(A, y, G, quick.of("csgm"), progress=False), quick.of("iagan"), progress=False)
    assert torch.equal(alone.x, reconstruct_samples(A, y, ["iagan"], G, budget=quick, progress=False)["iagan"].x)


def test_the_paper_preset_keeps_one_start_per_image(problem):
    G, A, _, y = problem
    estimates = reconstruct_samples(A, y, ["csgm-bp"], G, budget=Budget.paper().replace(
        csgm=CSGMSettings(steps=3, restarts=3, average=False, latent_weight=0.0)), progress=False)["csgm-bp"]
    assert estimates.k == 1 and estimates.objective.shape == (2, 1)


def record_fidelities(monkeypatch, module) -> list:
    seen = []
    solve = module.solve

    def spy(*args, **kwargs):
        seen.append(kwargs.get("fidelity") or forward_model(args[0]).fidelity)
        return solve(*args, **kwargs)

    monkeypatch.setattr(module, "solve", spy)
    return seen


def test_poisson_data_go_through_iagan_bp_with_their_likelihood(problem, monkeypatch):
    G, A, x, _ = problem
    model = ForwardModel(A, noise="poisson", peak=50)
    y = model.measure(x, torch.Generator().manual_seed(0))
    searched, adapted = record_fidelities(monkeypatch, latent_search), record_fidelities(monkeypatch, adaptation)
    budget = Budget(csgm=CSGMSettings(steps=5, restarts=2), iagan=IAGANSettings(steps=4))
    poisson = reconstruct_mean(model, y, ["iagan-bp"], G, budget=budget, progress=False)["iagan-bp"]
    assert isinstance(searched[0], PoissonNLL) and searched[0].peak == 50
    # IAGAN fits the Poisson likelihood on the measurements it does not hold out.
    assert isinstance(adapted[0].fidelity, PoissonNLL)
    gaussian = reconstruct_mean(ForwardModel(A, sigma=0.02), y, ["iagan-bp"], G, budget=budget,
                                progress=False)["iagan-bp"]
    assert searched[1] is squared_error and poisson.shape == gaussian.shape == x.shape
    assert torch.isfinite(poisson).all() and not torch.allclose(poisson, gaussian)


def test_solve_takes_the_forward_model_and_fits_its_likelihood(problem):
    G, A, x, _ = problem
    model = ForwardModel(A, noise="poisson", peak=50)
    y = model.measure(x, torch.Generator().manual_seed(0))
    result = solve(model, y, GenerativePrior(G, 2, lr=0.05), 3, progress=False)
    torch.testing.assert_close(result.objective, PoissonNLL(50)(A(result.x), y))


class Laplace(Noise):
    """A noise model of one's own: ``n ~ Laplace(0, b)`` i.i.d.; fidelity ``‖y − Ax‖₁`` (its
    negative log-likelihood times ``b``); expected energy ``2b²`` per measurement."""

    def __init__(self, b: float) -> None:
        self.b = b

    def sample(self, Ax, generator=None):
        u = torch.rand(Ax.shape, generator=generator, dtype=torch.float64) - 0.5
        return Ax - (self.b * u.sign() * torch.log1p(-2 * u.abs())).to(Ax)

    @property
    def fidelity(self):
        return l1

    def energy(self, y):
        return torch.full((len(y),), 2 * self.b**2 * y[0].numel(), dtype=y.dtype, device=y.device)


def test_a_noise_model_of_ones_own_goes_through_reconstruct_and_compare(problem):
    G, A, x, _ = problem
    model = ForwardModel(A, Laplace(0.05))
    y = model.measure(x, torch.Generator().manual_seed(0))
    assert abs((y - A(x)).std().item() - 0.05 * 2**0.5) < 0.01  # Laplace(b) has std b·√2
    budget = Budget(csgm=CSGMSettings(steps=4, restarts=2, latent_weight=0.0), iagan=IAGANSettings(steps=2))
    samples = reconstruct_samples(model, y, ["csgm", "iagan-bp"], G, budget=budget, progress=False)
    searched = samples["csgm"]  # its objective is the noise model's fidelity, ‖y − A x‖₁
    torch.testing.assert_close(searched.objective.flatten(), l1(A(searched.rows()), y.repeat_interleave(2, dim=0)))
    assert torch.isfinite(samples["iagan-bp"].x).all()
    result = compare(model, x, ["pinv", "csgm-bp"], G, budget=budget, progress=False)
    assert {r["method"] for r in result.records} == {"pinv", "csgm-bp"} and len(result.records) == 4


def test_noise_halves_iagans_steps_and_an_operator_alone_is_noiseless(problem):
    G, A, x, y = problem
    start = csgm(A, y, G, CSGMSettings(steps=2, restarts=1), progress=False)
    settings = IAGANSettings(steps=6, holdout=0.0)
    assert len(iagan(A, y, G, start, settings, progress=False).solve.history) == 7  # the start and 6 updates
    noisy = ForwardModel(A, sigma=1e-6)  # noise too small for the discrepancy principle to stop early
    assert len(iagan(noisy, y, G, start, settings, progress=False).solve.history) == 4


def test_dip_returns_one_estimate_per_image(problem):
    _, A, _, y = problem
    estimates = dip(A, y, DIPSettings(steps=2), progress=False)
    assert estimates.x.shape == (2, 1, 3, 64, 64) and torch.equal(estimates.mean(), estimates.x[:, 0])
    assert estimates.spread().abs().max() == 0


@pytest.mark.parametrize("make, message", [
    (lambda: CSGMSettings(steps=0), "steps"),
    (lambda: IAGANSettings(holdout=1.0), "holdout"),
    (lambda: CSGMSettings(average=1), "average"),
    (lambda: Budget(csgm=IAGANSettings()), "CSGMSettings"),
    (lambda: Budget(nonsense=CSGMSettings()), "unknown method"),
])
def test_bad_settings_are_refused_naming_the_setting(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_an_images_estimate_is_the_same_alone_and_at_position_5_of_a_batch_of_8(problem):
    G, A, _, _ = problem
    faces = torch.rand(8, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    y = A(faces)
    budget = Budget(csgm=CSGMSettings(steps=4, restarts=2), iagan=IAGANSettings(steps=4, lr_theta=1e-2),
                    ilo=ILOSettings(steps=4), dgp=DGPSettings(steps=4), mganprior=MGANpriorSettings(steps=4))
    # Not DIP: its random streams are per image too, but Adam turns the batch's rounding (an ulp, through
    # per-image batch norm) into differences of ~1e-3 within four steps.
    names = ["iagan-bp", "ilo", "dgp", "mganprior"]
    batch = reconstruct_samples(A, y, names, G, budget=budget, progress=False)
    alone = reconstruct_samples(A, y[5:6], names, G, budget=budget, progress=False)
    for name in names:
        # held-out draws, starts, codes and networks: per image, not per place in the batch. Equal up to
        # float32 rounding: G itself differs by an ulp between batch sizes (BLAS blocking).
        torch.testing.assert_close(batch[name].x[5:6], alone[name].x, rtol=0, atol=1e-5, msg=name)
