"""Simulated inputs of ``invgen reconstruct``: each IMAGE is a truth ``x``, measured as
``y = A x (+ noise)`` with image ``i``'s noise seeded by ``seed·100003 + i``; its files are the
truth, the measurement (or its pseudo-inverse, for a measurement that is not an image), the
estimate, and its scores against the truth."""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from invgen.app.inputs import simulated_inputs
from invgen.app.reconstruct.pictures import write_pictures
from invgen.app.scoring import SCORE_HEAD, evaluate, score_line
from invgen.forward import ForwardModel

read_inputs = simulated_inputs  # this mode's images, operator and reader


def measure(model: ForwardModel, images: torch.Tensor, positions: range, seed: int) -> torch.Tensor:
    """``y`` of the truths ``images`` (at ``positions`` in the command's list)."""
    return model.measure(images, seeds=[seed * 100003 + i for i in positions])


def write(A, truth: torch.Tensor, y: torch.Tensor, samples: torch.Tensor, names: list[str], method: str,
          out: Path) -> list[dict]:
    """Each image's truth, measurement (or its pseudo-inverse) and estimate, and its scores."""
    x_hat = samples.mean(1)
    viz = y if len(A.out_shape) == 3 else A.pinv(y)
    spreads = write_pictures({"truth": truth, "measurement": viz}, samples, names, method, out)
    return [{**evaluate({method: x_hat[i : i + 1]}, truth[i : i + 1])[method], **spread}
            for i, spread in enumerate(spreads)]


def summary(args: argparse.Namespace) -> dict:
    """What ``metrics.json`` says of the run beside the common fields: nothing more."""
    return {}


def print_table(args: argparse.Namespace, method: str, per_image: dict, seconds: float, maps: str, out: Path) -> None:
    print(f"\n{args.task}, {method} (scored against the input image), {seconds:.1f} s")
    print(f"{'image':<16} {SCORE_HEAD}")
    for name, m in per_image.items():
        print(score_line(name, m))
    print(f"\nwrote estimates{maps}, measurement visualisations and metrics.json to {out}/")
