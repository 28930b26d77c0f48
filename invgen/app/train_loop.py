"""The one epoch loop of ``invgen train``'s recipes: shuffling, batches, the step count,
one checkpoint per epoch, and ``--resume``.

A recipe gives :func:`fit` what its checkpoint holds (``parts``: name → module or
optimiser) and a step (a batch of image indices → its loss terms). Each epoch draws a
permutation of the images from torch's global generator, runs ``len // batch_size`` steps,
logs the mean of each loss term as one JSON line and replaces ``OUT/checkpoint.pt``
atomically with the parts, the history and the random state. A run stopped after epoch
``k`` and resumed therefore continues exactly as the uninterrupted run (same permutations,
same random draws; ``tests/test_training.py`` checks weights and optimiser states), so
every random draw of a recipe must come from torch's global CPU generator (CUDA draws
are not checkpointed: draw on the CPU and move).
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from invgen.progress import progress_bar

CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class Batch:
    """One step's images: ``indices`` into the recipe's images, ``size`` of them."""

    indices: torch.Tensor

    @property
    def size(self) -> int:
        return len(self.indices)


def fit(
    out: Path,
    parts: dict,
    step: Callable[[Batch], dict[str, float]],
    n_images: int,
    epochs: int,
    batch_size: int,
    *,
    resume: bool = False,
    max_steps: int | None = None,
    device: str | torch.device = "cpu",
    end_epoch: Callable[[int], None] | None = None,
) -> list[dict]:
    """Train for epochs ``1 … epochs`` (after those ``OUT/checkpoint.pt`` holds, with
    ``resume``), ``n_images // batch_size`` steps each, stopping after ``max_steps`` steps
    in all; ``end_epoch(epoch)`` runs after each epoch's steps, before its checkpoint
    (sample grids, statistics). Returns the history, one record per epoch."""
    path = Path(out) / CHECKPOINT
    start, history = _resume(path, parts, device) if resume else (0, [])
    steps_per_epoch = n_images // batch_size
    done = start * steps_per_epoch
    for epoch in range(start, epochs):
        t0 = time.time()
        order = torch.randperm(n_images)
        sums: dict[str, float] = {}
        bar = progress_bar(range(steps_per_epoch), f"epoch {epoch + 1}/{epochs}")
        for i in bar:
            losses = step(Batch(order[i * batch_size : (i + 1) * batch_size]))
            for key, value in losses.items():
                sums[key] = sums.get(key, 0.0) + value
            bar.set_postfix(**{key: f"{value:.4f}" for key, value in losses.items()})
            done += 1
            if max_steps is not None and done >= max_steps:
                break
        seconds = time.time() - t0
        if end_epoch is not None:
            end_epoch(epoch + 1)
        record = {"epoch": epoch + 1, "seconds": round(seconds, 1), **{k: v / (i + 1) for k, v in sums.items()}}
        history.append(record)
        print(json.dumps(record), flush=True)
        _save(path, {**{key: obj.state_dict() for key, obj in parts.items()}, "epoch": epoch + 1,
                     "history": history, "rng": torch.get_rng_state()})
        if max_steps is not None and done >= max_steps:
            break
    return history


def _save(path: Path, checkpoint: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(checkpoint, tmp)
    tmp.replace(path)


def _resume(path: Path, parts: dict, device: str | torch.device) -> tuple[int, list[dict]]:
    """Load ``parts`` and the random state from the checkpoint at ``path``; returns the
    epochs done and their history (``0, []`` without one)."""
    if not path.is_file():
        return 0, []
    checkpoint = torch.load(path, map_location=device, weights_only=False)
    for key, obj in parts.items():
        obj.load_state_dict(checkpoint[key])
    torch.set_rng_state(checkpoint["rng"].cpu())
    print(f"resumed from {path} after epoch {checkpoint['epoch']}")
    return checkpoint["epoch"], checkpoint["history"]
