"""The CelebA subset the experiments and the generator's training read: where it is (``--data``,
one setting for every command and benchmark), its splits, and the conventional 64×64 window
on its 89×109 aligned photos."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from invgen.data import read_image

# The conventional 64×64 CelebA window on the 89×109 half-resolution aligned photos:
# (left, top, size), the central 128×128 of the originals with no resampling.
CELEBA_CROP = (12, 24, 64)
CELEBA_SPLITS = {"train": (1, 9000), "val": (9001, 10000)}
# Where the data is when no --data is given: the environment variable, else the shared folder.
DATA_VARIABLE = "INVGEN_DATA"
SHARED_DATA = "../shared/data/celeba/img_align_celeba_89x109"


def default_data() -> str:
    """The CelebA folder of a command given no ``--data``: ``$INVGEN_DATA`` when set, else
    the shared folder."""
    return os.environ.get(DATA_VARIABLE) or SHARED_DATA


def add_data_argument(parser: argparse.ArgumentParser, split: str) -> None:
    """``--data DIR``, the CelebA 89×109 folder (default :func:`default_data`); ``split`` says
    which part of it the command reads."""
    parser.add_argument("--data", default=default_data(), metavar="DIR",
                        help=f"CelebA 89×109 folder; {split} (default: ${DATA_VARIABLE} if set, else {SHARED_DATA}; "
                             "now %(default)s)")


def celeba_paths(root: str | Path, split: str, n: int | None = None) -> list[Path]:
    """The first ``n`` (default all) files of a split (``train``/``val``) of the CelebA folder."""
    if split not in CELEBA_SPLITS:
        raise ValueError(f"split must be one of {sorted(CELEBA_SPLITS)}, got {split!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"CelebA folder not found: {root} (pass --data DIR, or set {DATA_VARIABLE})")
    first, last = CELEBA_SPLITS[split]
    if n is not None:
        if not 0 < n <= last - first + 1:
            raise ValueError(f"split {split!r} has {last - first + 1} images; asked for {n}")
        last = first + n - 1
    paths = [root / f"{i:06d}.jpg" for i in range(first, last + 1)]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} files of split {split!r} missing from {root}, e.g. {missing[0]}")
    return paths


def load_celeba(root: str | Path, split: str, n: int | None = None) -> torch.Tensor:
    """The first ``n`` (default all) 64×64 CelebA faces of ``split``, ``(n, 3, 64, 64)``."""
    return torch.stack([read_image(p, crop=CELEBA_CROP) for p in celeba_paths(root, split, n)])
