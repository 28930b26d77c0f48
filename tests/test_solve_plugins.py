"""The pluggable parts of `solve`: fidelities, optimiser, schedule, callbacks, history, and
stopped images staying exactly where they stopped."""
import numpy as np
import pytest
import torch
from scipy import stats

from invgen.forward import ForwardModel
from invgen.metrics import psnr
from invgen.operators import GaussianCS, Identity, Mask, SuperResolution
from invgen.priors import DeepImagePrior, Prior
from invgen.fidelity import Huber, PoissonNLL, l1, squared_error
from invgen.solvers import Estimates, solve
from invgen.solvers.holdout import MAX_HOLDOUT_BLOCK, Masked, holdout_block_for, holdout_split

SHAPE = (1, 8, 8)

pytestmark = pytest.mark.usefixtures("one_thread")


class PixelPrior(Prior):
    """x = p directly; ``penalty_fn(x)`` if given, and a record of the images it made."""

    def __init__(self, x0, lr=0.05, penalty_fn=None):
        self.p = x0.clone().requires_grad_()
        self.lr, self.penalty_fn, self.made = lr, penalty_fn, []

    def parameter_groups(self):
        return [{"params": [self.p], "lr": self.lr}]

    def named_parameters(self):
        return {"p": self.p}

    def __call__(self):
        x = self.p * 1.0
        self.made.append(x)
        return x

    def penalty(self, x):
        return None if self.penalty_fn is None else self.penalty_fn(x)

    def state(self):
        return {"p": self.p.detach()}


class SubspacePrior(Prior):
    """x_i = reshape(c_i W): images in a fixed random 6-dimensional subspace."""

    def __init__(self, basis, b, lr=0.05):
        self.basis = basis
        self.c = torch.zeros(b, basis.shape[0], requires_grad=True)
        self.lr = lr

    def parameter_groups(self):
        return [{"params": [self.c], "lr": self.lr}]

    def __call__(self):
        return (self.c @ self.basis).view(-1, *SHAPE)


