"""Methods by name, and the :class:`Budget` of their settings.

:data:`METHODS` maps a name to its :class:`~invgen.solvers.Method`; each method's module
registers it with one :func:`register` line, and so can your own code (running that line
again, e.g. a notebook cell, is harmless). :func:`invgen.solvers.reconstruct_samples` runs them by
name, and the command line and the experiments make a flag of every setting.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from invgen.solvers.method import Method

METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add ``method`` to :data:`METHODS`, or replace it when it is the same method defined
    again (:meth:`Method.same_as`). ``ValueError`` if another method has the name, the name
    ends in ``-bp`` (the suffix that back-projects), the settings are not a dataclass, or
    ``after`` names no registered method."""
    taken = METHODS.get(method.name)
    if method.name.endswith("-bp") or (taken is not None and not taken.same_as(method)):
        raise ValueError(f"method name {method.name!r} is taken by another method or ends in '-bp'; "
                         f"registered: {', '.join(METHODS)}")
    if not dataclasses.is_dataclass(method.settings):
        raise ValueError(f"{method.name}: settings must be a dataclass, got {method.settings!r}")
    if method.after is not None and method.after not in METHODS:
        raise ValueError(f"{method.name} continues from {method.after!r}, which is not registered")
    METHODS[method.name] = method
    return method


def unregister(name: str) -> None:
    """Remove the method ``name`` from :data:`METHODS`."""
    del METHODS[name]


class Budget:
    """The settings of every registered method, by method: ``Budget()`` holds invgen's
    defaults, ``Budget(csgm=CSGMSettings(steps=300))`` changes one method's,
    :meth:`paper` the papers' presets. ``budget.of("csgm")`` gives a method its settings
    (the defaults for a method registered after the budget was made); :meth:`flat` the
    ``{"csgm.steps": 1000, ...}`` that result files record. Immutable: :meth:`replace`
    makes a changed copy.
    """

    def __init__(self, **settings: Any) -> None:
        for name, value in settings.items():
            if name not in METHODS:
                raise TypeError(f"unknown method {name!r}; registered: {', '.join(METHODS)}")
            if not isinstance(value, METHODS[name].settings):
                raise TypeError(f"{name} takes a {METHODS[name].settings.__name__}, got {type(value).__name__}")
        object.__setattr__(self, "_settings", {name: settings.get(name, m.settings()) for name, m in METHODS.items()})

    @classmethod
    def paper(cls) -> Budget:
        """Each method as its paper ran it (:attr:`Method.paper`)."""
        return cls(**{name: m.preset("paper") for name, m in METHODS.items()})

    def of(self, method: str) -> Any:
        """The settings of ``method``."""
        if method not in METHODS:
            raise KeyError(f"unknown method {method!r}; registered: {', '.join(METHODS)}")
        return self._settings.get(method) or METHODS[method].settings()

    def replace(self, **settings: Any) -> Budget:
        """A copy with the settings of the methods named in ``settings`` replaced."""
        return Budget(**{**self._settings, **settings})

    def flat(self) -> dict[str, Any]:
        """Every setting as ``"method.field": value``, in registration order."""
        return {f"{name}.{f.name}": getattr(self.of(name), f.name)
                for name in METHODS for f in dataclasses.fields(self.of(name))}

    @classmethod
    def from_flat(cls, values: dict[str, Any], base: Budget | None = None) -> Budget:
        """``base`` (default: invgen's) with the ``"method.field": value`` entries of ``values``
        changed (keys of other forms are ignored)."""
        base = base or cls()
        changes: dict[str, dict[str, Any]] = {}
        for key, value in values.items():
            method, _, field = key.partition(".")
            if method in METHODS and field:
                changes.setdefault(method, {})[field] = value
        return base.replace(**{m: dataclasses.replace(base.of(m), **c) for m, c in changes.items()})

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a Budget is immutable; use budget.replace({name}=...)")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Budget) and self.flat() == other.flat()

    def __repr__(self) -> str:
        return f"Budget({', '.join(f'{k}={v!r}' for k, v in self._settings.items())})"
