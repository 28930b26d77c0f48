"""Deep Image Prior as a method: an untrained network per image, fitted to y."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from invgen.solvers.dip import dip
from invgen.solvers.methods.base import Method, Problem, setting
from invgen.validation import count


@dataclass(frozen=True)
class DIPSettings:
    """Adam (lr 0.01, the paper's) on the weights for ``dip_steps`` steps, stopped early
    by the discrepancy principle under noise."""

    dip_steps: int = setting(2000, "DIP's steps", count)


def _estimates(problem: Problem, settings: DIPSettings) -> torch.Tensor:
    return dip(problem.A, problem.y, steps=settings.dip_steps, seed=problem.seed,
               noise_std=problem.noise_std or None, progress=problem.progress).x


DIP = Method("dip", _estimates, DIPSettings, "Deep Image Prior: fit an untrained network to y (Ulyanov et al. 2018)")
