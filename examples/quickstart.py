"""invgen in a few lines: compose an operator, fit CSGM, adapt the generator, back-project.

    python examples/quickstart.py            # writes quickstart.png, ~10 s on a CPU
"""
from __future__ import annotations

from importlib import resources

import torch

from invgen.data import read_image, save_panel
from invgen.forward import ForwardModel
from invgen.generators import load_default
from invgen.metrics import psnr
from invgen.operators import Blur, SuperResolution
from invgen.solvers import CSGMSettings, IAGANSettings, csgm, iagan


def main(steps: int = 400, out: str = "quickstart.png") -> dict[str, float]:
    """CSGM for ``steps`` steps (invgen's default 1000, the paper's 1600), IAGAN for
    ``steps // 2`` (halved again for noisy y); PSNRs in dB."""
    G = load_default()  # 64×64 faces, z ~ N(0, I)
    with resources.as_file(resources.files("invgen") / "assets" / "astronaut_face_64.png") as path:
        x = read_image(path).unsqueeze(0)  # (1, 3, 64, 64) in [0, 1]

    # A camera that blurs, then samples every 4th pixel: operators compose like matrices.
    A = SuperResolution((3, 64, 64), 4) @ Blur.gaussian((3, 64, 64), sigma=1.0)
    model = ForwardModel(A, sigma=0.01)  # y = A x + n, n ~ N(0, 0.01² I)
    y = model.measure(x, torch.Generator().manual_seed(0))

    start = csgm(model, y, G, CSGMSettings(steps=steps))  # z only: 4 starts per image, one batch
    adapted = iagan(model, y, G, start, IAGANSettings(steps=max(1, steps // 2), lr_theta=1e-3))  # z and θ
    x_bp = adapted.back_project(model, y)  # each estimate, regularised by the model's noise

    # (1, K, 3, 64, 64) estimates: the ensemble of the K restarts is their mean.
    estimates = {"CSGM": start.mean(), "IAGAN": adapted.mean(), "IAGAN-BP": x_bp.mean()}
    scores = {name: psnr(x_hat, x).item() for name, x_hat in estimates.items()}
    for name, score in scores.items():
        print(f"{name:9s} PSNR {score:5.2f} dB")
    save_panel({"truth": x[0], "y": y[0], **{k: v[0] for k, v in estimates.items()}}, out)
    print(f"wrote {out}")
    return scores


if __name__ == "__main__":
    main()
