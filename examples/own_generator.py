"""Your own generator: a small decoder fitted to your data, wrapped with
``invgen.generators.wrap`` and used by CSGM and IAGAN like the built-in one.

The data here are synthetic 32×32 images (a coloured disc on a coloured background), and
the decoder is fitted in seconds by Generative Latent Optimization (GLO: Bojanowski, Joulin,
Lopez-Paz and Szlam, ICML 2018) — one latent per training image, fitted with the weights,
kept on the sphere of radius √d where N(0, I) draws concentrate, so that CSGM's random
starts fall where the decoder was trained. Any trained network (a GAN's generator, a VAE's
decoder) is wrapped the same way.

    python examples/own_generator.py        # writes own_generator.png, ~20 s on a CPU
"""
from __future__ import annotations

import torch
from torch import nn

from invgen.data import save_panel
from invgen.generators import wrap
from invgen.metrics import psnr
from invgen.operators import GaussianCS
from invgen.solvers import CSGMSettings, IAGANSettings, csgm, iagan

LATENT_DIM, SIZE = 8, 32


def discs(n: int, seed: int) -> torch.Tensor:
    """``n`` images ``(n, 3, SIZE, SIZE)`` in [0, 1]: a disc of random centre, radius and
    colour on a background of another random colour (edges softened over a pixel)."""
    g = torch.Generator().manual_seed(seed)
    centre = 0.25 + 0.5 * torch.rand(n, 2, 1, 1, generator=g)
    radius = 0.1 + 0.2 * torch.rand(n, 1, 1, generator=g)
    disc_colour, background = torch.rand(n, 3, 1, 1, generator=g), torch.rand(n, 3, 1, 1, generator=g)
    t = (torch.arange(SIZE) + 0.5) / SIZE
    distance = ((t.view(1, -1, 1) - centre[:, 0]) ** 2 + (t.view(1, 1, -1) - centre[:, 1]) ** 2).sqrt()
    inside = ((radius - distance) * SIZE + 0.5).clamp(0, 1).unsqueeze(1)
    return inside * disc_colour + (1 - inside) * background


def decoder() -> nn.Module:
    """z ∈ R^LATENT_DIM → (3, 32, 32) through a sigmoid: raw outputs in (0, 1)."""
    return nn.Sequential(
        nn.Linear(LATENT_DIM, 32 * 4 * 4), nn.ReLU(), nn.Unflatten(1, (32, 4, 4)),
        nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), nn.ReLU(),  # 8×8
        nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1), nn.ReLU(),  # 16×16
        nn.ConvTranspose2d(8, 3, 4, stride=2, padding=1), nn.Sigmoid(),  # 32×32
    )


def fit_glo(network: nn.Module, images: torch.Tensor, steps: int) -> None:
    """Fit ``network`` and one latent per image to ``images`` (mean squared error, Adam)."""
    z = nn.functional.normalize(torch.randn(len(images), LATENT_DIM), dim=1) * LATENT_DIM**0.5
    z.requires_grad_()
    opt = torch.optim.Adam([{"params": network.parameters(), "lr": 3e-3}, {"params": [z], "lr": 3e-2}])
    for step in range(steps):
        loss = (network(z) - images).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():  # back onto the sphere
            z.copy_(nn.functional.normalize(z, dim=1) * LATENT_DIM**0.5)
        if step % 100 == 0 or step == steps - 1:
            print(f"GLO step {step:4d}: training MSE {loss.item():.4f}")


def main(steps: int = 300, out: str = "own_generator.png") -> dict[str, float]:
    """Fit the decoder for ``steps`` steps, then CSGM for ``steps`` and IAGAN for ``steps // 2``
    on three new images; mean PSNRs in dB."""
    torch.manual_seed(0)  # the decoder's first weights and the training latents
    network = decoder()
    fit_glo(network, discs(256, seed=0), steps)
    # The range its last layer produces, so that images come out in [0, 1]; wrap runs the
    # network once and says so if the shapes or the range do not fit.
    G = wrap(network.eval(), LATENT_DIM, output_range=(0.0, 1.0))

    x = discs(3, seed=1)  # images the decoder never saw
    A = GaussianCS((3, SIZE, SIZE), m=300, seed=0)  # 300 random projections of 3072 pixels
    y = A(x)
    start = csgm(A, y, G, CSGMSettings(steps=steps, average=False, latent_weight=0.0))  # best of 4 starts
    adapted = iagan(A, y, G, start, IAGANSettings(steps=max(1, steps // 2), lr_z=1e-3, lr_theta=1e-3, holdout=0.0))

    estimates = {"pinv": A.pinv(y).clamp(0, 1), "CSGM": start.mean(), "IAGAN": adapted.mean()}
    scores = {name: psnr(x_hat, x).mean().item() for name, x_hat in estimates.items()}
    for name, score in scores.items():
        print(f"{name:6s} PSNR {score:5.2f} dB (mean of {len(x)})")
    save_panel({"truth": x[0], **{k: v[0] for k, v in estimates.items()}}, out)
    print(f"wrote {out}")
    return scores


if __name__ == "__main__":
    main()
