"""The ensemble of restarts: every start's estimate (``reconstruct_samples``), their mean
(``reconstruct_mean``, ``Estimates.mean``) and their per-pixel spread (``Estimates.spread``,
``restart_spread``)."""
from dataclasses import replace

import pytest
import torch

from invgen.forward import ForwardModel
from invgen.operators import SuperResolution
from invgen.solvers import (
    PAPER_CSGM,
    Budget,
    CSGMSettings,
    Estimates,
    IAGANSettings,
    Method,
    back_project,
    csgm,
    reconstruct_mean,
    reconstruct_samples,
    register,
    restart_spread,
    unregister,
)
from test_solvers import SHAPE, out_of_range_images, tiny_generator

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def problem():
    G, A = tiny_generator(), SuperResolution(SHAPE, 4)
    x = out_of_range_images(3)
    return G, A, x, A(x)


def budget_of(csgm_settings: CSGMSettings, iagan_settings: IAGANSettings | None = None) -> Budget:
    return Budget(csgm=csgm_settings, iagan=iagan_settings or IAGANSettings())


def test_the_mean_is_consistent_with_y(problem):
    G, A, x, y = problem
    budget = budget_of(CSGMSettings(restarts=4, steps=60, latent_weight=0.0), IAGANSettings(steps=10))
    est = reconstruct_samples(A, y, ["iagan-bp"], G, budget=budget, progress=False)["iagan-bp"]
    assert est.mean().shape == x.shape and est.spread().shape == x.shape and est.x.shape == (3, 4, *SHAPE)
    # Every sample is back-projected, so their mean meets y too, up to the clipping to [0, 1]
    # of the few pixels where back-projection overshoots (CSGM alone misses y by far more).
    assert (A(est.mean()) - y).abs().max() < 3e-3
    assert (A(csgm(A, y, G, replace(PAPER_CSGM, steps=60), progress=False).x[:, 0]) - y).abs().max() > 3e-2
    # Distinct starts give distinct estimates: the spread is an uncertainty map, not zero.
    assert (est.spread().flatten(1).amax(1) > 1e-3).all()


def test_the_mean_and_spread_of_known_starts_are_their_hand_computed_mean_and_std(problem):
    G, A, _, y = problem
    # Three starts per image, each a constant image: image 0 starts at 0.1, 0.2, 0.6 and image 1
    # at 0.5, 0.5, 0.8 (image 2 at 0.3 thrice), so the means are 0.3, 0.6, 0.3 and the standard
    # deviations (Bessel-corrected, over the K = 3 starts) √((0.04 + 0.01 + 0.09)/2) = √0.07,
    # √((0.01 + 0.01 + 0.04)/2) = √0.03 and 0.
    levels = torch.tensor([[0.1, 0.2, 0.6], [0.5, 0.5, 0.8], [0.3, 0.3, 0.3]], dtype=torch.float64)
    starts = levels[:, :, None, None, None].expand(3, 3, *SHAPE).clone()
    starts[0, 0, 0, 0, 0] = 0.4  # one pixel of one start differs: the spread is per pixel
    mean = torch.tensor([0.3, 0.6, 0.3], dtype=torch.float64)[:, None, None, None].expand(3, *SHAPE).clone()
    std = torch.tensor([0.07, 0.03, 0.0], dtype=torch.float64).sqrt()[:, None, None, None].expand(3, *SHAPE).clone()
    mean[0, 0, 0, 0] = 0.4  # (0.4 + 0.2 + 0.6)/3
    std[0, 0, 0, 0] = 0.2  # √((0 + 0.04 + 0.04)/2)
    torch.testing.assert_close(Estimates(starts).mean(), mean)
    torch.testing.assert_close(Estimates(starts).spread(), std)
    torch.testing.assert_close(restart_spread(starts), std[:, 0])  # one channel: the grey map is the spread

    # A method returning these starts: the pipeline hands them on, and reconstruct_mean averages them.
    calls = []

    def known_starts(problem_, settings):
        calls.append(problem_.y)
        return Estimates(starts)

    register(Method("known-starts", known_starts, summary="three known starts per image", back_projectable=False))
    try:
        samples = reconstruct_samples(A, y, ["known-starts"], progress=False)["known-starts"]
        means = reconstruct_mean(A, y, ["known-starts"], progress=False)
    finally:
        unregister("known-starts")
    assert len(calls) == 2 and all(c is y for c in calls)
    assert torch.equal(samples.x, starts)
    torch.testing.assert_close(means["known-starts"], mean)


