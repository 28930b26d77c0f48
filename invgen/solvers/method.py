"""What a method is: a name, a function of a :class:`Problem` and its settings returning
:class:`~invgen.solvers.Estimates`, the settings' dataclass and the paper's preset."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from invgen.forward import ForwardModel
from invgen.generators.base import Generator
from invgen.operators import LinearOperator
from invgen.solvers.estimates import Estimates
from invgen.solvers.settings import NoSettings


@dataclass
class Problem:
    """One measurement and what a method may use.

    ``model``: the forward model (operator and noise; :attr:`A` is its operator); ``y``:
    ``(B, *A.out_shape)``; ``generator``: ``None`` for methods that need none; ``encoder``:
    gives CSGM's first start, ``E(A⁺y)``; ``seed``: seeds the random starts and networks;
    ``start``: the estimates of the method this one continues (``Method.after``; IAGAN
    starts from CSGM's), else ``None``.
    """

    model: ForwardModel
    y: torch.Tensor
    generator: Generator | None = None
    encoder: torch.nn.Module | None = None
    seed: int = 0
    progress: bool = True
    start: Estimates | None = None

    @property
    def A(self) -> LinearOperator:
        return self.model.A


@dataclass(frozen=True)
class Method:
    """A reconstruction method by name.

    ``run(problem, settings)`` returns :class:`~invgen.solvers.Estimates` ``(B, K, *A.in_shape)``.
    ``settings``: the dataclass of its settings (a :class:`~invgen.solvers.Settings` whose
    fields are made with :func:`~invgen.solvers.setting`; its defaults are invgen's);
    ``paper``: the settings the method's paper used, where they differ (``None``: the
    defaults); ``summary``: one line for the command line's help; ``needs_generator``: it
    runs only with a generator; ``split_points(generator, settings)``, for a method that splits
    the generator between its layers: the generator's
    :class:`~invgen.generators.layers.Chain`, or ``ValueError`` when it has too few split points
    for these settings — called before any method runs; ``back_projectable``: ``NAME-bp`` back-projects each of its
    estimates onto ``y``; ``check(model, settings)``, if given, raises ``ValueError`` for settings
    that cannot work with the forward model ``model`` — called before any method runs; ``after``: the
    name of the method whose estimates this one continues from (``problem.start``).
    """

    name: str
    run: Callable[[Problem, Any], Estimates]
    settings: type = NoSettings
    paper: Any = None
    summary: str = ""
    needs_generator: bool = False
    split_points: Callable[[Generator, Any], Any] | None = None
    back_projectable: bool = True
    check: Callable[[ForwardModel, Any], None] | None = None
    after: str | None = None

    def preset(self, name: str) -> Any:
        """The settings of preset ``"invgen"`` (the defaults) or ``"paper"``."""
        if name not in ("invgen", "paper"):
            raise ValueError(f"preset must be 'invgen' or 'paper', got {name!r}")
        return self.paper if name == "paper" and self.paper is not None else self.settings()

    def same_as(self, other: Method) -> bool:
        """Whether ``other`` is this method defined again (a notebook cell run twice): the same
        name, the same function and settings class by their module and qualified names."""
        def where(obj: object) -> tuple[str, str]:
            return getattr(obj, "__module__", ""), getattr(obj, "__qualname__", repr(obj))

        return (self.name == other.name and where(self.run) == where(other.run)
                and where(self.settings) == where(other.settings) and self.after == other.after)
