"""An encoder for a face generator: the start of the latent search, learned (GAN inversion).

CSGM searches ``z`` from random starts, and from a 16×16 or 8×8 input it often settles
far from the latent of the true face although the generator can make a close image.
An encoder ``E`` trained with the generator gives a start near that latent from the
measurement itself: ``z₀ = E(A⁺y)``, the standard GAN-inversion pipeline (encoder
start, then optimisation; Zhu et al., "In-domain GAN inversion", 2020). It is trained
so that ``G(E(A⁺A x)) ≈ x`` for training faces ``x`` and operators ``A`` of the family
it will meet (identity and super-resolution ×2, ×4, ×8), with ``G`` fixed.
"""
from __future__ import annotations

from collections.abc import Mapping
from os import PathLike

import torch
import torch.nn.functional as F
from torch import nn

from invgen.generators.checkpoint import CheckpointMismatchError, check_state, read_checkpoint, tensor_state

FORMAT = "invgen face64 encoder: {'config': {'latent_dim', 'width'}, 'encoder': FaceEncoder weights}"


class FaceEncoder(nn.Module):
    """``(B, 3, 64, 64)`` in [0, 1] → latents ``(B, latent_dim)`` on the sphere of radius √d.

    Four stride-2 4×4 convolutions ``3 → w → 2w → 4w → 8w`` with leaky ReLU, then a
    linear map of the ``8w × 4 × 4`` features to ``d`` numbers, scaled onto the sphere
    where ``N(0, I)`` latents concentrate (and where the reconstruction fine-tune keeps
    its latents).
    """

    def __init__(self, latent_dim: int = 128, width: int = 32) -> None:
        super().__init__()
        self.latent_dim, self.width = latent_dim, width
        layers: list[nn.Module] = []
        for c_in, c_out in [(3, width), (width, 2 * width), (2 * width, 4 * width), (4 * width, 8 * width)]:
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(0.2)]
        layers += [nn.Flatten(1), nn.Linear(8 * width * 16, latent_dim)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or tuple(x.shape[1:]) != (3, 64, 64):
            raise ValueError(f"the encoder takes images of shape (B, 3, 64, 64), got {tuple(x.shape)}")
        return F.normalize(self.net(2 * x - 1), dim=1) * self.latent_dim**0.5


def export_encoder(encoder: FaceEncoder, path: str | PathLike) -> None:
    """Write an encoder as float16 weights plus its config."""
    state = {k: v.detach().cpu().half() for k, v in encoder.state_dict().items()}
    torch.save({"config": {"latent_dim": encoder.latent_dim, "width": encoder.width}, "encoder": state}, path)


def load_encoder(path: str | PathLike) -> FaceEncoder:
    """Load an encoder written by :func:`export_encoder` (``invgen train --recipe encoder``), eval mode."""
    ckpt = read_checkpoint(path)
    if not isinstance(ckpt, Mapping) or not {"config", "encoder"} <= set(ckpt):
        raise CheckpointMismatchError(f"{path} is not a face64 encoder file; expected {FORMAT}")
    encoder = FaceEncoder(**ckpt["config"])
    state = tensor_state(ckpt["encoder"], "'encoder'", FORMAT)
    check_state(state, {k: tuple(v.shape) for k, v in encoder.state_dict().items()}, FORMAT)
    encoder.load_state_dict({k: v.float() for k, v in state.items()})
    return encoder.eval()


ENCODER_HELP = ("an encoder file that starts CSGM's search from E(A⁺y) (invgen train --recipe encoder, or "
                "--recipe recon --latents encoder), or 'none' (random starts)")


def load_encoder_spec(spec: str) -> FaceEncoder | None:
    """The encoder ``spec`` names (see :data:`ENCODER_HELP`), or ``None`` for ``'none'``."""
    return None if spec == "none" else load_encoder(spec)
