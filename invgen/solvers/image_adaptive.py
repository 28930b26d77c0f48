"""IAGAN, image-adaptive GAN reconstruction (Abu Hussein, Tirer and Giryes, AAAI 2020): from
CSGM's latents, fit ``z`` and a private copy of the generator's weights to each image."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from invgen.forward import ForwardModel
from invgen.generators.base import Generator
from invgen.operators import LinearOperator
from invgen.priors.image_adaptive import ImageAdaptivePrior
from invgen.solvers.adaptation import StopRules, adapt, check_holdout, continuation
from invgen.solvers.estimates import Estimates
from invgen.solvers.loop import Callback, Penalty
from invgen.solvers.method import Method, Problem
from invgen.solvers.registry import register
from invgen.solvers.settings import setting
from invgen.validation import PRECISIONS, count, positive, precision


@dataclass(frozen=True)
class IAGANSettings(StopRules):
    """Adam on z (``lr_z``) and a private copy of θ per image (``lr_theta``) for ``steps``
    steps, with the adapting methods' stop rules (:class:`~invgen.solvers.adaptation.StopRules`:
    ``holdout``, ``holdout_block``; halved steps and the discrepancy principle under noise).
    ``precision``: mixed precision for the generator. :data:`PAPER_IAGAN` is the paper's."""

    steps: int = setting(100, "steps; halved for noisy y", count)
    lr_z: float = setting(1e-4, "learning rate for z", positive)
    lr_theta: float = setting(1e-4, "learning rate for the generator's weights θ", positive)
    precision: str = setting("float32", "the generator's arithmetic: float32, or mixed bfloat16 or float16",
                             precision)


#: The IAGAN paper's: 500 steps fitting every measurement.
PAPER_IAGAN = IAGANSettings(steps=500, holdout=0.0)


def iagan(
    problem: ForwardModel | LinearOperator,
    y: torch.Tensor,
    generator: Generator,
    start: Estimates,
    settings: IAGANSettings = IAGANSettings(),
    *,
    penalty: Penalty | None = None,
    callbacks: tuple[Callback, ...] = (),
    seed: int = 0,
    progress: bool = True,
) -> Estimates:
    """Fine-tune ``z`` and a per-image copy of ``G``'s weights to ``y`` (paper eq. 4) from each
    of ``start``'s latents (``start = csgm(problem, y, G)``): ``K = start.k`` estimates per
    image. Called with no settings it runs invgen's defaults, what
    :func:`~invgen.solvers.reconstruct_samples` runs; ``generator`` is never modified.

    ``problem``: a forward model (its fidelity is fitted) or an operator (noiseless). The stop
    rules are :class:`~invgen.solvers.adaptation.StopRules` (held-out measurements drawn with
    ``seed``); back-project the result to use every measurement again. ``penalty``: see
    :func:`~invgen.solvers.solve` — it reads the prior's parameters by name, ``"z"`` and
    ``"theta.NAME"`` for each of ``generator.named_parameters()``; ``callbacks``: see
    :func:`~invgen.solvers.solve`. The adapted weights are not returned.
    """
    model = continuation(problem, y, generator, start)
    prior = ImageAdaptivePrior(generator, start.z.flatten(0, 1), lr_z=settings.lr_z, lr_theta=settings.lr_theta)
    return adapt(model, y, prior, settings.steps, settings, starts=start.k, seed=seed, penalty=penalty,
                 callbacks=callbacks, precision=PRECISIONS[settings.precision], progress=progress, desc="iagan")


def _run(problem: Problem, settings: IAGANSettings) -> Estimates:
    return iagan(problem.model, problem.y, problem.generator, problem.start, settings, seed=problem.seed,
                 progress=problem.progress)


IAGAN = register(Method("iagan", _run, IAGANSettings, PAPER_IAGAN,
                        "image-adaptive GAN: fit z and the generator's weights to y from CSGM's starts "
                        "(Abu Hussein et al. 2020)", needs_generator=True, check=check_holdout, after="csgm"))
