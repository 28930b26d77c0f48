"""Measured inputs of ``invgen reconstruct`` (``--measured``): each IMAGE is a measurement
``y`` itself, with no truth to score against; its files are ``y``, the estimate, the
re-measured estimate ``A x̂`` beside it, and the consistency ``‖A x̂ − y‖/‖y‖``."""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from invgen.app.inputs import measured_boundary, measured_inputs
from invgen.app.reconstruct.pictures import write_pictures
from invgen.forward import ForwardModel
from invgen.metrics import consistency

read_inputs = measured_inputs  # this mode's images, operator and reader


def measure(model: ForwardModel, images: torch.Tensor, positions: range, seed: int) -> torch.Tensor:
    """The images are ``y`` already (their noise is in them)."""
    return images


def write(A, measured: torch.Tensor, y: torch.Tensor, samples: torch.Tensor, names: list[str], method: str,
          out: Path) -> list[dict]:
    """Each estimate, the measurement y and the re-measured estimate A x̂ beside it, and the
    consistency ‖A x̂ − y‖/‖y‖."""
    x_hat = samples.mean(1)
    remeasured, score = A(x_hat), consistency(A, x_hat, y)
    spreads = write_pictures({"measured": y, f"{method}_remeasured": remeasured}, samples, names, method, out)
    return [{"consistency": score[i].item(), "measured_size": list(y.shape[-2:]),
             "estimate_size": list(x_hat.shape[-2:]), **spread} for i, spread in enumerate(spreads)]


def summary(args: argparse.Namespace) -> dict:
    """What ``metrics.json`` says of a measured run: the operator's borders, mask and kernel."""
    return {"measured": True, "boundary": measured_boundary(args.task), "mask": args.mask, "kernel": args.kernel}


def print_table(args: argparse.Namespace, method: str, per_image: dict, seconds: float, maps: str, out: Path) -> None:
    print(f"\n{args.task}, {method} on measured images (no truth: consistency ‖A x̂ − y‖/‖y‖), {seconds:.1f} s")
    print(f"{'image':<16} {'size':>9} {'consistency':>12}")
    for name, m in per_image.items():
        size = "×".join(str(s) for s in reversed(m["estimate_size"]))
        print(f"{name:<16} {size:>9} {m['consistency']:>12.4f}")
    print(f"\nwrote estimates{maps}, measured and re-measured images (NAME_measured.png, "
          f"NAME_{method}_remeasured.png) and metrics.json to {out}/")
