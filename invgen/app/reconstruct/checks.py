"""The checks of ``invgen reconstruct``: the flags before any image or generator is read
(:func:`check_reconstruct`), and each chunk's estimates before any of its files is written
(:func:`check_estimates`)."""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from invgen.app.arguments import UsageError, check_output_folder
from invgen.app.inputs import MIN_SIZE, check_measured_flags
from invgen.app.reconstruct.runs import read_json, run_identity
from invgen.app.tasks import parse_task
from invgen.solvers import METHODS


def check_reconstruct(args: argparse.Namespace) -> tuple[str, Path, dict]:
    """Every check of ``invgen reconstruct`` that needs no image or generator: the method,
    the task and their pairing, the image size, and ``--out`` (empty, holding this very
    command's run, or ``--overwrite``). Returns the method name (with ``-bp``), the output
    folder and the run's identity; :class:`UsageError` otherwise."""
    method = args.method + ("-bp" if args.bp else "")
    if args.bp and not METHODS[args.method].back_projectable:
        raise UsageError(f"--bp does not apply to {args.method}; back-projectable methods: "
                         f"{', '.join(name for name, m in METHODS.items() if m.back_projectable)}")
    try:
        kind, _ = parse_task(args.task)
    except ValueError as err:
        raise UsageError(f"--task: {err}") from None
    if args.method == "bicubic" and kind != "sr":
        raise UsageError(f"--method bicubic upsamples a low-resolution image: it needs a super-resolution "
                         f"task (srF, e.g. sr4), got --task {args.task}")
    if args.size < MIN_SIZE:
        raise UsageError(f"--size must be ≥ {MIN_SIZE} (SSIM's window), got {args.size}")
    check_measured_flags(args, kind)
    out, identity = check_output_folder(args.out), run_identity(args, method)
    earlier = read_json(out / "run.json")
    if args.merge and earlier != identity:
        raise UsageError(f"--merge: --out {out} holds no run of this command; run it first (with the same arguments)")
    if out.is_dir() and any(out.iterdir()) and not args.overwrite and earlier != identity:
        why = "holds another run's results" if earlier is not None else "is not empty"
        raise UsageError(f"--out {out} {why}; pass --overwrite to replace files there, or choose a new folder "
                         "(the same command started again resumes)")
    return method, out, identity


def check_estimates(samples: torch.Tensor, names: list[str], method: str) -> None:
    """``ValueError`` naming the images whose estimates hold NaN or infinite values, raised
    before any file of the chunk is written (a half-black PNG must not pass for a result)."""
    bad = [f"{name} ({count} values)" for name, count in zip(names, (~samples.isfinite()).flatten(1).sum(1).tolist())
           if count]
    if bad:
        raise ValueError(f"{method} made NaN or infinite estimates of {', '.join(bad)}; nothing of their chunk "
                         "was written")

