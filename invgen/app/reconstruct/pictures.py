"""The PNGs of ``invgen reconstruct``, each written through a temporary file (a killed run
leaves no half image): per image, the pictures its input mode puts beside the estimate, the
estimate, and where several starts were averaged the map of where they disagree."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from invgen.data import save_image
from invgen.solvers import restart_spread


def save_atomic(x: torch.Tensor, path: Path) -> None:
    """:func:`~invgen.data.save_image` through a temporary file, so a killed run leaves no half image."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.png")
    save_image(x, tmp)
    os.replace(tmp, path)


def write_spread(samples: torch.Tensor, path: Path) -> dict:
    """For ``K > 1`` estimates ``(K, C, H, W)`` of one image (the restarts that were averaged):
    their :func:`~invgen.solvers.restart_spread`, written to ``path`` as a grey image scaled to
    its largest value (white: where the restarts disagree most; a lower bound on the
    uncertainty, not an error bar); returns that value and the mean, ``{}`` for one estimate."""
    if len(samples) < 2:
        return {}
    spread = restart_spread(samples[None])
    top = spread.max().item()
    save_atomic(spread / top if top > 0 else spread, path)
    return {"restart_spread_max": top, "restart_spread_mean": spread.mean().item(), "restart_spread_image": path.name}


def write_pictures(beside: dict[str, torch.Tensor], samples: torch.Tensor, names: list[str], method: str,
                   out: Path) -> list[dict]:
    """Per image ``NAME``: ``NAME_SUFFIX.png`` for each batch of ``beside`` (suffix → ``(B, C, H, W)``),
    the estimate ``NAME_METHOD.png`` (the mean of the ``K`` in ``samples``, ``(B, K, C, H, W)``) and
    its restart spread (:func:`write_spread`); returns each image's spread entries."""
    x_hat = samples.mean(1)
    spreads = []
    for i, name in enumerate(names):
        for suffix, batch in beside.items():
            save_atomic(batch[i], out / f"{name}_{suffix}.png")
        save_atomic(x_hat[i], out / f"{name}_{method}.png")
        spreads.append(write_spread(samples[i], out / f"{name}_{method}_restart_spread.png"))
    return spreads
