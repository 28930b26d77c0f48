"""The registered methods by name, run on one measurement with the work shared between them.

``reconstruct(A, y, ["csgm", "csgm-bp", "iagan", "iagan-bp"], G)`` runs CSGM once, starts
IAGAN from its latents (as the paper does) and back-projects both. A ``-bp`` suffix
back-projects that method's estimate (exact for noiseless y, regularised otherwise, see
:func:`~invgen.solvers.back_projection.noise_adapted_eps`).

With ``Budget(average=True)`` (the default) the generative methods run from ``restarts``
independent starts (one batch) and return the mean of their estimates — back-projected
first for the ``-bp`` methods: posterior averaging. :func:`reconstruct_samples` returns
every start's estimate instead (their spread is an uncertainty map, see
:func:`~invgen.solvers.posterior.posterior_mean`). With ``average=False`` each image keeps
its best start (smallest objective), as the paper does.
"""
from __future__ import annotations

import torch

from invgen.generators import Generator
from invgen.operators import LinearOperator
from invgen.solvers.back_projection import back_project_noisy
from invgen.solvers.methods.base import Method, Problem
from invgen.solvers.registry import METHODS, Budget


def method_names() -> list[str]:
    """Every name :func:`reconstruct` takes: each registered method, and ``NAME-bp`` for
    the back-projectable ones."""
    return [*METHODS, *(f"{name}-bp" for name, m in METHODS.items() if m.back_projectable)]


def resolve(name: str) -> tuple[Method, bool]:
    """The method that ``name`` runs and whether it back-projects (``NAME-bp``);
    ``ValueError`` listing the names otherwise."""
    if name not in method_names():
        raise ValueError(f"unknown method {name!r}; choose from {', '.join(method_names())}")
    back_project = name not in METHODS
    return METHODS[name.removesuffix("-bp") if back_project else name], back_project


def check_methods(
    A: LinearOperator, methods: list[str] | tuple[str, ...], budget: Budget, generator: Generator | None = None,
) -> dict[str, tuple[Method, bool]]:
    """What :func:`reconstruct` runs for each name (see :func:`resolve`), checked before any
    computation: ``ValueError`` for an unknown name, a method that needs a generator
    without one, or settings a method cannot run with on ``A`` (its ``check``)."""
    plan = {name: resolve(name) for name in methods}
    needing = sorted({m.name for m, _ in plan.values() if m.needs_generator})
    if needing and generator is None:
        raise ValueError(f"{', '.join(needing)} need a generator (e.g. invgen.generators.load_default())")
    for method in {m.name: m for m, _ in plan.values()}.values():
        if method.check is not None:
            method.check(A, budget.of(method.name))
    return plan


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
    """Estimates ``(B, *A.in_shape)`` of each method in ``methods`` (see :func:`method_names`):
    the mean over the starts of :func:`reconstruct_samples`, which takes the same arguments."""
    samples = reconstruct_samples(A, y, methods, generator, encoder=encoder, noise_std=noise_std, budget=budget,
                                  seed=seed, progress=progress)
    return {name: x.mean(1) for name, x in samples.items()}


def reconstruct_samples(
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
    """Every start's estimate of each method in ``methods``, ``(B, K, *A.in_shape)``: ``K =
    budget.restarts`` for the generative methods when ``budget.average``, else 1 (the best
    start; one estimate for the other methods). A ``-bp`` name back-projects each start.

    ``encoder`` (trained with ``generator``, read by :func:`~invgen.generators.encoder.load_encoder`)
    gives each image's first CSGM start, ``E(A⁺y)`` (:func:`~invgen.solvers.csgm.encoder_starts`).
    """
    plan = check_methods(A, methods, budget, generator)
    problem = Problem(A, y, budget, generator, encoder=encoder, noise_std=noise_std, seed=seed, progress=progress)
    runs: dict[str, torch.Tensor] = {}
    samples = {}
    for name, (method, back_project) in plan.items():
        if method.name not in runs:
            runs[method.name] = _run(method, problem)
        x = runs[method.name]
        k = len(x) // len(y)
        if back_project:
            x = back_project_noisy(A, y.repeat_interleave(k, dim=0), x, noise_std).clamp(0, 1)
        samples[name] = x.detach().view(len(y), k, *x.shape[1:])
    return samples


def _run(method: Method, problem: Problem) -> torch.Tensor:
    """``method``'s estimates on ``problem``, ``(B·K, *A.in_shape)``; ``ValueError`` naming
    the method when they have another shape."""
    x = method.run(problem, problem.budget.of(method.name))
    b, shape = len(problem.y), tuple(problem.A.in_shape)
    if x.dim() != 1 + len(shape) or tuple(x.shape[1:]) != shape or len(x) % b or not len(x):
        raise ValueError(f"method {method.name!r} returned estimates of shape {tuple(x.shape)}; expected "
                         f"(B·K, *A.in_shape) with B = {b} images and A.in_shape = {shape}")
    return x
