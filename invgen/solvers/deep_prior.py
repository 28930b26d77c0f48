"""Deep Image Prior (Ulyanov, Vedaldi and Lempitsky, CVPR 2018): an untrained network per image,
fitted to y — the non-generative baseline."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from invgen.forward import ForwardModel, forward_model
from invgen.operators import LinearOperator
from invgen.priors.deep_image_prior import DeepImagePrior
from invgen.solvers.estimates import Estimates
from invgen.solvers.loop import Callback, Penalty, solve
from invgen.solvers.method import Method, Problem
from invgen.solvers.registry import register
from invgen.solvers.settings import Settings, setting
from invgen.validation import count, positive


@dataclass(frozen=True)
class DIPSettings(Settings):
    """Adam (``lr``, the paper's 0.01) on the network's weights for ``steps`` steps; under
    Gaussian noise each image also stops by the discrepancy principle (DIP over-fits noise
    when run too long)."""

    steps: int = setting(2000, "Adam steps", count)
    lr: float = setting(0.01, "learning rate", positive)


def dip(
    problem: ForwardModel | LinearOperator,
    y: torch.Tensor,
    settings: DIPSettings = DIPSettings(),
    *,
    penalty: Penalty | None = None,
    callbacks: tuple[Callback, ...] = (),
    seed: int = 0,
    progress: bool = True,
) -> Estimates:
    """Fit an untrained encoder-decoder (one per image, the same seeded start) to ``y`` with the
    forward model's fidelity; one estimate per image. ``penalty``, ``callbacks``: see
    :func:`~invgen.solvers.solve`."""
    model = forward_model(problem)
    model.check(y)
    prior = DeepImagePrior(model.A.in_shape, y.shape[0], lr=settings.lr, seed=seed, device=y.device)
    result = solve(model, y, prior, settings.steps, penalty=penalty, callbacks=callbacks, progress=progress,
                   desc="dip")
    return Estimates.from_rows(result, 1)


def _run(problem: Problem, settings: DIPSettings) -> Estimates:
    return dip(problem.model, problem.y, settings, seed=problem.seed, progress=problem.progress)


DIP = register(Method("dip", _run, DIPSettings, summary="Deep Image Prior: fit an untrained network to y "
                                                         "(Ulyanov et al. 2018)"))
