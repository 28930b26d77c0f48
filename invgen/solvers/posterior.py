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
from invgen.solvers.pipeline import reconstruct_samples
from invgen.solvers.registry import Budget


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
    method: str = "iagan-bp",
    *,
    budget: Budget = Budget(),
    noise_std: float = 0.0,
    seed: int = 0,
    progress: bool = True,
) -> PosteriorEstimate:
    """``x̂_i = (1/K) Σ_k x_ik`` with the per-pixel spread of the ``x_ik``: the estimates of
    ``method`` (e.g. ``"iagan-bp"``: CSGM, IAGAN, then :func:`back_project_noisy
    <invgen.solvers.back_projection.back_project_noisy>`) from ``K = budget.restarts``
    independent starts, which run as one batch of ``B·K`` — for IAGAN each with its private
    weights (:func:`~invgen.solvers.pipeline.reconstruct_samples`). Back-projected estimates
    are clipped to [0, 1] before averaging. ``ValueError`` when ``budget.average`` is off
    (then each image keeps its best start: there is nothing to average).
    """
    if not budget.average:
        raise ValueError("posterior_mean averages the starts; pass a budget with average=True")
    samples = reconstruct_samples(A, y, [method], generator, noise_std=noise_std, budget=budget, seed=seed,
                                  progress=progress)[method]
    mean, spread = average_starts(samples.flatten(0, 1), samples.shape[1])
    return PosteriorEstimate(x=mean, spread=spread, samples=samples)


def average_starts(x: torch.Tensor, samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and per-pixel standard deviation over the ``samples`` starts of each image:
    ``(B·samples, ...)`` image-major rows → two ``(B, ...)`` tensors (spread 0 for one start)."""
    x = x.view(-1, samples, *x.shape[1:])
    return x.mean(1), (x.std(1) if samples > 1 else torch.zeros_like(x[:, 0]))


def pixel_spread(samples: torch.Tensor) -> torch.Tensor:
    """``(B, K, C, H, W)`` estimates → ``(B, H, W)``: at each pixel their standard deviation
    over the ``K`` estimates, root-mean-square over the channels (0 for ``K = 1``) — the
    grey uncertainty map of a colour image."""
    spread = average_starts(samples.flatten(0, 1), samples.shape[1])[1]
    return spread.square().mean(1).sqrt()
