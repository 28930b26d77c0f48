"""Compressed sensing with a dense Gaussian A on CelebA val faces: MSE against m/n.

Methods: CSGM, CSGM-BP, IAGAN, IAGAN-BP (the paper's step counts) and Lasso-DCT,
min_c ½‖y − A Dᵀc‖² + λ‖c‖₁ with D the orthonormal 2-D DCT per channel, solved by
PyLops' FISTA. The paper's Fig. 2 is the plot this writes (``mse_vs_ratio.png``).

    invgen bench cs-curve --n-images 32 --out docs/results/cs_curve
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pylops
import torch

from invgen.app.experiments.common import Setting
from invgen.app.experiments.common import main as run_main
from invgen.operators import LinearOperator, to_pylops

RATIOS = [0.02, 0.05, 0.1, 0.2, 0.3, 0.5]
SETTINGS = [Setting(f"cs:{r}") for r in RATIOS]
METHODS = ["csgm", "csgm-bp", "iagan", "iagan-bp"]
# λ as a fraction of ‖(A Dᵀ)ᵀ y‖∞ (above which c = 0 is optimal): a fixed rule, not tuned on the faces.
LASSO_LAMBDA_FRACTION = 0.01
LASSO_ITERATIONS = 200


def lasso_dct(A: LinearOperator, y: torch.Tensor) -> torch.Tensor:
    """Lasso-DCT estimates ``(B, *A.in_shape)`` of each measurement in ``y``, by FISTA."""
    c, h, w = A.in_shape
    idct = pylops.signalprocessing.DCT(dims=(c, h, w), axes=(1, 2), dtype="float64").H
    op = to_pylops(A) @ idct
    estimates = []
    for y_i in y.detach().cpu().double().numpy():
        y_i = y_i.ravel()
        lam = LASSO_LAMBDA_FRACTION * np.abs(op.H @ y_i).max()
        coeffs = pylops.optimization.sparsity.fista(op, y_i, niter=LASSO_ITERATIONS, eps=lam, show=False)[0]
        estimates.append(torch.from_numpy((idct @ coeffs).reshape(c, h, w)))
    return torch.stack(estimates).to(y).clamp(0, 1)


def _lasso(A: LinearOperator, y: torch.Tensor, noise_std: float) -> dict[str, torch.Tensor]:
    return {"lasso-dct": lasso_dct(A, y)}


def plot(rows: list[dict], out: Path) -> list[str]:
    """MSE per pixel against m/n for every method (log scale), as in the paper's Fig. 2."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6))
    for method in dict.fromkeys(r["method"] for r in rows):
        pts = sorted((float(r["task"].split(":")[1]), r["mse"], r["mse_sem"]) for r in rows if r["method"] == method)
        ratio, mse, sem = zip(*pts)
        ax.errorbar(ratio, mse, yerr=sem, marker="o", capsize=2, label=method)
    ax.set_xlabel("m / n")
    ax.set_ylabel("MSE per pixel")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "mse_vs_ratio.png", dpi=130)
    plt.close(fig)
    return ["![MSE against m/n](mse_vs_ratio.png)"]


def main(argv: list[str] | None = None) -> None:
    run_main("cs_curve", __doc__, SETTINGS, METHODS, argv, extra_methods=_lasso, figures=plot)


if __name__ == "__main__":
    main()
