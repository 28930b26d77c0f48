"""ILO, Intermediate Layer Optimization (Daras, Dean, Jalal and Dimakis, ICML 2021): after the
latent search, optimise the output of an intermediate block of the generator, then of the next
one, each inside an ℓ1 ball around the range of the blocks before it; the later blocks stay fixed."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from invgen.forward import ForwardModel
from invgen.generators.base import Generator
from invgen.generators.layers import Chain, chain_with_points
from invgen.operators import LinearOperator
from invgen.priors.intermediate import IntermediateLayerPrior
from invgen.solvers.estimates import Estimates
from invgen.solvers.adaptation import StopRules, adapt, check_holdout, continuation
from invgen.solvers.loop import Callback, Penalty
from invgen.solvers.method import Method, Problem
from invgen.solvers.registry import register
from invgen.solvers.settings import setting
from invgen.validation import count, nonnegative, positive


@dataclass(frozen=True)
class ILOSettings(StopRules):
    """Stage ``s`` (``s = 0 … stages − 1``) optimises a deviation ``δ`` of the features at split
    point ``first + s`` (:mod:`invgen.generators.layers`; 1 is after the first block) by
    projected Adam (``lr``) for ``steps`` steps, ``‖δ_i‖₁ ≤ radius·‖h_i‖₁`` with ``h_i`` the
    features of the previous stage's solution there; the stop rules are the adapting methods'
    (:class:`~invgen.solvers.adaptation.StopRules`)."""

    first: int = setting(1, "the first split point optimised (1: after the generator's first block)", count)
    stages: int = setting(2, "split points optimised one after another, from the first", count)
    steps: int = setting(100, "steps per stage; halved for noisy y", count)
    lr: float = setting(0.01, "learning rate of the deviations", positive)
    radius: float = setting(0.1, "ℓ1 radius of each stage's deviation, relative to ‖features‖₁", nonnegative)


#: The ILO authors' settings where invgen has a counterpart (github.com/giannisdaras/ilo: README.md's
#: super-resolution and inpainting commands, ``stylegan.steps=[25,25,25,25]``; configs/config.yaml):
#: four rounds of 25 steps, the first on the latent (here CSGM, with its own preset), then the three
#: intermediate layers after it from the first block on (``first`` = 1, invgen's already): ``stages=3``,
#: ``steps=25``; ``lr=0.1`` (config.yaml ``lr``), the peak of their cosine ramp (up over the first 5 %,
#: down over the last 75 % of each round), held constant here; ``holdout=0``: they fit every measurement
#: and keep the iterate of smallest MSE. Not mapped, invgen's value kept: ``radius`` — their ℓ1
#: projection is off by default (``do_project_gen_out: false``) and its radii are absolute on StyleGAN2's
#: features (``max_radius_gen_out: [1000, 1000, 6000]``), not relative to ‖features‖₁. Their README's
#: compressed-sensing example (``steps=[300,200,100]``, a different count per layer) has no one-count
#: counterpart, nor do their LPIPS and geocross terms, noise inputs and sphere projection.
PAPER_ILO = ILOSettings(stages=3, steps=25, lr=0.1, holdout=0.0)


def ilo(
    problem: ForwardModel | LinearOperator,
    y: torch.Tensor,
    generator: Generator,
    start: Estimates,
    settings: ILOSettings = ILOSettings(),
    *,
    penalty: Penalty | None = None,
    callbacks: tuple[Callback, ...] = (),
    seed: int = 0,
    progress: bool = True,
) -> Estimates:
    """ILO from each of ``start``'s latents (``start = csgm(problem, y, G)``): ``K = start.k``
    estimates per image; ``Estimates.solve`` is the last stage's fit. ``problem``, ``penalty``,
    ``callbacks``: as :func:`~invgen.solvers.iagan`. ``ValueError`` when the stages run past
    the generator's split points."""
    model = continuation(problem, y, generator, start)
    layers = split_points(generator, settings)
    z = start.z.flatten(0, 1)
    with torch.no_grad():
        features = layers.run(z, z, 0, settings.first)
    points = range(settings.first, settings.first + settings.stages)
    for point in points:
        prior = IntermediateLayerPrior(generator, z, features, point, radius=settings.radius, lr=settings.lr)
        estimates = adapt(model, y, prior, settings.steps, settings, starts=start.k, seed=seed, penalty=penalty,
                          callbacks=callbacks, progress=progress, desc=f"ilo {point - settings.first + 1}/{settings.stages}")
        if point < points[-1]:  # the next stage starts from this one's solution, one block deeper
            with torch.no_grad():
                features = layers.run(estimates.solve.state["features"], z, point, point + 1)
    return estimates


def split_points(generator: Generator, settings: ILOSettings) -> Chain:
    """The generator's chain, or ``ValueError`` when the stages run past its split points."""
    return chain_with_points(generator, settings.first + settings.stages - 1, "ILO",
                             f"first + stages − 1 = {settings.first} + {settings.stages} − 1")


def _run(problem: Problem, settings: ILOSettings) -> Estimates:
    return ilo(problem.model, problem.y, problem.generator, problem.start, settings, seed=problem.seed,
               progress=problem.progress)


ILO = register(Method("ilo", _run, ILOSettings, PAPER_ILO,
                      summary="intermediate layer optimization from CSGM's starts: features of deeper and deeper "
                      "layers inside ℓ1 balls (Daras et al. 2021)",
                      needs_generator=True, split_points=split_points, check=check_holdout, after="csgm"))