def _rand(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def cs():
    return GaussianCS(SHAPE, 40)


# ------------------------------------------------------------------ fidelities
def test_the_default_fidelity_is_todays_squared_error_without_a_half(cs):
    y = cs(_rand(2, *SHAPE))
    default = solve(cs, y, PixelPrior(torch.full((2, *SHAPE), 0.5)), 15, progress=False)
    by_hand = solve(cs, y, PixelPrior(torch.full((2, *SHAPE), 0.5)), 15, progress=False,
                    fidelity=lambda Ax, y: (y - Ax).flatten(1).square().sum(1))
    assert torch.equal(default.history, by_hand.history) and torch.equal(default.x, by_hand.x)
    torch.testing.assert_close(default.objective, (y - cs(default.x)).square().sum(1))


def test_fidelities_against_their_formulas_and_scipy():
    g = torch.Generator().manual_seed(0)
    Ax, y = torch.rand(3, 2, 5, generator=g) + 0.1, torch.rand(3, 2, 5, generator=g)
    r = (y - Ax).flatten(1)
    torch.testing.assert_close(squared_error(Ax, y), (r**2).sum(1))
    torch.testing.assert_close(l1(Ax, y), r.abs().sum(1))
    d = 0.2
    huber = torch.where(r.abs() <= d, r**2 / 2, d * (r.abs() - d / 2)).sum(1)
    torch.testing.assert_close(Huber(d)(Ax, y), huber)

    # Poisson: −log p(y | x) + log p(y | λ = y), from scipy's pmf, counts peak·y.
    peak = 7.0
    counts = torch.poisson(peak * Ax.double(), generator=g)
    y_counts = counts / peak
    nll = -(stats.poisson.logpmf(counts.numpy(), peak * Ax.double().numpy())
            - stats.poisson.logpmf(counts.numpy(), counts.numpy()))
    got = PoissonNLL(peak)(Ax.double(), y_counts)
    np.testing.assert_allclose(got.numpy(), nll.reshape(3, -1).sum(1), rtol=1e-10)
    at_the_counts = PoissonNLL(peak)(y_counts, y_counts)
    assert (at_the_counts <= peak * 1e-6 * (y_counts == 0).flatten(1).sum(1)).all()


@pytest.mark.parametrize("make, message", [
    (lambda: Huber(0.0), "delta"),
    (lambda: Huber(float("nan")), "delta"),
    (lambda: PoissonNLL(peak=-1.0), "peak"),
    (lambda: PoissonNLL(peak=float("inf")), "peak"),
    (lambda: PoissonNLL(floor=0.0), "floor"),
    (lambda: PoissonNLL()(torch.ones(1, 3), -torch.ones(1, 3)), "y ≥ 0"),
])
def test_bad_fidelity_settings_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_l1_and_huber_shrug_off_outliers_that_ruin_least_squares():
    basis = torch.randn(6, 64, generator=torch.Generator().manual_seed(1))
    x = (torch.randn(2, 6, generator=torch.Generator().manual_seed(2)) @ basis).view(2, *SHAPE)
    y = x.clone()
    y.view(2, -1)[:, ::10] += 5.0  # 7 of 64 pixels grossly wrong
    A = Identity(SHAPE)
    error = {}
    for name, fidelity in {"l2": squared_error, "l1": l1, "huber": Huber(0.1)}.items():
        result = solve(A, y, SubspacePrior(basis, 2), 400, fidelity=fidelity, progress=False)
        error[name] = (result.x - x).flatten(1).norm(dim=1)
    assert (error["l1"] < 0.1 * error["l2"]).all(), error
    assert (error["huber"] < 0.1 * error["l2"]).all(), error


def test_a_poisson_fit_reaches_the_counts(cs):
    y = torch.poisson(20 * _rand(2, *SHAPE), generator=torch.Generator().manual_seed(0)) / 20
    result = solve(Identity(SHAPE), y, PixelPrior(torch.full((2, *SHAPE), 0.5)), 200,
                   fidelity=PoissonNLL(peak=20), progress=False)
    assert (result.objective < 0.05 * result.history[0]).all()


def test_a_fidelity_of_the_wrong_shape_is_named(cs):
    y = cs(_rand(2, *SHAPE))
    with pytest.raises(ValueError, match=r"fidelity must return one value per image, shape \(2,\)"):
        solve(cs, y, PixelPrior(torch.zeros(2, *SHAPE)), 3, fidelity=lambda Ax, y: (y - Ax).square().sum(),
              progress=False)


# ------------------------------------------------------------------ penalty, optimiser, schedule
def test_the_penalty_sees_the_images_the_prior_just_made(cs):
    seen = []

    def tv(x):
        seen.append(x)
        return (x.diff(dim=-1).abs().flatten(1).sum(1) + x.diff(dim=-2).abs().flatten(1).sum(1))

    prior = PixelPrior(_rand(2, *SHAPE), penalty_fn=tv)
    y = cs(torch.full((2, *SHAPE), 0.5))
    plain = solve(cs, y, PixelPrior(_rand(2, *SHAPE)), 30, progress=False)
    smooth = solve(cs, y, prior, 30, progress=False)
    assert len(seen) == len(prior.made) == 31 and all(a is b for a, b in zip(seen, prior.made))
    assert (tv(smooth.x) < 0.5 * tv(plain.x)).all()


def test_a_penalty_given_to_solve_is_added_to_the_priors_own(cs):
    y = cs(_rand(2, *SHAPE))

    def own(x):
        return x.flatten(1).sum(1)

    def pull_to_zero(x, params):
        assert list(params) == ["p"] and params["p"] is prior.p  # the prior's parameters by name
        return 10.0 * x.flatten(1).square().sum(1)

    prior = PixelPrior(_rand(2, *SHAPE), penalty_fn=own)
    result = solve(cs, y, prior, 40, penalty=pull_to_zero, progress=False)
    for step in (0, 39):  # the objective of every step is fidelity + the prior's + the given penalty
        x = prior.made[step].detach()
        expected = squared_error(cs(x), y) + own(x) + pull_to_zero(x, {"p": prior.p})
        torch.testing.assert_close(result.history[step], expected)
    plain = solve(cs, y, PixelPrior(_rand(2, *SHAPE)), 40, progress=False)
    assert (result.x.flatten(1).norm(dim=1) < 0.5 * plain.x.flatten(1).norm(dim=1)).all()
    with pytest.raises(ValueError, match=r"the penalty must return one value per image, shape \(2,\)"):
        solve(cs, y, PixelPrior(torch.zeros(2, *SHAPE)), 3, penalty=lambda x, params: x.sum(), progress=False)

def test_the_optimiser_factory_and_the_schedule_are_used(cs):
    y = cs(_rand(2, *SHAPE))
    made = []

    def sgd(groups):
        made.append([g["lr"] for g in groups])
        return torch.optim.SGD(groups, momentum=0.5)

    with_sgd = solve(cs, y, PixelPrior(torch.zeros(2, *SHAPE), lr=0.1), 10, optimizer=sgd, progress=False)
    with_adam = solve(cs, y, PixelPrior(torch.zeros(2, *SHAPE), lr=0.1), 10, progress=False)
    assert made == [[0.1]] and not torch.equal(with_sgd.history, with_adam.history)

    # The schedule steps once per update: a rate of 0 from the second update on freezes
    # the iterate after one update.
    one_step = solve(cs, y, PixelPrior(torch.zeros(2, *SHAPE)), 8, progress=False,
                     schedule=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda k: float(k == 0)))
    h = one_step.history
    assert (h[1] < h[0]).all() and torch.equal(h[2:], h[1].expand(7, 2))


