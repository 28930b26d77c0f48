"""Posterior averaging: the mean of K back-projected generative estimates."""
import pytest
import torch

from invgen.operators import SuperResolution
from invgen.solvers import (
    Budget,
    back_project_noisy,
    csgm_all_starts,
    pixel_spread,
    posterior_mean,
    reconstruct,
    reconstruct_samples,
)
from invgen.solvers.csgm import csgm
from test_solvers import SHAPE, out_of_range_images, tiny_generator

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def problem():
    G, A = tiny_generator(), SuperResolution(SHAPE, 4)
    x = out_of_range_images(3)
    return G, A, x, A(x)


def test_the_mean_is_consistent_with_y(problem):
    G, A, x, y = problem
    budget = Budget(restarts=4, csgm_steps=60, latent_weight=0.0, iagan_steps=10)
    est = posterior_mean(A, y, G, budget=budget, progress=False)
    assert est.x.shape == x.shape and est.spread.shape == x.shape and est.samples.shape == (3, 4, *SHAPE)
    # Every sample is back-projected, so their mean meets y too, up to the clipping to [0, 1]
    # of the few pixels where back-projection overshoots (CSGM alone misses y by far more).
    assert (A(est.x) - y).abs().max() < 3e-3
    assert (A(csgm(A, y, G, steps=60, progress=False).x) - y).abs().max() > 3e-2
    # Distinct starts give distinct estimates: the spread is an uncertainty map, not zero.
    assert (est.spread.flatten(1).amax(1) > 1e-3).all()


def test_the_mean_and_spread_of_known_starts_are_their_hand_computed_mean_and_std(problem, monkeypatch):
    G, A, _, y = problem
    # Three starts per image, each a constant image: image 0 starts at 0.1, 0.2, 0.6 and image 1
    # at 0.5, 0.5, 0.8 (image 2 at 0.3 thrice), so the means are 0.3, 0.6, 0.3 and the standard
    # deviations (Bessel-corrected, over the K = 3 starts) √((0.04 + 0.01 + 0.09)/2) = √0.07,
    # √((0.01 + 0.01 + 0.04)/2) = √0.03 and 0.
    levels = torch.tensor([[0.1, 0.2, 0.6], [0.5, 0.5, 0.8], [0.3, 0.3, 0.3]], dtype=torch.float64)
    starts = levels[:, :, None, None, None].expand(3, 3, *SHAPE).clone()
    starts[0, 0, 0, 0, 0] = 0.4  # one pixel of one start differs: the spread is per pixel
    calls = []

    def known_starts(A_, y_, methods, generator, **kwargs):
        calls.append((methods, kwargs["budget"].restarts))
        return {methods[0]: starts}

    monkeypatch.setattr("invgen.solvers.posterior.reconstruct_samples", known_starts)
    est = posterior_mean(A, y, G, "csgm-bp", budget=Budget(restarts=3), progress=False)
    assert calls == [(["csgm-bp"], 3)]
    mean = torch.tensor([0.3, 0.6, 0.3], dtype=torch.float64)[:, None, None, None].expand(3, *SHAPE).clone()
    std = torch.tensor([0.07, 0.03, 0.0], dtype=torch.float64).sqrt()[:, None, None, None].expand(3, *SHAPE).clone()
    mean[0, 0, 0, 0] = 0.4  # (0.4 + 0.2 + 0.6)/3
    std[0, 0, 0, 0] = 0.2  # √((0 + 0.04 + 0.04)/2)
    torch.testing.assert_close(est.x, mean)
    torch.testing.assert_close(est.spread, std)
    assert est.samples is starts
    torch.testing.assert_close(pixel_spread(starts), std[:, 0])  # one channel: the grey map is the spread


def test_one_sample_has_no_spread_and_every_start_is_kept(problem):
    G, A, x, y = problem
    est = posterior_mean(A, y, G, "csgm-bp", budget=Budget(restarts=1, csgm_steps=20), progress=False)
    assert torch.equal(est.spread, torch.zeros_like(est.x))
    assert torch.equal(pixel_spread(est.samples), torch.zeros(3, *SHAPE[1:]))
    starts = csgm_all_starts(A, y, G, steps=20, restarts=3, progress=False)
    assert starts.x.shape == (9, *SHAPE)
    best = csgm(A, y, G, steps=20, restarts=3, progress=False)
    for i in range(3):  # csgm keeps, per image, the start of smallest objective among the three
        assert best.objective[i] == starts.objective[3 * i : 3 * i + 3].min()


def test_without_averaging_there_is_nothing_to_average(problem):
    G, A, _, y = problem
    with pytest.raises(ValueError, match="average=True"):
        posterior_mean(A, y, G, budget=Budget(average=False), progress=False)


def test_the_pipeline_returns_the_mean_of_every_starts_back_projected_estimate(problem):
    G, A, _, y = problem
    budget = Budget(csgm_steps=30, restarts=3, latent_weight=0.0, iagan_steps=5)
    names = ["pinv", "csgm", "csgm-bp", "iagan-bp"]
    samples = reconstruct_samples(A, y, names, G, budget=budget, progress=False)
    assert {n: tuple(x.shape) for n, x in samples.items()} == {
        "pinv": (3, 1, *SHAPE), "csgm": (3, 3, *SHAPE), "csgm-bp": (3, 3, *SHAPE), "iagan-bp": (3, 3, *SHAPE)}
    starts = csgm_all_starts(A, y, G, steps=30, restarts=3, progress=False)
    torch.testing.assert_close(samples["csgm"].flatten(0, 1), starts.x)
    projected = back_project_noisy(A, y.repeat_interleave(3, 0), starts.x, 0.0).clamp(0, 1)
    torch.testing.assert_close(samples["csgm-bp"].flatten(0, 1), projected)  # each start, back-projected
    means = reconstruct(A, y, names, G, budget=budget, progress=False)
    for name in names:
        torch.testing.assert_close(means[name], samples[name].mean(1))
    est = posterior_mean(A, y, G, budget=budget, progress=False)
    torch.testing.assert_close(est.samples, samples["iagan-bp"])
    torch.testing.assert_close(est.spread, samples["iagan-bp"].std(1))
    fit_all = posterior_mean(A, y, G, budget=budget.replace(iagan_holdout=0.0), progress=False)
    assert not torch.allclose(fit_all.x, est.x)  # the held-out measurements do reach IAGAN


def test_without_averaging_the_pipeline_keeps_the_best_start_as_the_paper_does(problem):
    from invgen.solvers import PAPER

    G, A, _, y = problem
    best = reconstruct(A, y, ["csgm"], G, budget=Budget(csgm_steps=30, restarts=3, average=False,
                                                        latent_weight=0.0), progress=False)["csgm"]
    torch.testing.assert_close(best, csgm(A, y, G, steps=30, restarts=3, progress=False).x)
    assert PAPER.restarts == 1 and not PAPER.average and PAPER.iagan_steps == 500


def test_the_pipeline_holds_out_measurements_for_noiseless_y_only(problem):
    G, A, _, y = problem
    small = Budget(csgm_steps=20, restarts=2, iagan_steps=5)

    def iagan_bp(holdout, noise_std):
        return reconstruct(A, y, ["iagan-bp"], G, noise_std=noise_std, budget=small.replace(iagan_holdout=holdout),
                           progress=False)["iagan-bp"]

    assert not torch.allclose(iagan_bp(0.2, 0.0), iagan_bp(0.0, 0.0))
    # with a noise level the discrepancy principle is IAGAN's stop rule, not held-out measurements
    torch.testing.assert_close(iagan_bp(0.2, 0.01), iagan_bp(0.0, 0.01))
