"""Posterior averaging: the mean of several independent generative reconstructions.

A single CSGM/IAGAN run returns one point of the set of images the prior finds
consistent with ``y``; which one depends on the random start. Under squared error the
best single answer is the posterior mean, so averaging the back-projected estimates of
``K`` independent starts lowers the MSE (the error of one start = the error of the mean
+ the spread between starts), and the per-pixel spread between starts is an
uncertainty map: large where ``y`` does not pin the image down.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from invgen.generators.base import Generator
from invgen.operators import LinearOperator
from invgen.solvers.back_projection import back_project_noisy
from invgen.solvers.csgm import csgm_all_starts
from invgen.solvers.iagan import iagan


@dataclass
class PosteriorEstimate:
    """``x``: ``(B, C, H, W)``, the mean of the ``K`` estimates; ``spread``: their per-pixel
    standard deviation, same shape; ``samples``: ``(B, K, C, H, W)``, the estimates."""

    x: torch.Tensor
    spread: torch.Tensor
    samples: torch.Tensor


def posterior_mean(
    A: LinearOperator,
    y: torch.Tensor,
    generator: Generator,
    samples: int = 4,
    *,
    csgm_steps: int = 1600,
    csgm_lr: float = 0.1,
    latent_weight: float = 0.0,
    iagan_steps: int = 0,
    lr_z: float = 1e-4,
    lr_theta: float = 1e-4,
    holdout: float | None = None,
    holdout_block: int | None = None,
    noise_std: float = 0.0,
    seed: int = 0,
    progress: bool = True,
) -> PosteriorEstimate:
    """``x̂_i = (1/K) Σ_k BP(x_ik)``, ``x_ik`` = CSGM from start ``k`` (then IAGAN for
    ``iagan_steps`` > 0, with ``holdout``/``holdout_block`` as in :func:`iagan`), ``BP`` = :func:`back_project_noisy` (exact for ``noise_std = 0``).

    The ``K = samples`` starts of all ``B`` images run as one batch of ``B·K``, for CSGM
    and for IAGAN (each with its private weights). Estimates are clipped to [0, 1] before
    averaging.
    """
    if samples < 1:
        raise ValueError(f"samples must be ≥ 1, got {samples}")
    start = csgm_all_starts(A, y, generator, csgm_steps, csgm_lr, samples, seed, latent_weight=latent_weight,
                            noise_std=noise_std or None, progress=progress)
    y_all = y.repeat_interleave(samples, dim=0)
    x = start.x
    if iagan_steps > 0:
        x = iagan(A, y_all, generator, start.z, steps=iagan_steps, lr_z=lr_z, lr_theta=lr_theta,
                  noise_std=noise_std or None, holdout=holdout, holdout_block=holdout_block, seed=seed,
                  progress=progress).x
    x = back_project_noisy(A, y_all, x, noise_std).clamp(0, 1).detach()
    mean, spread = average_starts(x, samples)
    return PosteriorEstimate(x=mean, spread=spread, samples=x.view(y.shape[0], samples, *x.shape[1:]))


def average_starts(x: torch.Tensor, samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and per-pixel standard deviation over the ``samples`` starts of each image:
    ``(B·samples, ...)`` image-major rows → two ``(B, ...)`` tensors (spread 0 for one start)."""
    x = x.view(-1, samples, *x.shape[1:])
    return x.mean(1), (x.std(1) if samples > 1 else torch.zeros_like(x[:, 0]))
