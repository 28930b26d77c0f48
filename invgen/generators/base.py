"""The generator contract: latents ``(B, latent_dim)`` → images ``(B, C, H, W)`` in [0, 1].

Every generator in invgen — the embedded default, the public architectures and any
network a user brings — is a :class:`Generator`. Priors and solvers rely on nothing else.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import nn

LatentDistribution = Literal["gaussian", "uniform"]


class Generator(nn.Module):
    """A network ``G`` that maps latents to images, with the latent law it was trained on.

    ``forward(z)``: ``z`` of shape ``(B, latent_dim)`` → ``x = (G(z) − lo) / (hi − lo)`` of
    shape ``(B, *image_shape)``, where ``(lo, hi) = output_range`` is the range of the raw
    network output (``(-1, 1)`` for a tanh output). The affine map puts images in [0, 1];
    nothing is clamped, so gradients reach every latent.

    ``sample_latent(n)``: ``N(0, I)`` for ``latent="gaussian"``, ``U(-1, 1)`` for
    ``latent="uniform"`` (BEGAN), shape ``(n, latent_dim)``.

    The wrapped network receives ``(B, latent_dim)``; a network that wants
    ``(B, latent_dim, 1, 1)`` (DCGAN-style) reshapes inside, e.g. with ``nn.Unflatten``.
    """

    def __init__(
        self,
        network: nn.Module,
        latent_dim: int,
        latent: LatentDistribution = "gaussian",
        output_range: tuple[float, float] = (-1.0, 1.0),
    ) -> None:
        super().__init__()
        if latent not in ("gaussian", "uniform"):
            raise ValueError(f"latent must be 'gaussian' or 'uniform', got {latent!r}")
        lo, hi = output_range
        if not hi > lo:
            raise ValueError(f"output_range must be (lo, hi) with hi > lo, got {output_range}")
        self.network = network
        self.latent_dim = int(latent_dim)
        self.latent = latent
        self.output_range = (float(lo), float(hi))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[-1] != self.latent_dim:
            raise ValueError(
                f"expected latents of shape (B, {self.latent_dim}), got {tuple(z.shape)}"
            )
        lo, hi = self.output_range
        return (self.network(z) - lo) / (hi - lo)

    def sample_latent(
        self, n: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``n`` latents from the training distribution, on the generator's device."""
        param = next(self.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        dtype = param.dtype if param is not None else torch.get_default_dtype()
        # Draw where the random generator lives, so a seeded CPU generator gives the
        # same latents whatever device the network is on.
        where = generator.device if generator is not None else device
        shape = (n, self.latent_dim)
        if self.latent == "gaussian":
            z = torch.randn(shape, generator=generator, device=where)
        else:
            z = 2 * torch.rand(shape, generator=generator, device=where) - 1
        return z.to(device=device, dtype=dtype)

    @torch.no_grad()
    def image_shape(self) -> tuple[int, ...]:
        """``(C, H, W)`` of the images, found by one forward pass in eval mode."""
        was_training = self.training
        self.eval()
        try:
            return tuple(self(self.sample_latent(1)).shape[1:])
        finally:
            self.train(was_training)


def wrap(
    module: nn.Module,
    latent_dim: int,
    latent: LatentDistribution = "gaussian",
    output_range: tuple[float, float] = (-1.0, 1.0),
) -> Generator:
    """Make any network a :class:`Generator` (see its docstring for the contract)."""
    return Generator(module, latent_dim, latent=latent, output_range=output_range)
