"""What every ``invgen`` command line shares: one-line errors, checked argument types, and
the flags of the methods' settings, made from the registry (:func:`add_method_arguments`).

A user's mistake is one line on stderr, ``invgen COMMAND: error: ...`` naming the argument
and what it expects, and exit code 2 — from argparse (:class:`Parser`), from the checks
the commands run before any computation (:class:`UsageError`), or from the library's own
``FileNotFoundError``-like errors, which ``invgen.app.cli.main`` prints the same way.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
from collections.abc import Callable
from pathlib import Path

from invgen.solvers import METHODS, Budget


class UsageError(Exception):
    """A user error found before any computation: printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (with a pointer to ``--help``), exit code 2."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def positive_int(text: str) -> int:
    """An integer ≥ 1 (step counts, restarts, image counts)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer ≥ 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer ≥ 1, got {value}")
    return value


def random_seed(text: str) -> int:
    """A random seed: an integer in [0, 2³²) (invgen derives further seeds from it)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**32), got {text!r}")
    return value


def _number(text: str, expected: str, ok) -> float:
    """``float(text)`` when finite and ``ok``; otherwise an error saying ``expected``."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and ok(value)):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def nonnegative_float(text: str) -> float:
    """A finite number ≥ 0 (noise levels)."""
    return _number(text, "a finite number ≥ 0", lambda v: v >= 0)


def positive_float(text: str) -> float:
    """A finite number > 0 (learning rates)."""
    return _number(text, "a finite number > 0", lambda v: v > 0)


def check_output_folder(out: str | Path, flag: str = "--out") -> Path:
    """``out`` can be a folder invgen writes into: not a file, and the nearest existing
    folder on its path is writable. Writes nothing; :class:`UsageError` otherwise."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{flag} {out} is a file; expected a folder (existing or to be created)")
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{flag} {out}: {parent} is a file, so the folder cannot be created")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {out}: no permission to write in {parent}")
    return out



def check_fresh_output_folder(out: str | Path, overwrite: bool) -> Path:
    """:func:`check_output_folder`, and ``out`` holds no earlier results unless ``overwrite``."""
    out = check_output_folder(out)
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise UsageError(f"--out {out} is not empty; pass --overwrite to replace files there, or choose a new folder")
    return out


def add_method_arguments(parser: argparse.ArgumentParser) -> None:
    """``--paper``, and a flag for every setting of every registered method
    (:data:`~invgen.solvers.METHODS`), grouped by method: ``--METHOD-SETTING`` (``--csgm-steps``,
    ``--iagan-lr-theta``; a boolean ``--csgm-average`` / ``--no-csgm-average``), with the
    setting's help, invgen's default and the paper's where it differs. A flag left out keeps
    the budget's value; read the flags back with :func:`budget_from`."""
    ours, paper = Budget().flat(), Budget.paper().flat()
    differs = {key: value for key, value in paper.items() if value != ours[key]}
    group = parser.add_argument_group("budget (defaults: invgen's, chosen on held-out faces; --paper: the papers')")
    group.add_argument("--paper", action="store_true", help="the papers' settings: " + " ".join(
        flag_of(key, value) + ("" if isinstance(value, bool) else f" {shown(value)}") for key, value in differs.items()))
    for method in METHODS.values():
        if not dataclasses.fields(method.settings):
            continue
        group = parser.add_argument_group(f"{method.name}: {method.summary}")
        for f in dataclasses.fields(method.settings):
            key = f"{method.name}.{f.name}"
            help_text = f.metadata["help"].replace("%", "%%")
            also = f"; --paper {shown(differs[key])}" if key in differs else ""
            if isinstance(f.default, bool):
                group.add_argument(flag_of(key), dest=key, action=argparse.BooleanOptionalAction, default=None,
                                   help=f"{help_text} (default {'on' if f.default else 'off'}{also})")
            else:
                group.add_argument(flag_of(key), dest=key, type=setting_type(f), default=None,
                                   help=f"{help_text} (default {shown(f.default)}{also})")


def shown(value: object) -> str:
    """A setting's value in help text: numbers in their shortest form (``0.001``, ``1600``)."""
    return format(value, "g") if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def flag_of(key: str, value: object = None) -> str:
    """The command-line flag of the setting ``"method.field"``: ``--method-field`` (dashes for
    underscores); for a boolean ``value``, the flag that sets it (``--no-...`` for False)."""
    flag = "--" + key.replace(".", "-").replace("_", "-")
    return flag.replace("--", "--no-", 1) if value is False else flag


def setting_type(f: dataclasses.Field) -> Callable[[str], object]:
    """The argparse type of a method's setting: its default's type (int, float or str),
    checked by the setting's own check (see :func:`invgen.solvers.setting`)."""
    kind, check = type(f.default), f.metadata["check"]

    def parse(text: str) -> object:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        if check is not None:
            try:
                check(f.name, value)
            except ValueError as err:
                raise argparse.ArgumentTypeError(str(err)) from None
        return value

    return parse


def budget_from(args: argparse.Namespace) -> Budget:
    """The :class:`~invgen.solvers.Budget` the flags of :func:`add_method_arguments` ask for:
    the papers' with ``--paper``, else invgen's, changed by every flag given."""
    base = Budget.paper() if args.paper else Budget()
    return Budget.from_flat({key: value for key, value in vars(args).items() if "." in key and value is not None},
                            base)
