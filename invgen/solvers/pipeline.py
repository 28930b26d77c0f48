"""The paper's methods by name, run on one measurement with the work shared between them.

``reconstruct(A, y, ["csgm", "csgm-bp", "iagan", "iagan-bp"], G)`` runs CSGM once, starts
IAGAN from its latent (as the paper does) and back-projects both. A ``-bp`` suffix
back-projects that method's estimate (exact for noiseless y, regularised otherwise, see
:func:`~invgen.solvers.back_projection.noise_adapted_eps`).

With ``Budget(average=True)`` (the default) the generative methods run from ``restarts``
independent starts (one batch) and return the mean of their estimates — back-projected
first for the ``-bp`` methods: the posterior averaging of
:func:`~invgen.solvers.posterior.posterior_mean`. With ``average=False`` each image keeps
its best start (smallest objective), as the paper does.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from invgen.generators import Generator
from invgen.operators import LinearOperator, SuperResolution
from invgen.solvers.back_projection import back_project_noisy
from invgen.solvers.csgm import best_of_restarts, csgm_all_starts, encoder_starts
from invgen.solvers.dip import dip
from invgen.solvers.iagan import iagan
from invgen.solvers.posterior import average_starts

BASE_METHODS = ("bicubic", "pinv", "csgm", "iagan", "dip")
METHODS = BASE_METHODS + tuple(f"{m}-bp" for m in ("csgm", "iagan", "dip"))
GENERATIVE = ("csgm", "iagan")


@dataclass(frozen=True)
class Budget:
    """Step counts, learning rates and starts of the methods.

    ``restarts``: CSGM starts per image (one batch); ``average``: combine them by the mean
    of their estimates (posterior averaging) rather than keep the best one.
    ``latent_weight``: CSGM's penalty ``latent_weight·‖z‖²``. The defaults are invgen's,
    chosen for super-resolution on the tuning faces (the last val faces; see
    ``docs/default-generator.md``); :data:`PAPER` holds the paper's.
    """

    csgm_steps: int = 1000
    csgm_lr: float = 0.1
    restarts: int = 4
    average: bool = True
    latent_weight: float = 1e-3
    iagan_steps: int = 100
    lr_z: float = 1e-4
    lr_theta: float = 1e-4
    dip_steps: int = 2000


#: The paper's budget: CSGM 1600 steps from one start, IAGAN 500 steps, DIP 2000.
PAPER = Budget(csgm_steps=1600, restarts=1, average=False, latent_weight=0.0, iagan_steps=500)


def bicubic_upsample(A: LinearOperator, y: torch.Tensor) -> torch.Tensor:
    """The classic baseline: bicubic interpolation of the low-resolution image ``y``."""
    if not isinstance(A, SuperResolution):
        raise ValueError("the bicubic baseline applies to super-resolution tasks only")
    return F.interpolate(y, scale_factor=A.factor, mode="bicubic", align_corners=False).clamp(0, 1)


def reconstruct(
    A: LinearOperator,
    y: torch.Tensor,
    methods: list[str] | tuple[str, ...],
    generator: Generator | None = None,
    *,
    encoder: torch.nn.Module | None = None,
    noise_std: float = 0.0,
    budget: Budget = Budget(),
    seed: int = 0,
    progress: bool = True,
) -> dict[str, torch.Tensor]:
    """Estimates ``(B, *A.in_shape)`` of each method in ``methods`` (names in :data:`METHODS`).

    ``encoder`` (trained with ``generator``, read by :func:`~invgen.generators.encoder.load_encoder`)
    gives each image's first CSGM start, ``E(A⁺y)`` (:func:`~invgen.solvers.csgm.encoder_starts`).
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
    bases = {m.removesuffix("-bp") for m in methods}
    if bases & set(GENERATIVE) and generator is None:
        raise ValueError("csgm and iagan need a generator (e.g. invgen.generators.load_default())")

    estimates: dict[str, torch.Tensor] = {}
    if "bicubic" in bases:
        estimates["bicubic"] = bicubic_upsample(A, y)
    if "pinv" in bases:
        estimates["pinv"] = A.pinv(y).clamp(0, 1)
    k = budget.restarts

    def reduce(x: torch.Tensor) -> torch.Tensor:  # the k starts of each image → one estimate
        return average_starts(x, k)[0] if budget.average else x

    per_start: dict[str, torch.Tensor] = {}
    y_all = y.repeat_interleave(k, dim=0) if budget.average else y
    if bases & set(GENERATIVE):
        z_init = None if encoder is None else encoder_starts(encoder, A, y, generator, k, seed)
        start = csgm_all_starts(A, y, generator, budget.csgm_steps, budget.csgm_lr, k, seed,
                                latent_weight=budget.latent_weight, z_init=z_init, progress=progress)
        if not budget.average:
            start = best_of_restarts(start, k)
        per_start["csgm"] = start.x
        if "iagan" in bases:
            per_start["iagan"] = iagan(A, y_all, generator, start.z, steps=budget.iagan_steps, lr_z=budget.lr_z,
                                       lr_theta=budget.lr_theta, noise_std=noise_std or None,
                                       progress=progress).x
    if "dip" in bases:
        estimates["dip"] = dip(A, y, steps=budget.dip_steps, seed=seed, noise_std=noise_std or None,
                               progress=progress).x
    for m in methods:
        base = m.removesuffix("-bp")
        if base in per_start:
            x = per_start[base]
            if m.endswith("-bp"):
                x = back_project_noisy(A, y_all, x, noise_std).clamp(0, 1)
            estimates[m] = reduce(x)
        elif m.endswith("-bp"):
            estimates[m] = back_project_noisy(A, y, estimates[base], noise_std).clamp(0, 1)
    return {m: estimates[m].detach() for m in methods}
