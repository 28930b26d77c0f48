"""The embedded default: a DCGAN-class 64×64 face generator trained by the project.

Architecture (Radford et al. 2016, with a linear projection instead of the first
transposed convolution): ``z ∈ R^d ~ N(0, I)`` → linear → ``(8w, 4, 4)`` → four
stride-2 transposed convolutions (4×4 kernels) with batch norm and ReLU, halving the
width each time → ``(3, 64, 64)`` through tanh. The discriminator mirrors it with
stride-2 convolutions, leaky ReLU and spectral normalisation (Miyato et al. 2018) on
every layer; it is needed only for training.

The trained weights live in ``weights/face64.pt`` (float16); the model card is
``docs/default-generator.md``.
"""
from __future__ import annotations

from collections.abc import Mapping
from os import PathLike

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from invgen.generators.base import Generator
from invgen.generators.checkpoint import (
    CheckpointMismatchError,
    check_state,
    read_checkpoint,
    tensor_state,
)


class FaceDCGAN(nn.Module):
    """Generator network: ``(B, latent_dim)`` → ``(B, 3, 64, 64)`` in (−1, 1)."""

    def __init__(self, latent_dim: int = 128, width: int = 32) -> None:
        super().__init__()
        self.latent_dim, self.width = latent_dim, width
        self.project = nn.Sequential(
            nn.Linear(latent_dim, 8 * width * 16, bias=False),
            nn.Unflatten(1, (8 * width, 4, 4)),
            nn.BatchNorm2d(8 * width),
            nn.ReLU(inplace=True),
        )
        layers: list[nn.Module] = []
        for c_in, c_out in [(8, 4), (4, 2), (2, 1)]:
            layers += [
                nn.ConvTranspose2d(c_in * width, c_out * width, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out * width),
                nn.ReLU(inplace=True),
            ]
        layers += [nn.ConvTranspose2d(width, 3, 4, 2, 1), nn.Tanh()]
        self.upsample = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.upsample(self.project(z))

    def blocks(self) -> list[tuple[str, nn.Module]]:
        """The chain :meth:`forward` applies (see :func:`invgen.generators.base.blocks`)."""
        return [("project", self.project), ("upsample", self.upsample)]


class FaceDiscriminator(nn.Module):
    """Discriminator: ``(B, 3, 64, 64)`` in (−1, 1) → one logit per image, shape ``(B,)``."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for c_in, c_out in [(3, width), (width, 2 * width), (2 * width, 4 * width), (4 * width, 8 * width)]:
            layers += [spectral_norm(nn.Conv2d(c_in, c_out, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)]
        layers += [spectral_norm(nn.Conv2d(8 * width, 1, 4, 1, 0)), nn.Flatten(0)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def build_face64(latent_dim: int, width: int) -> Generator:
    """An untrained default-architecture generator (eval mode), images in [0, 1]."""
    return Generator(FaceDCGAN(latent_dim, width), latent_dim, latent="gaussian").eval()


FORMAT = "invgen face64 export: {'config': {'latent_dim', 'width'}, 'state_dict': FaceDCGAN weights}"


def load_face64(path: str | PathLike) -> Generator:
    """Load a generator written by :func:`invgen.app.training.export_generator` (``invgen train``)."""
    ckpt = read_checkpoint(path)
    if not isinstance(ckpt, Mapping) or not {"config", "state_dict"} <= set(ckpt):
        hint = (" (this is an `invgen train` checkpoint.pt; pass the face64.pt beside it)"
                if isinstance(ckpt, Mapping) and "G_ema" in ckpt else "")
        raise CheckpointMismatchError(f"{path} is not a face64 generator file{hint}; expected {FORMAT}")
    config = ckpt["config"]
    if not (isinstance(config, Mapping) and set(config) == {"latent_dim", "width"}
            and all(isinstance(v, int) and v >= 1 for v in config.values())):
        raise CheckpointMismatchError(f"{path}: 'config' must be {{'latent_dim': int, 'width': int}}, got {config!r}")
    generator = build_face64(**config)
    state = tensor_state(ckpt["state_dict"], "'state_dict'", FORMAT)
    expected = {k: tuple(v.shape) for k, v in generator.network.state_dict().items()}
    check_state(state, expected, FORMAT)
    generator.network.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return generator
