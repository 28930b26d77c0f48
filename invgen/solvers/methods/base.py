"""What a method is: a name, a function of a :class:`Problem`, and a settings dataclass.

A method's settings are a frozen dataclass whose fields are made with :func:`setting`: a
default, one line of help and the check a value must pass. The field's name is the
setting's name everywhere — ``Budget(csgm_steps=300)``, the flag ``--csgm-steps``, the key
``"csgm_steps"`` in result files — so names are unique across the registered methods.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import torch

from invgen.generators.base import Generator
from invgen.operators import LinearOperator

if TYPE_CHECKING:
    from invgen.solvers.registry import Budget

T = TypeVar("T")
Check = Callable[[str, object], None]


def setting(default: Any, help: str, check: Check | None = None, *, flag: str | None = None) -> Any:
    """A field of a method's settings: its ``default``, whose type (bool, int, float or str)
    is the setting's (write ``0.0`` for a float), ``help`` (the command line's), and
    ``check(name, value)``, raising ``ValueError`` for a bad value (e.g.
    :func:`invgen.validation.count`); a boolean needs none. ``flag`` is the command-line
    flag when it is not ``--`` + the name with dashes; a boolean's flag sets it to
    ``not default`` (``--best-start`` turns ``average`` off)."""
    return dataclasses.field(default=default, metadata={"help": help, "check": check, "flag": flag})


@dataclass(frozen=True)
class NoSettings:
    """The settings of a method that has none."""


@dataclass
class Problem:
    """One measurement and what the methods share.

    ``y``: ``(B, *A.out_shape)``; ``generator``: ``None`` for methods that need none;
    ``encoder``: gives CSGM's first start, ``E(A⁺y)``; ``noise_std``: σ of the Gaussian
    noise on ``y`` (0: noiseless); ``budget``: every method's settings; ``seed``: seeds the
    random starts and networks.
    """

    A: LinearOperator
    y: torch.Tensor
    budget: Budget
    generator: Generator | None = None
    encoder: torch.nn.Module | None = None
    noise_std: float = 0.0
    seed: int = 0
    progress: bool = True
    _done: dict = dataclasses.field(default_factory=dict, init=False, repr=False)

    def once(self, compute: Callable[[Problem], T]) -> T:
        """``compute(self)``, computed at most once for this problem: what several methods
        share, e.g. the CSGM search that IAGAN continues."""
        if compute not in self._done:
            self._done[compute] = compute(self)
        return self._done[compute]


@dataclass(frozen=True)
class Method:
    """A reconstruction method by name.

    ``run(problem, settings)`` returns estimates ``(B·K, *A.in_shape)``: ``K ≥ 1`` for each
    image of ``problem.y``, image-major (row ``i·K + k`` is estimate ``k`` of image ``i``,
    e.g. one per random start). :func:`~invgen.solvers.reconstruct` back-projects each of
    them onto ``y`` for ``NAME-bp`` (when ``back_projectable``) and returns their mean.
    ``settings``: the dataclass of its settings (fields made with :func:`setting`);
    ``summary``: one line for the command line's help; ``needs_generator``: it runs only
    with a generator; ``check(A, settings)``, if given, raises ``ValueError`` for settings
    that cannot work with the operator ``A`` — called for every method before any runs
    (:func:`~invgen.solvers.pipeline.check_methods`), so a mistake costs no computation.
    """

    name: str
    run: Callable[[Problem, Any], torch.Tensor]
    settings: type = NoSettings
    summary: str = ""
    needs_generator: bool = False
    back_projectable: bool = True
    check: Callable[[LinearOperator, Any], None] | None = None
