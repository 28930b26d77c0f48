"""A new prior: x = G(z) + ν with a sparse deviation ν (Dhar, Grover and Ermon, ICML 2018),
for images a little outside the generator's range — here compressed sensing of a face.

A prior says which tensors the solver optimises (with which learning rate), how they make
the images, and what it costs to move them; :func:`invgen.solvers.solve` does the rest.

    python examples/sparse_deviations.py     # writes sparse_deviations.png, ~10 s on a CPU
"""
from __future__ import annotations

from importlib import resources

import torch

from invgen.data import read_image, save_panel
from invgen.generators import Generator, load_default
from invgen.metrics import psnr
from invgen.operators import SubsampledDCT
from invgen.priors import Prior
from invgen.solvers import CSGMSettings, csgm, solve


class SparseDeviationPrior(Prior):
    """``x_i = G(z_i) + ν_i``, penalty ``l1_weight·‖ν_i‖₁ + latent_weight·‖z_i‖²`` (Dhar et
    al. 2018, with ν sparse in pixels). ``z`` starts at ``z_init``, ``ν`` at 0; ``G``
    is only evaluated (in eval mode), never trained."""

    def __init__(self, generator: Generator, z_init: torch.Tensor, l1_weight: float, latent_weight: float = 1e-3,
                 lr_z: float = 0.05, lr_nu: float = 0.003) -> None:
        self.generator = generator.eval()
        self.z = z_init.detach().clone().requires_grad_()
        self.nu = torch.zeros(len(z_init), *generator.image_shape(), requires_grad=True)
        self.l1_weight, self.latent_weight, self.lr_z, self.lr_nu = l1_weight, latent_weight, lr_z, lr_nu

    def parameter_groups(self) -> list[dict]:
        return [{"params": [self.z], "lr": self.lr_z}, {"params": [self.nu], "lr": self.lr_nu}]

    def __call__(self) -> torch.Tensor:
        return self.generator(self.z) + self.nu

    def penalty(self, x: torch.Tensor) -> torch.Tensor:  # on the parameters: x is not needed
        return self.l1_weight * self.nu.abs().flatten(1).sum(1) + self.latent_weight * self.z.square().sum(1)

    def state(self) -> dict[str, torch.Tensor]:  # kept at each image's best iterate
        return {"z": self.z.detach(), "nu": self.nu.detach()}


def main(steps: int = 300, out: str = "sparse_deviations.png") -> dict[str, float]:
    """CSGM for ``steps`` steps, then the sparse-deviation prior for ``steps`` more; PSNRs in dB."""
    G = load_default()  # 64×64 faces, z ~ N(0, I)
    with resources.as_file(resources.files("invgen") / "assets" / "astronaut_face_64.png") as path:
        x = read_image(path).unsqueeze(0)  # (1, 3, 64, 64) in [0, 1]

    A = SubsampledDCT((3, 64, 64), m=3 * 64 * 64 // 2, seed=0)  # a random half of the DCT coefficients
    y = A(x)

    start = csgm(A, y, G, CSGMSettings(steps=steps, restarts=2, average=False))  # each image's best start
    fit = solve(A, y, SparseDeviationPrior(G, start.z[:, 0], l1_weight=0.01), steps)
    nu = fit.state["nu"]  # the deviation at the best iterate

    estimates = {"pinv": A.pinv(y).clamp(0, 1), "CSGM": start.mean(), "CSGM+nu": fit.x}
    scores = {name: psnr(x_hat, x).item() for name, x_hat in estimates.items()}
    for name, score in scores.items():
        print(f"{name:8s} PSNR {score:5.2f} dB")
    save_panel({"truth": x[0], **{k: v[0] for k, v in estimates.items()}, "nu + 0.5": nu[0] + 0.5}, out)
    print(f"wrote {out}")
    return scores


if __name__ == "__main__":
    main()