# ------------------------------------------------------------------ callbacks, freezing, history
def test_a_callback_stops_one_image_and_it_never_moves_again(cs):
    y = cs(_rand(2, *SHAPE))
    prior = PixelPrior(torch.zeros(2, *SHAPE), lr=0.1)
    rows, calls = [], []

    def stop_first_at_5(step, x, objective, state):
        calls.append((step, x.shape, objective.clone()))
        rows.append(state["p"][0].clone())
        return torch.tensor([step == 5, False])

    result = solve(cs, y, prior, 20, callbacks=[stop_first_at_5], progress=False)
    assert [c[0] for c in calls] == list(range(21)) and calls[0][1] == (2, *SHAPE)
    assert all(torch.equal(c[2], h) for c, h in zip(calls, result.history))
    assert result.stop_step.tolist() == [5, 20]
    # Adam's momentum would keep moving image 0; it is frozen instead.
    assert all(torch.equal(r, rows[5]) for r in rows[5:]) and torch.equal(prior.p[0].detach(), rows[5])
    assert not torch.equal(rows[4], rows[5])
    assert torch.equal(result.history[5:, 0], result.history[5, 0].expand(16))
    assert result.history[-1, 1] < 0.8 * result.history[5, 1]  # image 1 goes on


def test_an_image_stopped_by_the_discrepancy_principle_is_frozen_and_reports_agree(cs):
    sigma = 0.05
    x = _rand(2, *SHAPE)
    y = cs(x) + sigma * torch.randn(2, 40, generator=torch.Generator().manual_seed(3))
    y[1] += 0.5  # image 1 cannot be fitted to the noise level as fast
    prior = PixelPrior(torch.full((2, *SHAPE), 0.5), lr=0.1)
    result = solve(ForwardModel(cs, sigma=sigma), y, prior, 300, reference=x, progress=False)
    first = int(result.stop_step.min())
    assert first < result.history.shape[0] - 1  # one image stopped before the other
    i = int(result.stop_step.argmin())
    column, quality = result.history[:, i], result.psnr_history[:, i]
    assert torch.equal(column[first:], column[first].expand_as(column[first:]))
    assert torch.equal(quality[first:], quality[first].expand_as(quality[first:]))
    # best, x and history agree, for every image
    for j in range(2):
        assert result.objective[j] == result.history[:, j].min()
        torch.testing.assert_close(squared_error(cs(result.x[j:j + 1]), y[j:j + 1])[0], result.objective[j])
        best_step = int(result.history[:, j].argmin())
        torch.testing.assert_close(result.psnr_history[best_step, j], psnr(result.x[j:j + 1], x[j:j + 1])[0])
    assert torch.equal(prior.p[i].detach(), result.x[i])  # frozen at its stop, which was its best


