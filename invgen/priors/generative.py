"""CSGM's prior: images in the range of a pretrained generator, x = G(z)."""
from __future__ import annotations

import torch

from invgen.generators.base import Generator
from invgen.priors.base import Prior
from invgen.validation import check_settings, check_tensor


class GenerativePrior(Prior):
    """``x_i = G(z_i)`` with only the latents ``z ∈ R^{n×d}`` optimised (Bora et al. 2017).

    ``G`` is used as it is, in eval mode (batch norm from its running statistics, so images
    never mix) and is never modified. ``z`` starts from ``z_init`` or from ``n`` draws of
    ``G``'s latent law (seeded by ``seed``). The optional penalty ``latent_weight·‖z_i‖²``
    is Bora et al.'s regulariser keeping ``z`` where ``G`` was trained.
    """

    def __init__(
        self,
        generator: Generator,
        n: int,
        *,
        lr: float,
        latent_weight: float = 0.0,
        z_init: torch.Tensor | None = None,
        seed: int = 0,
    ) -> None:
        check_settings(lr=lr, latent_weight=latent_weight)
        if z_init is None:
            z_init = generator.sample_latent(n, generator=torch.Generator().manual_seed(seed))
        elif tuple(check_tensor("z_init", z_init).shape) != (n, generator.latent_dim):
            raise ValueError(f"z_init must have shape ({n}, {generator.latent_dim}), got {tuple(z_init.shape)}")
        self.generator = generator
        self.latent_weight = float(latent_weight)
        self.lr = float(lr)
        self.z = z_init.detach().clone().requires_grad_()

    def parameter_groups(self) -> list[dict]:
        return [{"params": [self.z], "lr": self.lr}]

    def named_parameters(self) -> dict[str, torch.Tensor]:
        return {"z": self.z}

    def __call__(self) -> torch.Tensor:
        if not self.generator.training:
            return self.generator(self.z)
        self.generator.eval()
        try:
            return self.generator(self.z)
        finally:
            self.generator.train()

    def penalty(self, x: torch.Tensor) -> torch.Tensor | None:
        if self.latent_weight == 0:
            return None
        return self.latent_weight * self.z.square().sum(1)

    def state(self) -> dict[str, torch.Tensor]:
        return {"z": self.z.detach()}
