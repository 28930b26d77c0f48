"""The adaptation core: what the methods that continue the latent search and adapt more than a
latent (:func:`~invgen.solvers.iagan`, :func:`~invgen.solvers.ilo`, :func:`~invgen.solvers.dgp`,
:func:`~invgen.solvers.mganprior`) share — their checks, their stop rules as one settings part
(:class:`StopRules`), and the fit that applies them (:func:`adapt`). Each method says only what
it adapts: its prior. A new adapting method is a prior and one call of :func:`adapt`; a penalty
on what it adapts needs no method at all (``penalty=`` of any of them, see
``examples/anchored_iagan.py``)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from invgen.forward import ForwardModel, forward_model
from invgen.generators.base import Generator, check_image_shape
from invgen.operators import LinearOperator
from invgen.priors.base import Prior
from invgen.solvers.estimates import Estimates
from invgen.solvers.holdout import holdout_block_for, holdout_cells, holdout_split
from invgen.solvers.loop import Callback, Penalty, Schedule, solve
from invgen.solvers.settings import Settings, setting
from invgen.validation import fraction, whole


@dataclass(frozen=True)
class StopRules(Settings):
    """The stop rules of an adaptation that can over-fit ``y``, the settings part every adapting
    method's settings extend:

    - the steps are halved for noisy ``y`` (the IAGAN paper's rule, :func:`adaptation_steps`);
    - under noise of a known level (Gaussian; ``model.noise.known_level``) each estimate stops
      by the discrepancy principle, and nothing is held out: the held-out errors would then be
      mostly noise (on the tuning faces the holdout cost 0.2 dB at ×4, σ = 10/255);
    - otherwise (noiseless or Poisson ``y``) ``holdout`` of each image's measurements are left
      out of the fit, and the iterate kept is the one that predicts them best
      (:func:`~invgen.solvers.holdout.holdout_split`), so the fit stops where adapting only
      fits artefacts (0: fit all, keep the smallest objective, as the papers); ``holdout_block``
      leaves out squares of that side instead of single entries (0: chosen from the operator,
      :func:`~invgen.solvers.holdout.holdout_block_for`).

    The defaults were chosen on the tuning faces (``benchmarks/holdout_study.py``)."""

    holdout: float = setting(0.2, "share of each image's measurements left out, keeping the iterate that predicts "
                                  "them best (not under Gaussian noise; 0: fit all, keep the smallest objective)",
                             fraction)
    holdout_block: int = setting(0, "side of the squares left out of image measurements (1: single entries; 0: from "
                                    "the operator, for a mask the side of its largest square hole, at most 8)", whole)


def check_holdout(model: ForwardModel, settings: StopRules) -> None:
    """``ValueError`` when ``settings.holdout`` (with ``settings.holdout_block``) cannot split
    the model's measurements: the ``Method.check`` of every adapting method."""
    if settings.holdout:
        holdout_cells(tuple(model.A.out_shape), settings.holdout, settings.holdout_block or holdout_block_for(model.A))


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


def adapt(
    model: ForwardModel, y: torch.Tensor, prior: Prior, steps: int, rules: StopRules, *, starts: int, seed: int,
    penalty: Penalty | None = None, callbacks: tuple[Callback, ...] = (), schedule: Schedule | None = None,
    precision: torch.dtype | None = None, progress: bool = True, desc: str = "adapt",
) -> Estimates:
    """Fit ``prior`` — ``starts`` rows per image of ``y`` ``(B, *A.out_shape)``, image-major (row
    ``i·starts + j`` continues start ``j`` of image ``i``) — with :func:`~invgen.solvers.solve`
    and the :class:`StopRules` ``rules``, for ``steps`` steps (halved for noisy ``y``): ``starts``
    estimates per image. The held-out measurements are drawn with ``seed`` per start, the same
    for every image, so an image's estimate does not depend on its place in the batch.
    ``penalty``, ``callbacks``, ``schedule``, ``precision``: see :func:`~invgen.solvers.solve`."""
    rows = y.repeat_interleave(starts, dim=0)
    fit = check = None
    if rules.holdout and (model.noiseless or not model.noise.known_level):
        block = rules.holdout_block or holdout_block_for(model.A)
        fit, check = holdout_split(rows, rules.holdout, seed, block, model.fidelity, starts=starts)
    result = solve(model, rows, prior, adaptation_steps(model, steps), fidelity=fit, penalty=penalty,
                   validation=check, callbacks=callbacks, schedule=schedule, precision=precision,
                   progress=progress, desc=desc)
    return Estimates.from_rows(result, starts)
