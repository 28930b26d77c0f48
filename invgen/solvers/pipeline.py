"""The registered methods by name, run on one measurement with the work shared between them.

``reconstruct_samples(model, y, ["csgm", "csgm-bp", "iagan", "iagan-bp"], G)`` runs CSGM once,
starts IAGAN from its estimates (``Method.after``) and back-projects both, and returns every
estimate of each (:class:`~invgen.solvers.Estimates` ``(B, K, C, H, W)``, one per start);
:func:`reconstruct_mean` takes the same arguments and returns each method's image ``(B, C, H, W)``,
the mean over its starts. A ``-bp`` suffix
back-projects each of the method's estimates onto ``y`` (exact for noiseless ``y``,
regularised by the forward model's noise otherwise, see
:func:`~invgen.solvers.back_project`) and clips it to the images' range [0, 1].

``model`` is a :class:`~invgen.forward.ForwardModel` (an operator alone is noiseless): every
method fits its fidelity and reads its noise level. Each method runs with its settings in
``budget`` (invgen's defaults unless changed; ``Budget.paper()``: the papers').
"""
from __future__ import annotations

import time

import torch

from invgen.forward import ForwardModel, forward_model
from invgen.generators import Generator
from invgen.operators import LinearOperator
from invgen.solvers.estimates import Estimates
from invgen.solvers.method import Method, Problem
from invgen.solvers.registry import METHODS, Budget


def method_names() -> list[str]:
    """Every name :func:`reconstruct_samples` and :func:`reconstruct_mean` take: each registered
    method, and ``NAME-bp`` for the back-projectable ones."""
    return [*METHODS, *(f"{name}-bp" for name, m in METHODS.items() if m.back_projectable)]


def resolve(name: str) -> tuple[Method, bool]:
    """The method that ``name`` runs and whether it back-projects (``NAME-bp``);
    ``ValueError`` listing the names otherwise."""
    if name not in method_names():
        raise ValueError(f"unknown method {name!r}; choose from {', '.join(method_names())}")
    back_project = name not in METHODS
    return METHODS[name.removesuffix("-bp") if back_project else name], back_project


def check_methods(
    problem: ForwardModel | LinearOperator, methods: list[str] | tuple[str, ...], budget: Budget,
    generator: Generator | None = None,
) -> dict[str, tuple[Method, bool]]:
    """What :func:`reconstruct_samples` runs for each name (see :func:`resolve`), checked before any
    computation: ``ValueError`` for an unknown name, a method that needs a generator
    without one, a method that splits the generator at split points it does not have, or settings a
    method (or one it continues from) cannot run with on the forward model ``problem``."""
    model = forward_model(problem)
    plan = {name: resolve(name) for name in methods}
    needed = {m.name: m for m, _ in plan.values()}
    for method in list(needed.values()):
        while method.after is not None:
            method = METHODS[method.after]
            needed.setdefault(method.name, method)
    needing = sorted(name for name, m in needed.items() if m.needs_generator)
    if needing and generator is None:
        raise ValueError(f"{', '.join(needing)} need a generator (e.g. invgen.generators.load_default())")
    for method in needed.values():
        if method.check is not None:
            method.check(model, budget.of(method.name))
        if method.split_points is not None and generator is not None:
            try:
                method.split_points(generator, budget.of(method.name))
            except ValueError as err:
                raise ValueError(f"{method.name}: {err}") from None
    return plan


def reconstruct_mean(
    problem: ForwardModel | LinearOperator,
    y: torch.Tensor,
    methods: list[str] | tuple[str, ...],
    generator: Generator | None = None,
    *,
    encoder: torch.nn.Module | None = None,
    budget: Budget | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, torch.Tensor]:
    """One image ``(B, *A.in_shape)`` per method in ``methods`` (see :func:`method_names`): the mean
    over its starts of :func:`reconstruct_samples`' estimates, which takes the same arguments
    and returns every start's."""
    samples = reconstruct_samples(problem, y, methods, generator, encoder=encoder, budget=budget, seed=seed,
                                  progress=progress)
    return {name: x.mean() for name, x in samples.items()}


def reconstruct_samples(
    problem: ForwardModel | LinearOperator,
    y: torch.Tensor,
    methods: list[str] | tuple[str, ...],
    generator: Generator | None = None,
    *,
    encoder: torch.nn.Module | None = None,
    budget: Budget | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Estimates]:
    """Every estimate of each method in ``methods``, :class:`~invgen.solvers.Estimates` of
    ``(B, K, *A.in_shape)``: ``K`` = CSGM's restarts for the generative methods when it
    averages, else 1. A ``-bp`` name back-projects each estimate.

    ``budget``: the methods' settings (``None``: invgen's defaults). ``encoder`` (trained with
    ``generator``, read by :func:`~invgen.generators.encoder.load_encoder`) gives each
    image's first CSGM start, ``E(A⁺y)`` (:func:`~invgen.solvers.encoder_starts`).
    Each method runs once, whichever names ask for it; its ``seconds`` count its own run, the
    run it continues (IAGAN's CSGM) and the back-projection.
    """
    model = forward_model(problem)
    model.check(y)
    budget = budget or Budget()
    plan = check_methods(model, methods, budget, generator)
    runs: dict[str, Estimates] = {}

    def run(method: Method) -> Estimates:
        if method.name not in runs:
            start = None if method.after is None else run(METHODS[method.after])
            problem = Problem(model, y, generator, encoder, seed, progress, start)
            began = time.perf_counter()
            estimates = _checked(method, method.run(problem, budget.of(method.name)), problem)
            estimates.seconds = time.perf_counter() - began + (start.seconds if start is not None else 0.0)
            runs[method.name] = estimates
        return runs[method.name]

    samples = {}
    for name, (method, projected) in plan.items():
        estimates = run(method)
        began = time.perf_counter()
        x = estimates.back_project(model, y).x.clamp(0, 1) if projected else estimates.x
        seconds = estimates.seconds + (time.perf_counter() - began)
        samples[name] = Estimates(x.detach(), estimates.objective, estimates.z, estimates.solve, seconds)
    return samples


def _checked(method: Method, estimates: Estimates, problem: Problem) -> Estimates:
    """``estimates`` when they are ``(B, K, *A.in_shape)``; ``ValueError`` naming the method otherwise."""
    b, shape = len(problem.y), tuple(problem.A.in_shape)
    x = getattr(estimates, "x", None)
    if not isinstance(x, torch.Tensor) or x.dim() != 2 + len(shape) or tuple(x.shape[2:]) != shape \
            or len(x) != b or not x.shape[1]:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(estimates).__name__
        raise ValueError(f"method {method.name!r} returned {got}; expected Estimates of shape "
                         f"(B, K, *A.in_shape) with B = {b} images and A.in_shape = {shape}")
    return estimates
