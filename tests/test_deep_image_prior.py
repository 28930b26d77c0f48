"""The Deep Image Prior as its paper runs it: the network's input perturbed at every step (invgen's
default, and every entry point's), and the paper's preset."""
from __future__ import annotations

import argparse
from dataclasses import replace

import pytest
import torch

from invgen.app.arguments import add_method_arguments, budget_from
from invgen.app.demo import DEMO_CHANGES
from invgen.operators import SuperResolution
from invgen.priors import DeepImagePrior
from invgen.priors.deep_image_prior import _Level
from invgen.solvers import METHODS, PAPER_DIP, PAPER_DIP_X8, Budget, DIPSettings, dip, reconstruct_mean

SHAPE = (3, 16, 16)


def iterates(settings: DIPSettings, steps: int = 4) -> torch.Tensor:
    """DIP's images at each step ``(steps + 1, B, C, H, W)`` of a ×2 super-resolution, at a learning
    rate too small to move the weights: what changes from step to step is the input."""
    A = SuperResolution(SHAPE, 2)
    y = A(torch.rand(2, *SHAPE, generator=torch.Generator().manual_seed(0)))
    seen = []

    def record(step, x, objective, state):
        seen.append(x.clone())

    dip(A, y, replace(settings, steps=steps, lr=1e-9, depth=2), callbacks=(record,), progress=False)
    return torch.stack(seen)


def test_invgens_dip_perturbs_the_networks_input_at_every_step():
    assert DIPSettings().input_noise > 0
    moved = iterates(DIPSettings()).diff(dim=0).abs().amax(dim=(2, 3, 4))  # (steps, B)
    assert (moved > 1e-3).all(), moved
    still = iterates(replace(DIPSettings(), input_noise=0.0)).diff(dim=0).abs().max()
    assert still < 1e-5, still  # the fixed input of the paper's unregularised variant


def test_the_library_the_command_line_the_demo_and_the_experiments_run_the_regularised_dip():
    noise = DIPSettings().input_noise
    assert noise > 0 and METHODS["dip"].settings().input_noise == noise
    assert Budget().of("dip").input_noise == noise
    assert Budget.from_flat(DEMO_CHANGES).of("dip").input_noise == noise  # the demo: fewer steps, same noise
    parser = argparse.ArgumentParser()
    add_method_arguments(parser)  # `invgen reconstruct` and `invgen bench`
    assert budget_from(parser.parse_args([])).of("dip").input_noise == noise
    assert budget_from(parser.parse_args(["--dip-input-noise", "0"])).of("dip").input_noise == 0.0
    # By name, through the registry: the default's estimate is not the fixed input's.
    A = SuperResolution(SHAPE, 2)
    y = A(torch.rand(1, *SHAPE, generator=torch.Generator().manual_seed(1)))

    def by_name(budget: Budget) -> torch.Tensor:
        return reconstruct_mean(A, y, ["dip"], budget=budget, progress=False)["dip"]

    few = {"dip.steps": 3, "dip.depth": 2}
    default, fixed = by_name(Budget.from_flat(few)), by_name(Budget.from_flat({**few, "dip.input_noise": 0.0}))
    assert (default - fixed).abs().max() > 1e-3
    torch.testing.assert_close(by_name(Budget.from_flat(few)), default, atol=0, rtol=0)  # seeded: repeatable


def test_the_perturbation_is_seeded_and_the_same_for_every_image_of_a_batch():
    rng_state = torch.random.get_rng_state()
    one = DeepImagePrior(SHAPE, 1, lr=0.01, input_noise=0.05, seed=3)
    three = DeepImagePrior(SHAPE, 3, lr=0.01, input_noise=0.05, seed=3)
    for _ in range(3):  # call after call, image 2 of a batch of three is the image of a batch of one
        torch.testing.assert_close(three()[2], one()[0], atol=1e-4, rtol=0)
    assert torch.equal(torch.random.get_rng_state(), rng_state)
    again = DeepImagePrior(SHAPE, 1, lr=0.01, input_noise=0.05, seed=3)
    first, second = again(), again()
    assert not torch.allclose(first, second)
    torch.testing.assert_close(DeepImagePrior(SHAPE, 1, lr=0.01, input_noise=0.05, seed=3)(), first, atol=0, rtol=0)
    with pytest.raises(ValueError, match="input_noise"):
        DeepImagePrior(SHAPE, 1, lr=0.01, input_noise=-0.1)
    with pytest.raises(ValueError, match="input_noise"):
        DIPSettings(input_noise=float("nan"))


def test_paper_dip_is_the_papers_super_resolution_set_up():
    assert PAPER_DIP == DIPSettings(steps=2000, lr=0.01, input_noise=0.03, channels=128, depth=5)
    assert PAPER_DIP_X8 == replace(PAPER_DIP, steps=4000, input_noise=0.05)
    assert Budget.paper().of("dip") == PAPER_DIP and METHODS["dip"].preset("paper") == PAPER_DIP
    parser = argparse.ArgumentParser()
    add_method_arguments(parser)
    assert budget_from(parser.parse_args(["--paper"])).of("dip") == PAPER_DIP
    # invgen's network is narrower and shallower than the paper's, with the same input and optimiser.
    ours = DIPSettings()
    assert (ours.channels, ours.depth) == (32, 4) and (ours.lr, ours.steps) == (PAPER_DIP.lr, PAPER_DIP.steps)
    prior = DeepImagePrior((3, 64, 64), 1, lr=PAPER_DIP.lr, input_noise=PAPER_DIP.input_noise,
                           channels=PAPER_DIP.channels, depth=PAPER_DIP.depth)
    network = prior.network.module
    levels = [m for m in network.modules() if isinstance(m, _Level)]
    assert len(levels) == 5 and network.head.in_channels == 128
    assert all(m.down[0].out_channels == 128 and m.skip[0].out_channels == 4 for m in levels)
    assert prior.noise.shape == (32, 64, 64) and 0 <= prior.noise.min() and prior.noise.max() <= 0.1
