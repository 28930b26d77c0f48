"""CSGM as a method: the latent search from ``restarts`` starts per image, one batch."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from invgen.solvers.csgm import best_of_restarts, csgm_all_starts, encoder_starts
from invgen.solvers.loop import SolveResult
from invgen.solvers.methods.base import Method, Problem, setting
from invgen.validation import PRECISIONS, count, nonnegative, positive, precision


@dataclass(frozen=True)
class CSGMSettings:
    """``ẑ = argmin_z ‖y − A G(z)‖² + latent_weight·‖z‖²`` by Adam from ``restarts`` starts
    per image; ``average``: keep every start (their estimates are averaged, the posterior
    mean) rather than each image's best; ``csgm_precision``: mixed precision for the
    generator (:func:`~invgen.solvers.solve`'s ``precision``). IAGAN continues from these
    starts. The defaults are invgen's, chosen for super-resolution on the tuning faces (the last val faces; see
    ``docs/default-generator.md``); :data:`~invgen.solvers.PAPER` holds the paper's."""

    csgm_steps: int = setting(1000, "CSGM's Adam steps", count)
    csgm_lr: float = setting(0.1, "CSGM's learning rate for z", positive)
    restarts: int = setting(4, "CSGM starts per image, one batch; IAGAN continues each", count)
    average: bool = setting(True, "keep each image's best start (the paper) instead of averaging the starts' "
                                  "estimates", flag="--best-start")
    latent_weight: float = setting(1e-3, "CSGM's penalty on ‖z‖²", nonnegative)
    csgm_precision: str = setting("float32", "the generator's arithmetic in CSGM: float32, or mixed bfloat16 or "
                                             "float16 (about 2× faster where the hardware has it)", precision)


def search(problem: Problem) -> SolveResult:
    """CSGM on ``problem`` with its budget's settings: every start (``B·restarts`` rows,
    image-major) when averaging, else each image's best start (``B`` rows). The encoder,
    if any, gives each image's first start."""
    s: CSGMSettings = problem.budget.of("csgm")
    A, y, G = problem.A, problem.y, problem.generator
    z_init = None if problem.encoder is None else encoder_starts(problem.encoder, A, y, G, s.restarts, problem.seed)
    result = csgm_all_starts(A, y, G, s.csgm_steps, s.csgm_lr, s.restarts, problem.seed,
                             latent_weight=s.latent_weight, z_init=z_init, precision=PRECISIONS[s.csgm_precision],
                             progress=problem.progress)
    return result if s.average else best_of_restarts(result, s.restarts)


def _estimates(problem: Problem, settings: CSGMSettings) -> torch.Tensor:
    return problem.once(search).x


CSGM = Method("csgm", _estimates, CSGMSettings, "search the generator's latent space (Bora et al. 2017)",
              needs_generator=True)
