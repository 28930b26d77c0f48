"""DGP-style progressive adaptation (Deep Generative Prior; Pan, Zhan, Dai, Lin, Loy and Luo,
ECCV 2020): after the latent search, fine-tune the generator's blocks progressively from the
first to the last — each stage adds the next block to the trained set — with IAGAN's
per-image weights, holdout and stop rules."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from invgen.forward import ForwardModel
from invgen.generators.base import Generator
from invgen.generators.layers import Chain, chain_with_points
from invgen.operators import LinearOperator
from invgen.priors.image_adaptive import ProgressivePrior
from invgen.solvers.estimates import Estimates
from invgen.solvers.adaptation import StopRules, adapt, adaptation_steps, check_holdout, continuation
from invgen.solvers.loop import Callback, Penalty
from invgen.solvers.method import Method, Problem
from invgen.solvers.registry import register
from invgen.solvers.settings import setting
from invgen.validation import PRECISIONS, count, positive, precision, whole


@dataclass(frozen=True)
class DGPSettings(StopRules):
    """``steps`` in all (halved for noisy y), split evenly between ``stages`` (0: one per block
    of the generator, :mod:`invgen.generators.layers`); stage ``s`` trains the latent and the
    weights of blocks ``1 … s`` (the last stage every block), at IAGAN's learning rates, with
    the adapting methods' stop rules (:class:`~invgen.solvers.adaptation.StopRules`)."""

    steps: int = setting(200, "steps in all, split evenly between the stages; halved for noisy y", count)
    stages: int = setting(0, "stages, each opening the next block (0: one per block)", whole)
    lr_z: float = setting(1e-4, "learning rate for z", positive)
    lr_theta: float = setting(1e-4, "learning rate for the opened blocks' weights", positive)
    precision: str = setting("float32", "the generator's arithmetic: float32, or mixed bfloat16 or float16", precision)


#: The DGP authors' settings where invgen has a counterpart (github.com/XingangPan/deep-generative-prior,
#: the paper's ImageNet runs: experiments/imagenet1k_128/SR/MSE_biased/train.sh and
#: experiments/imagenet1k_128/inpainting/train.sh): five stages of 200 iterations
#: (``--iterations 200 200 200 200 200``), each fine-tuning more of BigGAN's blocks (``--ft_num``; the
#: last stage all): ``stages=5``, ``steps=1000`` in all; ``holdout=0``: they fit every measurement (and
#: keep the last iterate, where invgen keeps the smallest objective). Not mapped, invgen's values kept:
#: the learning rates — theirs change from stage to stage (SR: ``--G_lrs 2e-4 2e-4 1e-4 1e-4 1e-5``,
#: ``--z_lrs 1e-3 1e-3 1e-4 1e-4 1e-5``), a schedule one ``lr_theta`` and one ``lr_z`` cannot hold; which
#: blocks a stage opens depends on the generator (BigGAN's first stage opens two parameter groups). Their
#: discriminator feature loss, latent prior term (``--w_nll``) and 500-sample latent selection have no
#: counterpart (invgen starts from CSGM's latents).
PAPER_DGP = DGPSettings(steps=1000, stages=5, holdout=0.0)


def stage_blocks(generator: Generator, stages: int) -> list[list[str]]:
    """The generator's weights grouped into ``stages`` stages (0: one per block): stage ``s < stages``
    holds block ``s``'s weights, the last stage every remaining block's. ``ValueError`` for more
    stages than blocks."""
    layers = _chain(generator, stages)
    n_blocks = layers.points + 1
    stages = stages or n_blocks
    before = [set(layers.parameter_names(point)) for point in range(n_blocks + 1)]
    cuts = [*range(1, stages), n_blocks]
    return [sorted(before[end] - before[begin]) for begin, end in zip([0, *cuts[:-1]], cuts)]


def split_points(generator: Generator, settings: DGPSettings) -> Chain:
    """The generator's chain, or ``ValueError`` when it has fewer blocks than stages."""
    return _chain(generator, settings.stages)


def _chain(generator: Generator, stages: int) -> Chain:
    return chain_with_points(generator, max(stages - 1, 0), "DGP",
                             f"stages = {stages}: one block each, stages − 1 split points between them")


def progressive_schedule(stage_steps: int):
    """The learning-rate schedule that opens parameter group ``g ≥ 1`` (block stage ``g``) at
    update ``(g − 1)·stage_steps`` — closed groups have learning rate 0, so Adam leaves them
    exactly as they are; group 0 (the latent) is always open."""
    def schedule(optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LambdaLR:
        def opener(group: int):
            return lambda step: 1.0 if group == 0 or step >= (group - 1) * stage_steps else 0.0
        return torch.optim.lr_scheduler.LambdaLR(optimizer, [opener(g) for g in range(len(optimizer.param_groups))])
    return schedule


def dgp(
    problem: ForwardModel | LinearOperator,
    y: torch.Tensor,
    generator: Generator,
    start: Estimates,
    settings: DGPSettings = DGPSettings(),
    *,
    penalty: Penalty | None = None,
    callbacks: tuple[Callback, ...] = (),
    seed: int = 0,
    progress: bool = True,
) -> Estimates:
    """Progressive adaptation from each of ``start``'s latents (``start = csgm(problem, y, G)``):
    ``K = start.k`` estimates per image. ``problem``, ``penalty``, ``callbacks``: as
    :func:`~invgen.solvers.iagan`; ``generator`` is never modified."""
    model = continuation(problem, y, generator, start)
    blocks = stage_blocks(generator, settings.stages)
    stage_steps = math.ceil(adaptation_steps(model, settings.steps) / len(blocks))
    prior = ProgressivePrior(generator, start.z.flatten(0, 1), blocks, lr_z=settings.lr_z, lr_theta=settings.lr_theta)
    return adapt(model, y, prior, settings.steps, settings, starts=start.k, seed=seed, penalty=penalty,
                 callbacks=callbacks, schedule=progressive_schedule(stage_steps),
                 precision=PRECISIONS[settings.precision], progress=progress, desc="dgp")


def _run(problem: Problem, settings: DGPSettings) -> Estimates:
    return dgp(problem.model, problem.y, problem.generator, problem.start, settings, seed=problem.seed,
               progress=problem.progress)


DGP = register(Method("dgp", _run, DGPSettings, PAPER_DGP,
                      summary="progressive adaptation from CSGM's starts: the generator's blocks fine-tuned from "
                      "the first to the last (Pan et al. 2020)",
                      needs_generator=True, split_points=split_points, check=check_holdout, after="csgm"))
