"""The methods that followed IAGAN, on the same loop: ILO, DGP-style progressive adaptation and
mGANprior. Each reaches a lower objective than CSGM from the same starts on an image outside
the generator's range; ILO's iterate stays in its ball; DGP's stages touch only their blocks."""
from __future__ import annotations

import argparse
from dataclasses import replace

import pytest
import torch

from invgen.app import cli
from invgen.app.arguments import add_method_arguments, budget_from
from invgen.generators import build_began, build_dcgan, load_default, wrap
from invgen.generators.layers import chain_of
from invgen.operators import SuperResolution
from invgen.priors import ProgressivePrior
from invgen.solvers import (METHODS, PAPER_DGP, PAPER_ILO, PAPER_MGANPRIOR, Budget, CSGMSettings, DGPSettings,
                            ILOSettings, MGANpriorSettings, csgm, dgp, ilo, mganprior, reconstruct_mean, solve)
from invgen.solvers.pipeline import check_methods
from invgen.solvers.progressive import progressive_schedule, stage_blocks

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def problem():
    G = load_default()
    A = SuperResolution((3, 64, 64), 4)
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))  # noise: outside any face's range
    y = A(x)
    start = csgm(A, y, G, CSGMSettings(steps=40, restarts=2, latent_weight=0.0), progress=False)
    return G, A, y, start


def test_the_default_generator_splits_at_its_activations():
    G = load_default()
    layers = chain_of(G)
    assert [layers.shape(k) for k in range(1, layers.points + 1)] == [(256, 4, 4), (128, 8, 8), (64, 16, 16),
                                                                      (32, 32, 32)]
    z = G.sample_latent(2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(G.to_unit(layers.run(layers.run(z, z, 0, 2), z, 2, layers.points + 1)), G(z))


class NotAChain(torch.nn.Module):
    """Its own forward, no blocks(): nothing says where it could be split."""

    def __init__(self) -> None:
        super().__init__()
        self.project = torch.nn.Linear(8, 3 * 8 * 8)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.project(z)).view(-1, 3, 8, 8)


