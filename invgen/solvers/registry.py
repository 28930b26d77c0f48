"""Methods by name, and the :class:`Budget` of their settings.

:data:`METHODS` maps a name to its :class:`~invgen.solvers.methods.base.Method`; a method is
one module (settings, a function) plus one line here — or one :func:`register` call in
your own code. :func:`invgen.solvers.reconstruct` runs them by name, and the command line
and the experiments make a flag of every setting of every registered method.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from invgen.solvers.methods.base import Method
from invgen.solvers.methods.baselines import BICUBIC, PINV
from invgen.solvers.methods.csgm import CSGM
from invgen.solvers.methods.dip import DIP
from invgen.solvers.methods.iagan import IAGAN
from invgen.solvers.methods.lasso_dct import LASSO_DCT

METHODS: dict[str, Method] = {}


def settings_fields() -> dict[str, dataclasses.Field]:
    """Every setting of the registered methods by name, in registration order."""
    return {f.name: f for method in METHODS.values() for f in dataclasses.fields(method.settings)}


def register(method: Method) -> Method:
    """Add ``method`` to :data:`METHODS`; ``ValueError`` if its name is taken or ends in
    ``-bp`` (the suffix that back-projects), or a setting's name is another method's, or
    a setting was not made with :func:`~invgen.solvers.methods.base.setting`."""
    if method.name in METHODS or method.name.endswith("-bp"):
        raise ValueError(f"method name {method.name!r} is taken or ends in '-bp'; registered: {', '.join(METHODS)}")
    if not dataclasses.is_dataclass(method.settings):
        raise ValueError(f"{method.name}: settings must be a dataclass, got {method.settings!r}")
    taken = settings_fields()
    for f in dataclasses.fields(method.settings):
        if f.name in taken:
            raise ValueError(f"{method.name}: the setting name {f.name!r} is taken by another method; "
                             "setting names are flags and result keys, unique across the methods")
        if "help" not in f.metadata:
            raise ValueError(f"{method.name}: the setting {f.name!r} has no help; make it with setting()")
    METHODS[method.name] = method
    return method


def unregister(name: str) -> None:
    """Remove the method ``name`` from :data:`METHODS`."""
    del METHODS[name]


register(BICUBIC)
register(PINV)
register(CSGM)
register(IAGAN)
register(DIP)
register(LASSO_DCT)


def check_setting(name: str, value: object) -> None:
    """``value`` is valid for the setting ``name``: a bool for a boolean setting, else
    what its check accepts; ``ValueError`` naming the setting otherwise."""
    f = settings_fields()[name]
    if isinstance(f.default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be True or False, got {value!r}")
    elif f.metadata["check"] is not None:
        f.metadata["check"](name, value)


class Budget:
    """The settings of every registered method, read flat: ``Budget()`` holds each
    setting's default, ``Budget(csgm_steps=300)`` changes one; ``budget.csgm_steps`` reads
    one, ``vars(budget)`` all (the keys result files record), ``budget.of("csgm")`` gives
    a method its settings dataclass. Immutable; :meth:`replace` makes a changed copy.
    Under a budget made before it was registered, a method runs with its defaults.
    """

    def __init__(self, **changes: Any) -> None:
        known = settings_fields()
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise TypeError(f"unknown setting(s) {', '.join(unknown)}; the registered methods take "
                            f"{', '.join(known)}")
        for name, value in changes.items():
            check_setting(name, value)
        self.__dict__.update({name: f.default for name, f in known.items()}, **changes)

    def of(self, method: str) -> Any:
        """The settings dataclass of ``method`` with this budget's values."""
        settings = METHODS[method].settings
        values = vars(self)
        return settings(**{f.name: values[f.name] for f in dataclasses.fields(settings) if f.name in values})

    def replace(self, **changes: Any) -> Budget:
        """A copy with ``changes``."""
        return Budget(**{**vars(self), **changes})

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a Budget is immutable; use budget.replace({name}=...)")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Budget) and vars(self) == vars(other)

    def __repr__(self) -> str:
        return f"Budget({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


#: The paper's budget: CSGM 1600 steps from one start, no latent penalty, IAGAN 500 steps
#: fitting every measurement.
PAPER = Budget(csgm_steps=1600, restarts=1, average=False, latent_weight=0.0, iagan_steps=500, iagan_holdout=0.0)
