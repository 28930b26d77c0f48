"""IAGAN's prior: the generator itself adapts to each image (Abu Hussein et al., AAAI 2020)."""
from __future__ import annotations

import copy

import torch

from invgen.generators.base import Generator
from invgen.priors._per_image import PerImageWeights
from invgen.priors.base import Prior
from invgen.validation import check_settings, check_tensor


class ImageAdaptivePrior(Prior):
    """``x_i = G_{θ_i}(z_i)``, optimising both ``z_i`` and the weights ``θ_i`` (paper eq. 4).

    Starts from ``z_init`` (the CSGM solution, in the paper) and from ``G``'s weights,
    copied once per image so images never share ``θ`` and the caller's ``G`` is never
    modified. The learning rates are separate because ``θ`` must move little to keep
    the prior's semantics. Batch norm stays in eval mode (its running statistics are
    shared and fixed).
    """

    def __init__(
        self,
        generator: Generator,
        z_init: torch.Tensor,
        *,
        lr_z: float,
        lr_theta: float,
    ) -> None:
        check_settings(lr_z=lr_z, lr_theta=lr_theta)
        if check_tensor("z_init", z_init).dim() != 2 or z_init.shape[1] != generator.latent_dim:
            raise ValueError(f"z_init must have shape (B, {generator.latent_dim}), got {tuple(z_init.shape)}")
        self.lr_z, self.lr_theta = float(lr_z), float(lr_theta)
        self.z = z_init.detach().clone().requires_grad_()
        self.network = PerImageWeights(copy.deepcopy(generator).eval(), len(z_init))

    def parameter_groups(self) -> list[dict]:
        return [
            {"params": [self.z], "lr": self.lr_z},
            {"params": list(self.network.params.values()), "lr": self.lr_theta},
        ]

    def named_parameters(self) -> dict[str, torch.Tensor]:
        """``"z"``, and ``"theta.NAME"`` for each ``NAME`` of ``generator.named_parameters()``:
        ``(B, *shape)``, image ``i``'s copy on row ``i``."""
        return {"z": self.z, **{f"theta.{name}": p for name, p in self.network.params.items()}}

    def __call__(self) -> torch.Tensor:
        return self.network(self.z)

    def state(self) -> dict[str, torch.Tensor]:
        # θ_i is not kept: a snapshot per improvement would cost as much as a step of a
        # small generator; the adapted image x_i is the output.
        return {"z": self.z.detach()}


class ProgressivePrior(ImageAdaptivePrior):
    """DGP's progressive image-adaptive prior (Pan, Zhan, Dai, Lin, Loy and Luo, ECCV 2020):
    :class:`ImageAdaptivePrior` with the generator's weights in one parameter group per block
    (``blocks``: lists of parameter names, as in ``generator.named_parameters()``, from the
    first block to the last; see :meth:`invgen.generators.layers.Chain.parameter_names`), so that a
    schedule can open them one after another: ``parameter_groups()`` is ``[z, block 1, …]``.
    Weights in no block are not optimised."""

    def __init__(self, generator: Generator, z_init: torch.Tensor, blocks: list[list[str]], *, lr_z: float,
                 lr_theta: float) -> None:
        super().__init__(generator, z_init, lr_z=lr_z, lr_theta=lr_theta)
        unknown = sorted({name for block in blocks for name in block} - set(self.network.params))
        if unknown:
            raise ValueError(f"blocks name weights the generator does not have: {unknown[:3]}")
        self.blocks = blocks

    def parameter_groups(self) -> list[dict]:
        return [{"params": [self.z], "lr": self.lr_z},
                *({"params": [self.network.params[name] for name in block], "lr": self.lr_theta}
                  for block in self.blocks)]
