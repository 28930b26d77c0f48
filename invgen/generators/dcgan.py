"""DCGAN 64×64 (Radford et al. 2016): the CelebA generator class used by CSGM (Bora et al. 2017).

Architecture, as the ``netG`` of the PyTorch DCGAN example (pytorch/examples
``dcgan/main.py``) and tutorial: ``z ∈ R^nz ~ N(0, I)`` as ``(nz, 1, 1)`` → transposed
convolution 4×4 (stride 1, no padding) to ``(8·ngf, 4, 4)`` → three stride-2 transposed
convolutions 4×4 halving the width (``4·ngf, 2·ngf, ngf``) → a last one to ``(nc, 64, 64)``;
batch norm + ReLU after every transposed convolution but the last, tanh at the end, no
biases. Defaults ``nz = 100, ngf = 64, nc = 3``; the raw output lies in (−1, 1).

Source format: the ``state_dict`` of that ``netG`` saved with ``torch.save`` — keys
``main.0.weight`` (``(nz, 8·ngf, 4, 4)``), ``main.1.{weight, bias, running_mean,
running_var, num_batches_tracked}``, ``main.3.weight``, ``main.4.*``, ``main.6.weight``,
``main.7.*``, ``main.9.weight``, ``main.10.*``, ``main.12.weight`` (``(ngf, nc, 4, 4)``).
The module below keeps these names, so its own ``state_dict`` is a checkpoint of that
format. A ``module.`` prefix (``nn.DataParallel``) is accepted, and so are files from
PyTorch < 0.4 without ``num_batches_tracked`` and the state dict wrapped as
``{"netG_state_dict": …}``, ``{"generator": …}`` or ``{"state_dict": …}``
(:func:`invgen.generators.wrapped.generator_state`). (CSGM's own TensorFlow checkpoint, from
carpedm20/DCGAN-tensorflow, has a dense first layer and biases; it is not this format.)
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

FORMAT = "PyTorch DCGAN example netG state_dict (keys main.0.weight ... main.12.weight)"


class DCGANGenerator(nn.Module):
    """``(B, latent_dim)`` → ``(B, channels, 64, 64)`` in (−1, 1); layer indices as ``netG.main``."""

    def __init__(self, latent_dim: int = 100, width: int = 64, channels: int = 3) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, 8 * width, 4, 1, 0, bias=False),
            nn.BatchNorm2d(8 * width),
            nn.ReLU(inplace=True),
        ]
        for c_in, c_out in [(8, 4), (4, 2), (2, 1)]:
            layers += [
                nn.ConvTranspose2d(c_in * width, c_out * width, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out * width),
                nn.ReLU(inplace=True),
            ]
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z.view(z.shape[0], self.latent_dim, 1, 1))


def build_dcgan(latent_dim: int = 100, width: int = 64, channels: int = 3) -> Generator:
    """An untrained DCGAN-64 :class:`Generator` (eval mode, Gaussian latent, images in [0, 1])."""
    network = DCGANGenerator(latent_dim, width, channels)
    return Generator(network, latent_dim, latent="gaussian").eval()


def load_dcgan(path: str | PathLike) -> Generator:
    """Load a CelebA DCGAN-64 ``netG`` checkpoint (see the module docstring for the format).

    ``nz``, ``ngf`` and ``nc`` are read from the tensor shapes; the state dict may be
    wrapped by a training script (see the module docstring). Returns a
    :class:`Generator` in eval mode: ``z ∈ R^nz ~ N(0, I)`` → images in [0, 1].
    Raises :class:`CheckpointMismatchError` listing missing / unexpected keys and shape
    mismatches when the file is not of this format.
    """
    state = generator_state(read_checkpoint(path), FORMAT)
    first, last = state.get("main.0.weight"), state.get("main.12.weight")
    if first is None or last is None or first.dim() != 4 or last.dim() != 4:
        raise CheckpointMismatchError(
            f"checkpoint does not match the expected format: {FORMAT}\n"
            f"main.0.weight and main.12.weight (4-d) are needed; found keys: {sorted(state)[:20]}"
        )
    latent_dim, width, channels = first.shape[0], last.shape[0], last.shape[1]
    generator = build_dcgan(latent_dim, width, channels)
    expected = generator.network.state_dict()
    for key, value in expected.items():
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = value  # saved by PyTorch < 0.4; unused in eval mode
    check_state(state, {k: tuple(v.shape) for k, v in expected.items()}, FORMAT)
    generator.network.load_state_dict(state)
    return generator
