"""DCGAN (Radford et al. 2016) as the PyTorch DCGAN tutorial and example train it, at any resolution.

Architecture, as the ``netG`` of the PyTorch DCGAN example (pytorch/examples
``dcgan/main.py``) and tutorial: ``z ∈ R^nz ~ N(0, I)`` as ``(nz, 1, 1)`` → transposed
convolution 4×4 (stride 1, no padding) to ``(c₁, 4, 4)`` → stride-2 transposed convolutions
4×4 (padding 1), each doubling the side → a last one to ``(nc, 4·2^(L−1), 4·2^(L−1))`` for
``L`` transposed convolutions; batch norm + ReLU after every transposed convolution but the
last, tanh at the end, no biases. At 64×64 (``L = 5``, the tutorial's) the widths are ``8·ngf,
4·ngf, 2·ngf, ngf``; the 32×32 variant (CIFAR-size data) has one block fewer, a 128×128 one a
block more. Defaults ``nz = 100, ngf = 64, nc = 3``; the raw output lies in (−1, 1).

Source format: the ``state_dict`` of that ``netG`` saved with ``torch.save`` — keys
``main.{3k}.weight`` (the transposed convolutions, ``(c_in, c_out, 4, 4)``, ``k = 0 … L − 1``)
and ``main.{3k+1}.{weight, bias, running_mean, running_var, num_batches_tracked}`` (batch norm,
``k < L − 1``); at 64×64 ``main.0.weight`` (``(nz, 8·ngf, 4, 4)``) … ``main.12.weight``
(``(ngf, nc, 4, 4)``). The depth ``L`` and every width are read from the keys and shapes. The
module below keeps these names, so its own ``state_dict`` is a checkpoint of that format. A
``module.`` prefix (``nn.DataParallel``) is accepted, and so are files from PyTorch < 0.4
without ``num_batches_tracked`` and the state dict wrapped as ``{"netG_state_dict": …}`` (the
tutorial's checkpoint recipe), ``{"generator": …}`` or ``{"state_dict": …}``
(:func:`invgen.generators.wrapped.generator_state`). (CSGM's own TensorFlow checkpoint, from
carpedm20/DCGAN-tensorflow, has a dense first layer and biases; it is not this format.)
"""
from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
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

FORMAT = "PyTorch DCGAN example netG state_dict (keys main.0.weight, main.1.*, main.3.weight, ... main.{3(L−1)}.weight)"
TUTORIAL_WIDTHS = (8, 4, 2, 1)


class DCGANGenerator(nn.Module):
    """``(B, latent_dim)`` → ``(B, channels, 4·2^(L−1), 4·2^(L−1))`` in (−1, 1), ``L = len(widths)
    + 1``: ``widths`` are the feature maps after each transposed convolution but the last. Layer
    indices as ``netG.main``; a chain of blocks (:meth:`blocks`)."""

    def __init__(self, latent_dim: int = 100, widths: Sequence[int] = tuple(64 * w for w in TUTORIAL_WIDTHS),
                 channels: int = 3) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.unflatten = nn.Unflatten(1, (latent_dim, 1, 1))
        layers: list[nn.Module] = []
        for k, (c_in, c_out) in enumerate(pairwise([latent_dim, *widths])):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, 1 if k == 0 else 2, 0 if k == 0 else 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(self.unflatten(z))

    def blocks(self) -> list[tuple[str, nn.Module]]:
        """The chain :meth:`forward` applies (see :mod:`invgen.generators.layers`)."""
        return [("unflatten", self.unflatten), ("main", self.main)]


def build_dcgan(latent_dim: int = 100, width: int = 64, channels: int = 3, resolution: int = 64) -> Generator:
    """An untrained DCGAN :class:`Generator` of the tutorial's widths (``8·width`` … ``width``
    at 64×64; one block fewer per halving of ``resolution``, one more, of ``width / 2``
    channels, per doubling), eval mode, Gaussian latent, images in [0, 1]."""
    depth = resolution.bit_length() - 1
    if resolution < 8 or resolution != 2**depth:
        raise ValueError(f"resolution must be a power of 2 ≥ 8, got {resolution}")
    widths = [max(int(width * 2.0 ** (3 - k)), 1) for k in range(depth - 2)]
    return Generator(DCGANGenerator(latent_dim, widths, channels), latent_dim, latent="gaussian").eval()


def load_dcgan(path: str | PathLike) -> Generator:
    """Load a DCGAN ``netG`` checkpoint (see the module docstring for the format).

    ``nz``, the depth (so the resolution), every width and ``nc`` are read from the keys and
    tensor shapes; the state dict may be wrapped by a training script (see the module
    docstring). Returns a :class:`Generator` in eval mode: ``z ∈ R^nz ~ N(0, I)`` → images in
    [0, 1]. Raises :class:`CheckpointMismatchError` listing missing / unexpected keys and shape
    mismatches when the file is not of this format.
    """
    state = generator_state(read_checkpoint(path), FORMAT)
    convs = [state.get(f"main.{3 * k}.weight") for k in range(len(state))]
    convs = convs[:next((k for k, w in enumerate(convs) if w is None or w.dim() != 4), len(convs))]
    if len(convs) < 2:
        raise CheckpointMismatchError(
            f"checkpoint does not match the expected format: {FORMAT}\n"
            f"main.0.weight and main.3.weight (4-d) are needed; found keys: {sorted(state)[:20]}"
        )
    latent_dim, channels = convs[0].shape[0], convs[-1].shape[1]
    generator = Generator(DCGANGenerator(latent_dim, [w.shape[1] for w in convs[:-1]], channels), latent_dim,
                          latent="gaussian").eval()
    expected = generator.network.state_dict()
    for key, value in expected.items():
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = value  # saved by PyTorch < 0.4; unused in eval mode
    side = 4 * 2 ** (len(convs) - 1)
    check_state(state, {k: tuple(v.shape) for k, v in expected.items()}, f"{FORMAT}, {side}×{side}")
    generator.network.load_state_dict(state)
    return generator
