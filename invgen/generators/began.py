"""BEGAN generator (Berthelot, Schumm & Metz 2017), 64×64 and 128×128.

Architecture (the paper's decoder): ``z ∈ R^64 ~ U(−1, 1)`` → fully connected to
``(n, 8, 8)`` → per resolution 8, 16, …, ``resolution``: two 3×3 convolutions
(``n → n``, with bias) each followed by ELU, then nearest-neighbour upsampling ×2 except
after the last → 3×3 convolution to 3 channels → tanh, so the raw output lies in (−1, 1).
Four conv pairs at 64×64, five at 128×128; ``n = 64`` by default (the port's ``--nc``).

Source format: the ``Decoder`` state dict of anantzoid/BEGAN-pytorch, the PyTorch port
that publishes CelebA weights for 64×64 and 128×128 (``trained_models/<res>/models/
gen_<step>.pth``, saved with ``torch.save(gen.state_dict())``). Its keys:
``l0`` (linear, weight ``(64·n, h)``), ``l1``–``l8`` (the conv pairs at 8, 16, 32, 64),
``l10``, ``l11`` (the pair at 128, 128×128 only), ``l9`` (the conv to RGB,
``(3, n, 3, 3)``), each with ``.weight`` and ``.bias``. The state dict may also be wrapped
as ``{"netG_state_dict": …}``, ``{"generator": …}`` or ``{"state_dict": …}``
(:func:`invgen.generators.wrapped.generator_state`). Ports that end without the tanh
(a linear output trained on images in [−1, 1] or [0, 1]) load with ``tanh=False`` and
that ``output_range``.
"""
from __future__ import annotations

from os import PathLike

import torch
from torch import nn

from invgen.generators.base import Generator
from invgen.generators.checkpoint import (
    CheckpointMismatchError,
    check_state,
    read_checkpoint,
)
from invgen.generators.wrapped import generator_state

FORMAT = "anantzoid/BEGAN-pytorch Decoder state_dict (keys l0, l1 ... l9[, l10, l11])"
RESOLUTIONS = (64, 128)


def _n_stages(resolution: int) -> int:
    """Conv pairs at 8, 16, …, resolution."""
    return resolution.bit_length() - 3


class BEGANGenerator(nn.Module):
    """``(B, latent_dim)`` → ``(B, 3, resolution, resolution)``, in (−1, 1) through the final
    tanh, or the linear output of the last convolution when ``tanh=False``. A chain of blocks
    (:meth:`blocks`): the projection to ``width × 8 × 8``, then a pair of 3×3 convolutions
    with ELUs at each resolution, doubled between them by nearest-neighbour upsampling."""

    def __init__(self, latent_dim: int = 64, width: int = 64, resolution: int = 64, tanh: bool = True) -> None:
        super().__init__()
        if resolution not in RESOLUTIONS:
            raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {resolution}")
        self.width = width
        self.project = nn.Linear(latent_dim, width * 8 * 8)
        self.unflatten = nn.Unflatten(1, (width, 8, 8))
        self.stages = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(width, width, 3, 1, 1), nn.ELU(),
                nn.Conv2d(width, width, 3, 1, 1), nn.ELU(),
            )
            for _ in range(_n_stages(resolution))
        )
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.to_rgb = nn.Conv2d(width, 3, 3, 1, 1)
        self.out = nn.Tanh() if tanh else nn.Identity()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z
        for _, block in self.blocks():
            x = block(x)
        return x

    def blocks(self) -> list[tuple[str, nn.Module]]:
        """The chain :meth:`forward` applies (see :func:`invgen.generators.base.blocks`); the
        parameter-free ``upsample`` sits between every two stages."""
        chain: list[tuple[str, nn.Module]] = [("project", self.project), ("unflatten", self.unflatten)]
        for i, stage in enumerate(self.stages):
            chain += [("upsample", self.upsample)] if i > 0 else []
            chain.append((f"stages.{i}", stage))
        return [*chain, ("to_rgb", self.to_rgb), ("out", self.out)]


def build_began(
    resolution: int = 64, latent_dim: int = 64, width: int = 64, *,
    tanh: bool = True, output_range: tuple[float, float] = (-1.0, 1.0),
) -> Generator:
    """An untrained BEGAN :class:`Generator` (eval mode, uniform latent); ``output_range``
    is the range of the raw output that maps to images in [0, 1]."""
    network = BEGANGenerator(latent_dim, width, resolution, tanh=tanh)
    return Generator(network, latent_dim, latent="uniform", output_range=output_range).eval()


def _official_names(resolution: int) -> dict[str, str]:
    """invgen parameter prefix → anantzoid/BEGAN-pytorch prefix."""
    pairs = [("l1", "l2"), ("l3", "l4"), ("l5", "l6"), ("l7", "l8"), ("l10", "l11")]
    names = {"project": "l0", "to_rgb": "l9"}
    for i, (a, b) in enumerate(pairs[: _n_stages(resolution)]):
        names[f"stages.{i}.0"], names[f"stages.{i}.2"] = a, b
    return names


def load_began(
    path: str | PathLike, resolution: int | None = None, *,
    tanh: bool = True, output_range: tuple[float, float] = (-1.0, 1.0),
) -> Generator:
    """Load an anantzoid/BEGAN-pytorch generator checkpoint (format in the module docstring).

    ``resolution`` (64 or 128) is read from the keys (``l10``/``l11`` exist only at 128);
    when given, the checkpoint must have it. ``h`` (latent size) and ``n`` (width) are read
    from the shapes. ``tanh=False`` for a network without the final tanh, and
    ``output_range`` for the range of images it was trained on (e.g. ``(0, 1)``). Returns a
    :class:`Generator` in eval mode: ``z ~ U(−1, 1)^h`` → images in [0, 1]. Raises :class:`CheckpointMismatchError` listing missing / unexpected keys and
    shape mismatches when the file is not of this format.
    """
    state = generator_state(read_checkpoint(path), FORMAT)
    found = 128 if "l10.weight" in state else 64
    if resolution is not None and resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {resolution}")
    resolution = resolution or found
    project = state.get("l0.weight")
    if project is None or project.dim() != 2 or project.shape[0] % 64:
        raise CheckpointMismatchError(
            f"checkpoint does not match the expected format: {FORMAT}\n"
            f"l0.weight of shape (64·n, h) is needed; found keys: {sorted(state)[:20]}"
        )
    generator = build_began(resolution, latent_dim=project.shape[1], width=project.shape[0] // 64,
                            tanh=tanh, output_range=output_range)
    names = _official_names(resolution)

    def official(key: str) -> str:
        prefix, _, leaf = key.rpartition(".")
        return f"{names[prefix]}.{leaf}"

    ours = generator.network.state_dict()
    check_state(
        state,
        {official(k): tuple(v.shape) for k, v in ours.items()},
        f"{FORMAT}, {resolution}×{resolution}",
    )
    generator.network.load_state_dict({k: state[official(k)] for k in ours})
    return generator
