"""The CelebA subset the experiments and the generator's training read: its splits, and the
conventional 64×64 window on its 89×109 aligned photos."""
from __future__ import annotations

from pathlib import Path

import torch

from invgen.data import read_image

# The conventional 64×64 CelebA window on the 89×109 half-resolution aligned photos:
# (left, top, size), the central 128×128 of the originals with no resampling.
CELEBA_CROP = (12, 24, 64)
CELEBA_SPLITS = {"train": (1, 9000), "val": (9001, 10000)}


def celeba_paths(root: str | Path, split: str, n: int | None = None) -> list[Path]:
    """The first ``n`` (default all) files of a split (``train``/``val``) of the CelebA folder."""
    if split not in CELEBA_SPLITS:
        raise ValueError(f"split must be one of {sorted(CELEBA_SPLITS)}, got {split!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"CelebA folder not found: {root} (pass its path)")
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
