"""What every ``invgen`` command line shares: one-line errors and checked argument types.

A user's mistake is one line on stderr, ``invgen COMMAND: error: ...`` naming the argument
and what it expects, and exit code 2 — from argparse (:class:`Parser`), from the checks
the commands run before any computation (:class:`UsageError`), or from the library's own
``FileNotFoundError``-like errors, which ``invgen.cli.main`` prints the same way.
"""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path


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