def test_per_image_network_weights_of_a_stopped_image_stay_put():
    A = Identity((1, 8, 8))
    y = _rand(2, 1, 8, 8)
    prior = DeepImagePrior((1, 8, 8), 2, lr=0.05, channels=4, depth=2, input_channels=4)
    snapshots = []

    def stop_first_at_2(step, x, objective, state):
        snapshots.append({k: v[0].detach().clone() for k, v in prior.network.params.items()})
        return torch.tensor([step >= 2, False])

    result = solve(A, y, prior, 5, callbacks=[stop_first_at_2], progress=False)
    assert result.stop_step.tolist() == [2, 5]
    final = {k: v[0].detach() for k, v in prior.network.params.items()}
    assert all(torch.equal(final[k], snapshots[2][k]) for k in final)
    assert any(not torch.equal(snapshots[1][k], snapshots[2][k]) for k in final)


def test_without_a_reference_there_is_no_psnr_history_and_a_wrong_one_is_named(cs):
    y = cs(_rand(2, *SHAPE))
    assert solve(cs, y, PixelPrior(torch.zeros(2, *SHAPE)), 3, progress=False).psnr_history is None
    with pytest.raises(ValueError, match=r"reference must have shape \(2, 1, 8, 8\)"):
        solve(cs, y, PixelPrior(torch.zeros(2, *SHAPE)), 3, reference=torch.zeros(1, *SHAPE), progress=False)


def test_a_callback_returning_the_wrong_shape_is_named(cs):
    def bad(step, x, objective, state):
        return torch.tensor([True])

    with pytest.raises(ValueError, match=r"callback .*bad.* shape \(2,\)"):
        solve(cs, cs(_rand(2, *SHAPE)), PixelPrior(torch.zeros(2, *SHAPE)), 3, callbacks=[bad], progress=False)


def test_a_parameter_shared_by_the_images_is_refused(cs):
    class Shared(PixelPrior):
        def parameter_groups(self):
            return [{"params": [self.p, self.scale], "lr": self.lr}]

    prior = Shared(torch.zeros(2, *SHAPE))
    prior.scale = torch.ones(3, requires_grad=True)
    with pytest.raises(ValueError, match=r"first dim.*shape \(3,\)"):
        solve(cs, cs(_rand(2, *SHAPE)), prior, 3, progress=False)


def test_the_best_start_keeps_each_starts_stop_step_and_psnr(cs):
    x = _rand(2, *SHAPE)
    y = cs(x).repeat_interleave(2, dim=0)  # two starts per image, image-major
    starts = torch.stack([torch.full(SHAPE, 0.5), _rand(*SHAPE, seed=1)]).repeat(2, 1, 1, 1)
    result = solve(cs, y, PixelPrior(starts), 30, patience=3, reference=x.repeat_interleave(2, dim=0),
                   progress=False)
    best_estimates = Estimates.from_rows(result, 2).best()
    best = best_estimates.solve
    rows = result.objective.view(2, 2).argmin(1) + torch.tensor([0, 2])
    assert torch.equal(best_estimates.x[:, 0], result.x[rows])
    assert torch.equal(best_estimates.objective[:, 0], result.objective[rows])
    assert torch.equal(best.stop_step, result.stop_step[rows])
    assert torch.equal(best.psnr_history, result.psnr_history[:, rows])
    assert torch.equal(best.state["p"], result.state["p"][rows]) and torch.equal(best.x, result.x[rows])


# ------------------------------------------------------------------ validation: held-out measurements
def test_holdout_split_partitions_each_images_measurements_and_follows_the_seed():
    y = torch.zeros(3, 40)
    fit, check = holdout_split(y, 0.25, seed=1)
    assert (fit.mask ^ check.mask).all()  # every measurement in exactly one part
    assert (check.mask.sum(1) == 10).all()
    assert torch.equal(check.mask[0], check.mask[1])  # the same for every image, wherever it is in the batch
    by_start = holdout_split(torch.zeros(6, 40), 0.25, seed=1, starts=2)[1].mask  # 3 images of 2 starts
    assert torch.equal(by_start[0], check.mask[0]) and not torch.equal(by_start[0], by_start[1])
    assert torch.equal(by_start[::2], by_start[0].expand(3, -1)) and torch.equal(by_start[1::2], by_start[1].expand(3, -1))
    with pytest.raises(ValueError, match="not a whole number of images of 2 starts"):
        holdout_split(torch.zeros(3, 40), 0.25, starts=2)
    assert torch.equal(holdout_split(y, 0.25, seed=1)[1].mask, check.mask)
    assert not torch.equal(holdout_split(y, 0.25, seed=2)[1].mask, check.mask)
    r = torch.randn(3, 40)
    torch.testing.assert_close(fit(r, y) + check(r, y), squared_error(r, y))