def test_began_is_a_chain_and_a_generator_without_split_points_is_refused_before_any_work():
    G = build_began(resolution=64, latent_dim=4, width=4)
    layers = chain_of(G)
    z = G.sample_latent(2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(G.to_unit(layers.run(layers.run(z, z, 0, 3), z, 3, layers.points + 1)), G(z))
    assert layers.parameter_names(1) == ["network.project.weight", "network.project.bias",  # point 1: the first ELU
                                         "network.stages.0.0.weight", "network.stages.0.0.bias"]
    other = wrap(NotAChain(), 8)
    A = SuperResolution((3, 8, 8), 2)
    for name in ("ilo-bp", "dgp", "mganprior"):
        with pytest.raises(ValueError, match=f"{name.removesuffix('-bp')}: NotAChain is not a chain"):
            check_methods(A, ["csgm", name], Budget(), other)
    check_methods(A, ["csgm", "iagan-bp"], Budget(), other)  # the whole-network methods need none


def test_a_preset_that_needs_more_split_points_than_the_generator_has_is_refused_before_any_work():
    G = build_dcgan(latent_dim=8, width=2, resolution=32)  # 3 split points, 4 blocks
    assert chain_of(G).points == 3
    A = SuperResolution((3, 32, 32), 4)
    with pytest.raises(ValueError, match=r"dgp: DGP needs 4 split points \(stages = 5.*has 3"):
        check_methods(A, ["dgp"], Budget.paper(), G)
    with pytest.raises(ValueError, match=r"ilo: ILO needs 4 split points \(first \+ stages − 1 = 2 \+ 3 − 1\)"):
        check_methods(A, ["ilo"], Budget(ilo=replace(PAPER_ILO, first=2)), G)
    check_methods(A, ["ilo", "mganprior"], Budget.paper(), G)  # 3 stages from the first point; point 2


@pytest.mark.parametrize("method, settings", [
    (ilo, ILOSettings(stages=1, steps=30, holdout=0.0)),
    (dgp, DGPSettings(steps=30, lr_theta=1e-3, holdout=0.0)),
    (mganprior, MGANpriorSettings(steps=30, holdout=0.0)),
], ids=["ilo", "dgp", "mganprior"])
def test_each_ends_below_csgm_from_the_same_starts(problem, method, settings):
    G, A, y, start = problem
    result = method(A, y, G, start, settings, progress=False)
    assert result.x.shape == start.x.shape
    # Its first iterate is CSGM's estimate (no deviation, the same weights, CSGM's code alone).
    torch.testing.assert_close(result.solve.history[0], start.objective.flatten(), rtol=1e-4, atol=1e-6)
    assert (result.objective < 0.95 * start.objective).all(), (result.objective, start.objective)


def test_ilos_iterate_stays_inside_its_ball(problem):
    G, A, y, start = problem
    layers, z = chain_of(G), start.z.flatten(0, 1)
    base = layers.run(z, z, 0, 1).detach()
    limit = 0.05 * base.flatten(1).abs().sum(1)
    seen = []

    def deviation(step, x, objective, state):
        seen.append((state["features"] - base).flatten(1).abs().sum(1))

    result = ilo(A, y, G, start, ILOSettings(stages=1, steps=25, lr=0.05, radius=0.05, holdout=0.0),
                 callbacks=(deviation,), progress=False)
    reached = torch.stack(seen)
    assert (reached <= limit * (1 + 1e-4)).all()
    assert (reached[-1] > 0.9 * limit).all()  # the constraint is active: the ball, not the steps, bounds it
    assert (result.objective < start.objective).all()
    # A second stage starts from the first one's solution, one split point deeper, and ends no higher.
    deeper = ilo(A, y, G, start, ILOSettings(stages=2, steps=25, lr=0.05, radius=0.05, holdout=0.0), progress=False)
    torch.testing.assert_close(deeper.solve.history[0], result.objective.flatten(), rtol=1e-4, atol=1e-6)
    assert (deeper.objective <= result.objective).all()


def test_dgps_stages_touch_only_the_blocks_they_name(problem):
    G, A, y, start = problem
    blocks = stage_blocks(G, 3)
    assert len(blocks) == 3 and set(blocks[0]) == set(chain_of(G).parameter_names(1))
    z = start.z.flatten(0, 1)
    y_rows = y.repeat_interleave(start.k, dim=0)

    def changed_after(steps: int) -> list[bool]:
        prior = ProgressivePrior(G, z, blocks, lr_z=1e-3, lr_theta=1e-3)
        before = {k: v.clone() for k, v in prior.network.params.items()}
        solve(A, y_rows, prior, steps, schedule=progressive_schedule(5), progress=False)
        return [any(not torch.equal(prior.network.params[n], before[n]) for n in block) for block in blocks]

    assert changed_after(5) == [True, False, False]  # 5 updates: stage 1 only
    assert changed_after(10) == [True, True, False]
    assert changed_after(15) == [True, True, True]


def test_mganprior_codes_are_kept_per_start(problem):
    G, A, y, start = problem
    seen = []
    result = mganprior(A, y, G, start, MGANpriorSettings(codes=3, steps=1, holdout=0.0), progress=False,
                       callbacks=(lambda step, x, objective, state: seen.append(state["z"].clone()),))
    assert result.z.shape == (2, start.k, 3, G.latent_dim)
    # The search starts from CSGM's code and two seeded draws, the same for every start.
    first = seen[0].view(2, start.k, 3, -1)
    assert torch.equal(first[:, :, 0], start.z)
    assert torch.equal(first[:, :, 1:], first[:1, :1, 1:].expand(2, start.k, -1, -1))
    with pytest.raises(ValueError, match="split point"):
        mganprior(A, y, G, start, MGANpriorSettings(point=9), progress=False)


def test_registered_with_back_projection_flags_and_the_command_line(problem, capsys):
    G, A, y, _ = problem
    assert {"ilo", "dgp", "mganprior"} <= set(METHODS)
    budget = Budget(csgm=CSGMSettings(steps=3, restarts=1), ilo=ILOSettings(steps=2), dgp=DGPSettings(steps=2),
                    mganprior=MGANpriorSettings(steps=2))
    estimates = reconstruct_mean(A, y, ["ilo-bp", "dgp-bp", "mganprior-bp"], G, budget=budget, progress=False)
    for x in estimates.values():  # back-projected: consistent with y
        torch.testing.assert_close(A(x.clamp(0, 1)), y, atol=2e-2, rtol=0)
    with pytest.raises(SystemExit):
        cli.main(["reconstruct", "--help"])
    printed = capsys.readouterr().out
    assert "--ilo-radius" in printed and "--dgp-stages" in printed and "--mganprior-codes" in printed


def test_paper_presets_are_the_authors_and_the_command_line_offers_them(capsys, monkeypatch):
    paper = Budget.paper()
    assert paper.of("ilo") == PAPER_ILO == ILOSettings(stages=3, steps=25, lr=0.1, holdout=0.0)
    assert paper.of("dgp") == PAPER_DGP == DGPSettings(steps=1000, stages=5, holdout=0.0)
    assert paper.of("mganprior") == PAPER_MGANPRIOR == MGANpriorSettings(codes=20, steps=2000, holdout=0.0)
    for name in ("ilo", "dgp", "mganprior"):  # invgen's defaults stay the defaults
        assert Budget().of(name) == METHODS[name].settings() != paper.of(name)
    parser = argparse.ArgumentParser()
    add_method_arguments(parser)
    assert budget_from(parser.parse_args(["--paper"])).of("dgp") == PAPER_DGP
    assert budget_from(parser.parse_args(["--paper", "--ilo-steps", "7"])).of("ilo") == replace(PAPER_ILO, steps=7)
    monkeypatch.setenv("COLUMNS", "10000")  # one line per option: argparse wraps help text at hyphens
    with pytest.raises(SystemExit):
        cli.main(["reconstruct", "--help"])
    printed = capsys.readouterr().out
    papers = next(line for line in printed.splitlines() if "the papers' settings:" in line)
    for shown in ("--ilo-holdout 0 --ilo-stages 3 --ilo-steps 25 --ilo-lr 0.1", "--dgp-steps 1000 --dgp-stages 5",
                  "--mganprior-holdout 0 --mganprior-codes 20 --mganprior-steps 2000"):
        assert shown in papers
    assert "--ilo-radius" not in papers and "--mganprior-point" not in papers  # no counterpart: invgen's kept
    assert "steps per stage; halved for noisy y (default 100; --paper 25)" in printed  # --ilo-steps
    assert "steps; halved for noisy y (default 200; --paper 2000)" in printed  # --mganprior-steps


# ---------------------------------------------------------------- on StyleGAN2 (a synthetic checkpoint)
@pytest.fixture(scope="module")
def stylegan2_file(tmp_path_factory):
    from invgen.generators import build_stylegan2

    torch.manual_seed(3)
    G = build_stylegan2((16, 16, 8, 8), style_dim=16, n_mlp=2)  # 32×32, written in rosinality's layout
    path = tmp_path_factory.mktemp("sg2") / "g.pt"
    torch.save({"g_ema": G.network.state_dict()}, path)
    return path


@pytest.mark.parametrize("space", ["z", "w", "w+"])
def test_stylegan2_splits_between_its_resolutions(stylegan2_file, space):
    from invgen.generators import load_stylegan2

    G = load_stylegan2(stylegan2_file, space=space)
    layers = chain_of(G)
    assert layers.points == 3 and layers.shape(1) == (16 + 3, 4, 4) and layers.shape(3) == (8 + 3, 16, 16)
    z = G.sample_latent(2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for k in range(layers.points + 1):
            h = layers.run(z, z, 0, k)
            torch.testing.assert_close(G.to_unit(layers.run(h, z, k, layers.points + 1)), G(z))
    assert set(layers.parameter_names(1)) < set(layers.parameter_names(2)) < set(layers.parameter_names(4))
    used = {f"network.{n}" for n, _ in G.network.named_parameters() if space == "z" or not n.startswith("style.")}
    assert set(layers.parameter_names(4)) == used  # the mapping network only where the search maps z


@pytest.mark.parametrize("method, settings", [
    (ilo, ILOSettings(stages=2, steps=15, lr=0.05, holdout=0.0)),
    (dgp, DGPSettings(steps=15, lr_theta=1e-3, holdout=0.0)),
    (mganprior, MGANpriorSettings(codes=3, steps=15, lr_z=0.05, lr_alpha=0.05, holdout=0.0)),
], ids=["ilo", "dgp", "mganprior"])
@pytest.mark.parametrize("space", ["z", "w+"])
def test_each_runs_on_stylegan2_and_ends_below_csgm(stylegan2_file, method, settings, space):
    from invgen.generators import load_stylegan2

    G = load_stylegan2(stylegan2_file, space=space)
    A = SuperResolution((3, 32, 32), 4)
    y = A(torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2)))
    start = csgm(A, y, G, CSGMSettings(steps=10, restarts=2, latent_weight=0.0, lr=0.05), progress=False)
    result = method(A, y, G, start, settings, progress=False)
    assert result.x.shape == (1, 2, 3, 32, 32)
    assert (result.objective < start.objective).all(), (result.objective, start.objective)
