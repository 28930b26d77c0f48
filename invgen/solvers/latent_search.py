"""CSGM (Bora, Jalal, Price and Dimakis, ICML 2017): search the latent space of a generator."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from invgen.forward import ForwardModel, forward_model
from invgen.generators.base import Generator, check_image_shape
from invgen.operators import LinearOperator
from invgen.priors.generative import GenerativePrior
from invgen.solvers.estimates import Estimates
from invgen.solvers.loop import Callback, Penalty, solve
from invgen.solvers.method import Method, Problem
from invgen.solvers.registry import register
from invgen.solvers.settings import Settings, setting
from invgen.validation import PRECISIONS, count, nonnegative, positive, precision


@dataclass(frozen=True)
class CSGMSettings(Settings):
    """``ẑ = argmin_z fidelity(A G(z), y) + latent_weight·‖z‖²`` by Adam (``lr``, ``steps``)
    from ``restarts`` starts per image, one batch; ``average``: keep every start (an
    ensemble of restarts, their estimates averaged) rather than each image's best;
    ``precision``: mixed precision for the generator (see :func:`~invgen.solvers.solve`).
    The defaults are invgen's, chosen for super-resolution on the tuning faces (the last
    val faces; ``docs/default-generator.md``); :data:`PAPER_CSGM` is the paper's."""

    steps: int = setting(1000, "Adam steps", count)
    lr: float = setting(0.1, "learning rate for z", positive)
    restarts: int = setting(4, "random starts per image, one batch; IAGAN continues each", count)
    average: bool = setting(True, "average the starts' estimates (an ensemble of restarts); off: keep each "
                                  "image's best start, as the paper")
    latent_weight: float = setting(1e-3, "penalty on ‖z‖²", nonnegative)
    precision: str = setting("float32", "the generator's arithmetic: float32, or mixed bfloat16 or float16 "
                                        "(about 2× faster where the hardware has it)", precision)


#: The IAGAN paper's CSGM: 1600 steps from one start, no latent penalty.
PAPER_CSGM = CSGMSettings(steps=1600, restarts=1, average=False, latent_weight=0.0)


def csgm(
    problem: ForwardModel | LinearOperator,
    y: torch.Tensor,
    generator: Generator,
    settings: CSGMSettings = CSGMSettings(),
    *,
    z_init: torch.Tensor | None = None,
    penalty: Penalty | None = None,
    callbacks: tuple[Callback, ...] = (),
    seed: int = 0,
    progress: bool = True,
) -> Estimates:
    """``x̂ = G(ẑ)`` with ``ẑ`` from ``settings.restarts`` starts per image (one batch of
    ``B·restarts``): every start (``K = restarts``) when ``settings.average``, else each
    image's best (``K = 1``). Called with no settings it runs invgen's defaults, exactly what
    :func:`~invgen.solvers.reconstruct_samples` runs.

    ``problem``: a forward model (its fidelity is fitted, e.g. the Poisson likelihood) or an
    operator (noiseless, squared error). CSGM runs its ``steps`` whatever the noise: its
    range cannot fit noise the way an adapted network can. Every image uses the same
    starting latents (drawn with ``seed``), so an image's result does not depend on the
    batch — unless ``z_init`` ``(B, restarts, latent_dim)`` gives each image its own starts
    (e.g. :func:`encoder_starts`). ``penalty`` and ``callbacks``: see :func:`~invgen.solvers.solve`.
    Returns :class:`~invgen.solvers.Estimates` with ``x``, ``z``, ``objective`` and ``solve``.
    """
    model = forward_model(problem)
    model.check(y)
    check_image_shape(generator, model.A.in_shape)
    b, k = y.shape[0], settings.restarts
    if z_init is None:
        starts = generator.sample_latent(k, generator=torch.Generator().manual_seed(seed)).repeat(b, 1)
    elif tuple(z_init.shape) != (b, k, generator.latent_dim):
        raise ValueError(f"z_init must have shape (B, restarts, latent_dim) = ({b}, {k}, "
                         f"{generator.latent_dim}), got {tuple(z_init.shape)}")
    else:
        starts = z_init.reshape(b * k, -1)
    prior = GenerativePrior(generator, b * k, latent_weight=settings.latent_weight, lr=settings.lr, z_init=starts)
    result = solve(model, y.repeat_interleave(k, dim=0), prior, settings.steps, penalty=penalty, callbacks=callbacks,
                   discrepancy=None, precision=PRECISIONS[settings.precision], progress=progress, desc="csgm")
    estimates = Estimates.from_rows(result, k)
    return estimates if settings.average else estimates.best()


@torch.no_grad()
def encoder_starts(
    encoder: torch.nn.Module, problem: ForwardModel | LinearOperator, y: torch.Tensor, generator: Generator,
    restarts: int = 1, seed: int = 0,
) -> torch.Tensor:
    """Starts ``(B, restarts, latent_dim)`` for :func:`csgm`: start 0 of image ``i`` is the
    encoder's guess ``E(clip(A⁺y_i))`` (GAN inversion of what the measurement shows) with
    ``A`` the forward model's operator (``problem``: a forward model, or an operator), the
    others are the usual seeded draws of the latent law."""
    model = forward_model(problem)
    guess = encoder(model.A.pinv(model.check(y)).clamp(0, 1)).unsqueeze(1)
    if restarts == 1:
        return guess
    others = generator.sample_latent(restarts - 1, generator=torch.Generator().manual_seed(seed))
    return torch.cat([guess, others.expand(len(y), -1, -1)], dim=1)


def _run(problem: Problem, settings: CSGMSettings) -> Estimates:
    z_init = None if problem.encoder is None else encoder_starts(
        problem.encoder, problem.model, problem.y, problem.generator, settings.restarts, problem.seed)
    return csgm(problem.model, problem.y, problem.generator, settings, z_init=z_init, seed=problem.seed,
                progress=problem.progress)


CSGM = register(Method("csgm", _run, CSGMSettings, PAPER_CSGM,
                       "search the generator's latent space (Bora et al. 2017)", needs_generator=True))