def test_one_sample_has_no_spread_and_every_start_is_kept(problem):
    G, A, x, y = problem
    est = reconstruct_samples(A, y, ["csgm-bp"], G, budget=budget_of(CSGMSettings(restarts=1, steps=20)),
                              progress=False)["csgm-bp"]
    assert est.k == 1 and torch.equal(est.spread(), torch.zeros_like(est.mean()))
    assert torch.equal(restart_spread(est.x), torch.zeros(3, *SHAPE[1:]))
    starts = csgm(A, y, G, CSGMSettings(steps=20, restarts=3, latent_weight=0.0), progress=False)
    assert starts.x.shape == (3, 3, *SHAPE) and starts.rows().shape == (9, *SHAPE)
    best = csgm(A, y, G, replace(PAPER_CSGM, steps=20, restarts=3), progress=False)
    for i in range(3):  # each image keeps the start of smallest objective among the three
        assert best.objective[i, 0] == starts.objective[i].min()


def test_without_averaging_there_is_one_estimate_and_nothing_to_average(problem):
    G, A, _, y = problem
    settings = CSGMSettings(steps=20, restarts=3, average=False)
    samples = reconstruct_samples(A, y, ["csgm", "iagan"], G, budget=budget_of(settings, IAGANSettings(steps=3)),
                                  progress=False)
    assert samples["csgm"].k == 1 and samples["iagan"].k == 1  # IAGAN continues the one start kept
    assert torch.equal(samples["csgm"].spread(), torch.zeros(3, *SHAPE))
    torch.testing.assert_close(samples["csgm"].x, csgm(A, y, G, settings, progress=False).x)


def test_the_pipeline_returns_the_mean_of_every_starts_back_projected_estimate(problem):
    G, A, _, y = problem
    settings = CSGMSettings(steps=30, restarts=3, latent_weight=0.0)
    budget = budget_of(settings, IAGANSettings(steps=5))
    names = ["pinv", "csgm", "csgm-bp", "iagan-bp"]
    samples = reconstruct_samples(A, y, names, G, budget=budget, progress=False)
    assert {n: tuple(e.x.shape) for n, e in samples.items()} == {
        "pinv": (3, 1, *SHAPE), "csgm": (3, 3, *SHAPE), "csgm-bp": (3, 3, *SHAPE), "iagan-bp": (3, 3, *SHAPE)}
    starts = csgm(A, y, G, settings, progress=False)
    torch.testing.assert_close(samples["csgm"].rows(), starts.rows())
    projected = back_project(A, y.repeat_interleave(3, 0), starts.rows()).clamp(0, 1)
    torch.testing.assert_close(samples["csgm-bp"].rows(), projected)  # each start, back-projected
    means = reconstruct_mean(A, y, names, G, budget=budget, progress=False)
    for name in names:
        torch.testing.assert_close(means[name], samples[name].x.mean(1))
    torch.testing.assert_close(samples["iagan-bp"].spread(), samples["iagan-bp"].x.std(1))
    fit_all_budget = budget.replace(iagan=IAGANSettings(steps=5, holdout=0.0))
    fit_all = reconstruct_samples(A, y, ["iagan-bp"], G, budget=fit_all_budget, progress=False)["iagan-bp"]
    assert not torch.allclose(fit_all.mean(), samples["iagan-bp"].mean())  # the held-out measurements do reach IAGAN


def test_without_averaging_the_pipeline_keeps_the_best_start_as_the_paper_does(problem):
    G, A, _, y = problem
    settings = CSGMSettings(steps=30, restarts=3, average=False, latent_weight=0.0)
    best = reconstruct_mean(A, y, ["csgm"], G, budget=budget_of(settings), progress=False)["csgm"]
    torch.testing.assert_close(best, csgm(A, y, G, replace(PAPER_CSGM, steps=30, restarts=3), progress=False).x[:, 0])
    paper = Budget.paper()
    assert paper.of("csgm").restarts == 1 and not paper.of("csgm").average and paper.of("iagan").steps == 500
    assert paper.of("iagan").holdout == 0.0 and paper.of("csgm").latent_weight == 0.0


def test_the_pipeline_holds_out_measurements_for_noiseless_or_poisson_y_only(problem):
    G, A, _, y = problem
    small = budget_of(CSGMSettings(steps=20, restarts=2), IAGANSettings(steps=5))

    def iagan_bp(holdout, model):
        budget = small.replace(iagan=IAGANSettings(steps=5, holdout=holdout))
        return reconstruct_mean(model, y, ["iagan-bp"], G, budget=budget, progress=False)["iagan-bp"]

    assert not torch.allclose(iagan_bp(0.2, ForwardModel(A)), iagan_bp(0.0, ForwardModel(A)))
    poisson = ForwardModel(A, noise="poisson", peak=100.0)
    assert not torch.allclose(iagan_bp(0.2, poisson), iagan_bp(0.0, poisson))
    # with a Gaussian noise level the discrepancy principle is IAGAN's stop rule, not held-out measurements
    noisy = ForwardModel(A, sigma=0.01)
    torch.testing.assert_close(iagan_bp(0.2, noisy), iagan_bp(0.0, noisy))
