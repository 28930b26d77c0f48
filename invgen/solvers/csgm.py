"""CSGM (Bora, Jalal, Price and Dimakis, ICML 2017): search the latent space of a generator."""
from __future__ import annotations

import torch

from invgen.generators.base import Generator, check_image_shape
from invgen.operators import LinearOperator
from invgen.priors.generative import GenerativePrior
from invgen.solvers.loop import SolveResult, check_measurement, solve
from invgen.validation import check_settings


def csgm(
    A: LinearOperator,
    y: torch.Tensor,
    generator: Generator,
    steps: int = 1600,
    lr: float = 0.1,
    restarts: int = 1,
    seed: int = 0,
    *,
    latent_weight: float = 0.0,
    z_init: torch.Tensor | None = None,
    noise_std: float | None = None,
    patience: int | None = None,
    precision: torch.dtype | None = None,
    progress: bool = True,
) -> SolveResult:
    """``x̂_i = G(ẑ_i)``, ``ẑ_i = argmin_z ‖y_i − A G(z)‖² + latent_weight·‖z‖²`` (Adam, ``lr``).

    ``restarts`` random starts per image run together as one batch of ``B·restarts``;
    each image keeps its best start. Every image uses the same ``restarts`` starting
    latents (drawn with ``seed``), so an image's result does not depend on the batch —
    unless ``z_init`` ``(B, restarts, latent_dim)`` gives each image its own starts (e.g.
    :func:`encoder_starts`). Defaults are the IAGAN paper's (1600 steps, lr 0.1). Returns a :class:`SolveResult`
    with ``.x``, ``.z``, ``.objective`` and ``.history`` of the best start per image.
    See :func:`invgen.solvers.solve` for ``noise_std``, ``patience`` and ``precision``.
    """
    result = csgm_all_starts(A, y, generator, steps, lr, restarts, seed, latent_weight=latent_weight,
                             z_init=z_init, noise_std=noise_std, patience=patience, precision=precision,
                             progress=progress)
    return best_of_restarts(result, restarts)


def csgm_all_starts(
    A: LinearOperator,
    y: torch.Tensor,
    generator: Generator,
    steps: int = 1600,
    lr: float = 0.1,
    restarts: int = 1,
    seed: int = 0,
    *,
    latent_weight: float = 0.0,
    z_init: torch.Tensor | None = None,
    noise_std: float | None = None,
    patience: int | None = None,
    precision: torch.dtype | None = None,
    progress: bool = True,
) -> SolveResult:
    """:func:`csgm` without the choice: the result of every start, ``B·restarts`` rows,
    image-major (row ``i·restarts + r`` is start ``r`` of image ``i``)."""
    check_measurement(A, y)
    check_settings(steps=steps, lr=lr, restarts=restarts, latent_weight=latent_weight, noise_std=noise_std,
                   patience=patience)
    check_image_shape(generator, A.in_shape)
    b = y.shape[0]
    if z_init is None:
        starts = generator.sample_latent(restarts, generator=torch.Generator().manual_seed(seed)).repeat(b, 1)
    elif tuple(z_init.shape) != (b, restarts, generator.latent_dim):
        raise ValueError(f"z_init must have shape (B, restarts, latent_dim) = ({b}, {restarts}, "
                         f"{generator.latent_dim}), got {tuple(z_init.shape)}")
    else:
        starts = z_init.reshape(b * restarts, -1)
    prior = GenerativePrior(generator, b * restarts, latent_weight=latent_weight, lr=lr, z_init=starts)
    return solve(A, y.repeat_interleave(restarts, dim=0), prior, steps, noise_std=noise_std,
                 patience=patience, precision=precision, progress=progress, desc="csgm")


def best_of_restarts(result: SolveResult, restarts: int) -> SolveResult:
    """Keep, for each image, the start with the smallest objective (rows image-major)."""
    return result.select(best_start_rows(result.objective, restarts))


def best_start_rows(objective: torch.Tensor, restarts: int) -> torch.Tensor:
    """The row of each image's best start (NaN counts as worst), for ``B·restarts`` rows, image-major."""
    objective = torch.nan_to_num(objective, nan=torch.inf).view(-1, restarts)
    return torch.arange(objective.shape[0], device=objective.device) * restarts + objective.argmin(1)


@torch.no_grad()
def encoder_starts(
    encoder: torch.nn.Module, A: LinearOperator, y: torch.Tensor, generator: Generator, restarts: int = 1,
    seed: int = 0,
) -> torch.Tensor:
    """Starts ``(B, restarts, latent_dim)`` for :func:`csgm`: start 0 of image ``i`` is the
    encoder's guess ``E(clip(A⁺y_i))`` (GAN inversion of what the measurement shows), the
    others are the usual seeded draws of the latent law."""
    check_measurement(A, y)
    guess = encoder(A.pinv(y).clamp(0, 1)).unsqueeze(1)
    if restarts == 1:
        return guess
    others = generator.sample_latent(restarts - 1, generator=torch.Generator().manual_seed(seed))
    return torch.cat([guess, others.expand(len(y), -1, -1)], dim=1)
