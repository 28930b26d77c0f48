"""Compressed sensing with a dense Gaussian A on CelebA val faces: MSE against m/n.

Methods: CSGM, CSGM-BP, IAGAN, IAGAN-BP and Lasso-DCT,
min_c ½‖y − A Dᵀc‖² + λ‖c‖₁ with D the orthonormal 2-D DCT per channel, solved by
PyLops' FISTA (:func:`invgen.solvers.lasso_dct`). The paper's Fig. 2 is the plot
this writes (``mse_vs_ratio.png``). At m/n = 0.05, 0.1 and 0.5 the methods that followed
IAGAN (ILO, DGP, mGANprior, each back-projected) run too.

    invgen bench cs-curve --n-images 32 --out docs/results/cs_curve
"""
from __future__ import annotations

from pathlib import Path

from invgen.app.experiments.common import FOLLOW_UPS, Setting
from invgen.app.experiments.common import main as run_main

RATIOS = [0.02, 0.05, 0.1, 0.2, 0.3, 0.5]
METHODS = ["csgm", "csgm-bp", "iagan", "iagan-bp", "lasso-dct"]
# The follow-up methods at three ratios only (their cost is that of IAGAN or more).
SETTINGS = [Setting(f"cs:{r}", methods=tuple(METHODS + FOLLOW_UPS) if r in (0.05, 0.1, 0.5) else ()) for r in RATIOS]


def plot(rows: list[dict], out: Path) -> list[str]:
    """MSE per pixel against m/n for every method (log scale), as in the paper's Fig. 2."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6))
    for method in METHODS:  # the curve of the methods run at every ratio
        pts = sorted((float(r["setting"].split(":")[1]), r["mse"], r["mse_sem"]) for r in rows if r["method"] == method)
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
    run_main("cs_curve", __doc__, SETTINGS, METHODS, argv, figures=plot)


if __name__ == "__main__":
    main()
