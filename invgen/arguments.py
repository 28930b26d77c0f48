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



def check_fresh_output_folder(out: str | Path, overwrite: bool) -> Path:
    """:func:`check_output_folder`, and ``out`` holds no earlier results unless ``overwrite``."""
    out = check_output_folder(out)
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise UsageError(f"--out {out} is not empty; pass --overwrite to replace files there, or choose a new folder")
    return out


def add_budget_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of :class:`~invgen.solvers.pipeline.Budget`, one per field, with its defaults in
    the help; ``--paper`` starts from the paper's budget instead. Read back with :func:`budget_from`."""
    from invgen.solvers.pipeline import PAPER, Budget

    ours = Budget()
    group = parser.add_argument_group("budget (defaults: invgen's, chosen on held-out faces; --paper: the paper's)")
    group.add_argument("--paper", action="store_true",
                       help=f"the paper's budget: CSGM {PAPER.csgm_steps} steps from {PAPER.restarts} start, "
                            f"IAGAN {PAPER.iagan_steps} steps, no averaging, no latent penalty")
    group.add_argument("--csgm-steps", type=positive_int, default=None, help=f"default {ours.csgm_steps}")
    group.add_argument("--restarts", type=positive_int, default=None,
                       help=f"CSGM starts per image, one batch (default {ours.restarts})")
    group.add_argument("--best-start", action="store_true",
                       help="keep each image's best start (the paper) instead of averaging the starts' estimates")
    group.add_argument("--latent-weight", type=nonnegative_float, default=None,
                       help=f"CSGM's penalty on ‖z‖² (default {ours.latent_weight:g})")
    group.add_argument("--iagan-steps", type=positive_int, default=None,
                       help=f"default {ours.iagan_steps}; halved with noise")
    group.add_argument("--lr-z", type=positive_float, default=None, help=f"IAGAN's lr for z (default {ours.lr_z:g})")
    group.add_argument("--lr-theta", type=positive_float, default=None,
                       help=f"IAGAN's lr for θ (default {ours.lr_theta:g})")
    group.add_argument("--dip-steps", type=positive_int, default=None, help=f"default {ours.dip_steps}")


def budget_from(args: argparse.Namespace):
    """The :class:`~invgen.solvers.pipeline.Budget` the flags of :func:`add_budget_arguments` ask for."""
    import dataclasses

    from invgen.solvers.pipeline import PAPER, Budget

    base = PAPER if args.paper else Budget()
    changes = {f.name: getattr(args, f.name) for f in dataclasses.fields(Budget)
               if getattr(args, f.name, None) is not None}
    if args.best_start:
        changes["average"] = False
    return dataclasses.replace(base, **changes)
