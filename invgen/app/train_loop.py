"""The one epoch loop of ``invgen train``'s recipes: shuffling, batches, the step count,
one checkpoint per epoch, and ``--resume``.

A recipe gives :func:`fit` what its checkpoint holds (``parts``: name → module or
optimiser) and a step (a :class:`Batch` → its loss terms). Each epoch draws a permutation
of the images from torch's global generator, runs ``len // batch_size`` steps, logs the
mean of each loss term as one JSON line and replaces ``OUT/checkpoint.pt`` atomically with
the parts, the history and the random state. A run stopped after epoch ``k`` and resumed
therefore continues exactly as the uninterrupted run (same permutations, same random
draws; ``tests/test_training.py`` checks weights and optimiser states), so every random
draw of a recipe must come from torch's global CPU generator (CUDA draws are not
checkpointed: draw on the CPU and move).

Under ``torchrun`` (a :class:`~invgen.app.parallel.Team` that is ``joined``) every process
draws the same permutation and the same global-batch random numbers and computes on its
slice of each batch (:meth:`Batch.local`); the recipe's networks are
``DistributedDataParallel`` replicas, so the averaged gradient of the per-slice mean losses
is the gradient of the global batch's mean loss. Rank 0 alone logs, writes the checkpoint
and the samples; every process resumes from the same checkpoint.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from invgen.app.parallel import Team
from invgen.progress import progress_bar

CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class Batch:
    """One step's images: ``all``, the global batch's indices into the recipe's images, and
    this process's slice of them, ``indices`` (all of them for one process)."""

    all: torch.Tensor
    rank: int = 0
    world: int = 1

    @property
    def size(self) -> int:
        """The global batch size (draw random numbers for this many, then take :meth:`local`)."""
        return len(self.all)

    @property
    def offset(self) -> int:
        """Where this process's slice starts in the global batch."""
        return self.rank * self.size // self.world

    def local(self, x: torch.Tensor) -> torch.Tensor:
        """This process's slice of ``x``, a tensor over the global batch (first dimension)."""
        return x[self.offset : self.offset + self.size // self.world]

    @property
    def indices(self) -> torch.Tensor:
        return self.local(self.all)


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
    team: Team = Team(),
) -> list[dict]:
    """Train for epochs ``1 … epochs`` (after those ``OUT/checkpoint.pt`` holds, with
    ``resume``), ``n_images // batch_size`` steps each, stopping after ``max_steps`` steps
    in all; ``end_epoch(epoch)`` runs after each epoch's steps, before its checkpoint
    (sample grids, statistics; rank 0 only). Returns the history, one record per epoch."""
    if batch_size % team.world:
        raise ValueError(f"the batch size {batch_size} must be a multiple of the {team.world} processes")
    path = Path(out) / CHECKPOINT
    start, history = _resume(path, parts, device, team.lead) if resume else (0, [])
    steps_per_epoch = n_images // batch_size
    done = start * steps_per_epoch
    for epoch in range(start, epochs):
        t0 = time.time()
        order = torch.randperm(n_images)
        sums: dict[str, float] = {}
        bar = progress_bar(range(steps_per_epoch), f"epoch {epoch + 1}/{epochs}", enabled=team.lead)
        for i in bar:
            losses = step(Batch(order[i * batch_size : (i + 1) * batch_size], team.rank, team.world))
            for key, value in losses.items():
                sums[key] = sums.get(key, 0.0) + value
            bar.set_postfix(**{key: f"{value:.4f}" for key, value in losses.items()})
            done += 1
            if max_steps is not None and done >= max_steps:
                break
        seconds = time.time() - t0
        means = team.mean({k: v / (i + 1) for k, v in sums.items()})
        history.append({"epoch": epoch + 1, "seconds": round(seconds, 1), **means})
        if team.lead:
            if end_epoch is not None:
                end_epoch(epoch + 1)
            print(json.dumps(history[-1]), flush=True)
            _save(path, {**{key: obj.state_dict() for key, obj in parts.items()}, "epoch": epoch + 1,
                         "history": history, "rng": torch.get_rng_state()})
        if max_steps is not None and done >= max_steps:
            break
    return history


def _save(path: Path, checkpoint: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(checkpoint, tmp)
    tmp.replace(path)


def _resume(path: Path, parts: dict, device: str | torch.device, say: bool = True) -> tuple[int, list[dict]]:
    """Load ``parts`` and the random state from the checkpoint at ``path``; returns the
    epochs done and their history (``0, []`` without one)."""
    if not path.is_file():
        return 0, []
    checkpoint = torch.load(path, map_location=device, weights_only=False)
    for key, obj in parts.items():
        obj.load_state_dict(checkpoint[key])
    torch.set_rng_state(checkpoint["rng"].cpu())
    if say:
        print(f"resumed from {path} after epoch {checkpoint['epoch']}", flush=True)
    return checkpoint["epoch"], checkpoint["history"]
