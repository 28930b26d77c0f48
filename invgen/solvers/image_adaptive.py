"""IAGAN, image-adaptive GAN reconstruction (Abu Hussein, Tirer and Giryes, AAAI 2020): from
CSGM's latents, fit ``z`` and a private copy of the generator's weights to each image."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from invgen.forward import ForwardModel, forward_model
from invgen.generators.base import Generator, check_image_shape
from invgen.operators import LinearOperator
from invgen.priors.image_adaptive import ImageAdaptivePrior
from invgen.solvers.estimates import Estimates
from invgen.solvers.holdout import holdout_block_for, holdout_cells, holdout_split
from invgen.priors.base import Prior
from invgen.solvers.loop import Callback, Penalty, Schedule, SolveResult, solve
from invgen.solvers.method import Method, Problem
from invgen.solvers.registry import register
from invgen.solvers.settings import Settings, setting
from invgen.validation import PRECISIONS, count, fraction, positive, precision, whole


@dataclass(frozen=True)
class IAGANSettings(Settings):
    """Adam on z (``lr_z``) and a private copy of θ per image (``lr_theta``) for ``steps``
    steps; halved for noisy ``y``, as in the paper.

    ``holdout``: the share of each image's measurements left out of the fit; the iterate
    kept is the one that predicts them best, so IAGAN stops where adapting only fits
    artefacts (0: fit all, keep the smallest objective, as the paper). Under Gaussian noise
    the discrepancy principle stops IAGAN instead (held-out errors are then mostly noise: on
    the tuning faces the holdout cost 0.2 dB at ×4, σ = 10/255). ``holdout_block``: leave
    out squares of that size instead of single entries; 0: chosen from the operator
    (:func:`~invgen.solvers.holdout.holdout_block_for`: for a mask the side of its largest
    square hole, at most 8; otherwise single entries). ``precision``: mixed precision for
    the generator. The defaults were chosen on the tuning faces
    (``benchmarks/holdout_study.py``); :data:`PAPER_IAGAN` is the paper's."""

    steps: int = setting(100, "steps; halved for noisy y", count)
    lr_z: float = setting(1e-4, "learning rate for z", positive)
    lr_theta: float = setting(1e-4, "learning rate for the generator's weights θ", positive)
    holdout: float = setting(0.2, "share of each image's measurements left out, keeping the iterate that predicts "
                                  "them best (not under Gaussian noise; 0: fit all, keep the smallest objective)",
                             fraction)
    holdout_block: int = setting(0, "side of the squares left out of image measurements (1: single entries; 0: from "
                                    "the operator, for a mask the side of its largest square hole, at most 8)", whole)
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
    :func:`~invgen.solvers.reconstruct` runs; ``generator`` is never modified.

    ``problem``: a forward model (its fidelity is fitted) or an operator (noiseless). For
    noisy ``y`` the steps are halved, as in the paper; under Gaussian noise each image also
    stops by the discrepancy principle and nothing is held out, otherwise (noiseless or
    Poisson ``y``) ``settings.holdout`` of the measurements (drawn with ``seed``) choose the
    iterate kept (:func:`~invgen.solvers.holdout.holdout_split`). Back-project the result to
    use every measurement again. ``penalty``, ``callbacks``: see :func:`~invgen.solvers.solve`.
    The adapted weights are not returned.
    """
    model = continuation(problem, y, generator, start)
    prior = ImageAdaptivePrior(generator, start.z.flatten(0, 1), lr_z=settings.lr_z, lr_theta=settings.lr_theta)
    result = fit_adaptation(model, y.repeat_interleave(start.k, dim=0), prior, settings.steps, settings.holdout,
                            settings.holdout_block, seed=seed, penalty=penalty, callbacks=callbacks,
                            precision=PRECISIONS[settings.precision], progress=progress, desc="iagan")
    return Estimates.from_rows(result, start.k)


def continuation(problem: ForwardModel | LinearOperator, y: torch.Tensor, generator: Generator,
                 start: Estimates) -> ForwardModel:
    """The forward model of a method that continues the latent search, after the checks they
    all share: ``y`` measured by it, ``generator`` making images of its input shape, and
    ``start`` holding latents for each of those images."""
    model = forward_model(problem)
    model.check(y)
    check_image_shape(generator, model.A.in_shape)
    if start.z is None or start.x.shape[0] != y.shape[0]:
        raise ValueError(f"start must be the latent search's estimates of these {y.shape[0]} images "
                         "(start = csgm(problem, y, generator))")
    return model


def adaptation_steps(model: ForwardModel, steps: int) -> int:
    """The steps an adaptation runs: ``steps``, halved for noisy ``y`` (the IAGAN paper's rule)."""
    return steps if model.noiseless else max(1, steps // 2)


def fit_adaptation(
    model: ForwardModel, y: torch.Tensor, prior: Prior, steps: int, holdout: float, holdout_block: int, *,
    seed: int, penalty: Penalty | None = None, callbacks: tuple[Callback, ...] = (), schedule: Schedule | None = None,
    precision: torch.dtype | None = None, progress: bool = True, desc: str = "adapt",
) -> SolveResult:
    """:func:`~invgen.solvers.solve` with the stop rules of an adaptation that can over-fit
    ``y`` (IAGAN's, shared by the methods that adapt more than a latent): ``steps`` halved for
    noisy ``y``; under Gaussian noise the discrepancy principle; otherwise, with ``holdout``
    > 0, that share of the measurements (squares of ``holdout_block``, 0: from the operator)
    left out of the fit and the iterate predicting them best kept."""
    steps = adaptation_steps(model, steps)
    fit, check = None, None
    if holdout and (model.noiseless or not model.noise.known_level):
        fit, check = holdout_split(y, holdout, seed, holdout_block or holdout_block_for(model.A), model.fidelity)
    return solve(model, y, prior, steps, fidelity=fit, penalty=penalty, validation=check, callbacks=callbacks,
                 schedule=schedule, precision=precision, progress=progress, desc=desc)


def _run(problem: Problem, settings: IAGANSettings) -> Estimates:
    return iagan(problem.model, problem.y, problem.generator, problem.start, settings, seed=problem.seed,
                 progress=problem.progress)


def check_holdout(model: ForwardModel, settings: IAGANSettings) -> None:
    """``ValueError`` when ``settings.holdout`` (with ``settings.holdout_block``) cannot split
    the model's measurements: the check of every method with IAGAN's stop rules."""
    if settings.holdout:
        holdout_cells(tuple(model.A.out_shape), settings.holdout, settings.holdout_block or holdout_block_for(model.A))


IAGAN = register(Method("iagan", _run, IAGANSettings, PAPER_IAGAN,
                        "image-adaptive GAN: fit z and the generator's weights to y from CSGM's starts "
                        "(Abu Hussein et al. 2020)", needs_generator=True, check=check_holdout, after="csgm"))