def test_holdout_split_of_another_fidelity_is_that_fidelity_on_each_part():
    g = torch.Generator().manual_seed(0)
    Ax, y = torch.rand(3, 40, generator=g) + 0.1, torch.poisson(5 * torch.rand(3, 40, generator=g), generator=g) / 5
    nll = PoissonNLL(5.0)
    fit, check = holdout_split(y, 0.25, seed=1, fidelity=nll)
    assert isinstance(fit, Masked) and fit.fidelity is nll and check.fidelity is nll
    per_entry = nll(Ax.reshape(-1, 1), y.reshape(-1, 1)).view(3, 40)
    # a left-out entry adds its rate floor, peak·floor, at most
    floor = 5.0 * nll.floor * 40
    torch.testing.assert_close(check(Ax, y), (per_entry * check.mask).sum(1), rtol=0, atol=floor)
    torch.testing.assert_close(fit(Ax, y), (per_entry * fit.mask).sum(1), rtol=0, atol=floor)
    assert (check(Ax, y) < 0.5 * nll(Ax, y)).all()  # a quarter of the entries, not all of them

def test_held_out_blocks_are_whole_squares_through_every_channel():
    y = torch.zeros(2, 3, 10, 12)
    fit, check = holdout_split(y, 0.3, seed=0, block=4)  # a 3×3 grid of blocks, the last ones cut
    held = check.mask
    assert held.shape == y.shape and (fit.mask ^ held).all()
    assert (held == held[:, :1]).all()  # the same squares in every channel
    cells = held[:, 0, ::4, ::4]
    assert (cells.flatten(1).sum(1) == 3).all()  # round(0.3 · 9) squares per image
    torch.testing.assert_close(held[:, 0].float(), cells.repeat_interleave(4, 1).repeat_interleave(4, 2)[:, :10, :12].float())
    with pytest.raises(ValueError, match="image measurements"):
        holdout_split(torch.zeros(2, 40), 0.3, block=4)


def test_the_held_out_squares_follow_the_operators_holes():
    shape = (3, 64, 64)
    assert holdout_block_for(Mask.box(shape, 10, 10, 5, 30)) == 5
    assert holdout_block_for(Mask.box(shape, 10, 10, 30, 30)) == MAX_HOLDOUT_BLOCK
    assert holdout_block_for(Mask(shape, torch.ones(64, 64))) == 1  # nothing missing: single entries
    assert holdout_block_for(SuperResolution(shape, 4)) == 1
    assert holdout_block_for(GaussianCS((1, 8, 8), 16)) == 1


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_a_held_out_fraction_outside_0_1_is_refused(fraction):
    with pytest.raises(ValueError, match="held-out fraction"):
        holdout_split(torch.zeros(1, 4), fraction)


def test_validation_picks_the_kept_iterate_and_drives_patience(cs):
    # Fit y with pixels, but validate against a second image: the validation error first
    # falls (the start is far from both) and then rises as x approaches y, not z.
    y_img, other = _rand(2, *SHAPE, seed=3), _rand(2, *SHAPE, seed=4)
    y = cs(y_img)
    target = cs(0.5 * (y_img + other))

    def validation(Ax, _):
        return (Ax - target).flatten(1).square().sum(1)

    prior = PixelPrior(torch.zeros(2, *SHAPE), lr=0.02)
    result = solve(cs, y, prior, 300, validation=validation, patience=20, progress=False)
    scores = result.validation_history
    for i in range(2):
        kept = int(result.best_step[i])
        assert scores[kept, i] == scores[:, i].min()
        assert 0 < kept < int(result.stop_step[i]) < 299  # stopped by patience, after the minimum
        assert result.objective[i] == result.history[kept, i]
        assert result.objective[i] > result.history[:, i].min()  # not the objective's minimum
        torch.testing.assert_close(cs(result.x[i:i + 1]), cs(prior.made[kept][i:i + 1].detach()))
