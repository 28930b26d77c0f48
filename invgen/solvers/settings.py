"""A method's settings: a frozen dataclass whose fields are made with :func:`setting` — a
default, one line of help and the check a value must pass — checked when the object is made.

The field's name is the setting's name within its method: ``CSGMSettings(steps=300)``; the
command line makes the flag ``--csgm-steps`` of it, and result files the key ``csgm.steps``.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Check = Callable[[str, object], None]


def setting(default: Any, help: str, check: Check | None = None) -> Any:
    """A field of a method's settings: its ``default``, whose type (bool, int, float or str)
    is the setting's (write ``0.0`` for a float), ``help`` (one line, the command line's),
    and ``check(name, value)``, raising ``ValueError`` for a bad value (e.g.
    :func:`invgen.validation.count`); a boolean needs none."""
    return dataclasses.field(default=default, metadata={"help": help, "check": check})


@dataclass(frozen=True)
class Settings:
    """Base of every method's settings: each field is checked when the object is made
    (``ValueError`` naming the setting), a boolean must be a bool."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if "help" not in f.metadata:
                raise TypeError(f"{type(self).__name__}.{f.name} has no help; make it with setting()")
            value = getattr(self, f.name)
            if isinstance(f.default, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"{f.name} must be True or False, got {value!r}")
            elif f.metadata["check"] is not None:
                f.metadata["check"](f.name, value)


@dataclass(frozen=True)
class NoSettings(Settings):
    """The settings of a method that has none."""
