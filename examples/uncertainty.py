"""An ensemble of restarts and their spread: SR ×8 of a face from K independent starts.

Each start gives one answer the prior finds consistent with y; their mean is the estimate
(lower MSE than a typical start) and their per-pixel spread says where y leaves the image
open — a lower bound on the uncertainty. How far to trust that map is measured here too:
its correlation with the actual error (the experiments find r ≈ 0.3 for super-resolution —
a pointer, not an error bar).

    python examples/uncertainty.py          # writes uncertainty.png, ~30 s on a CPU
"""
from __future__ import annotations

from importlib import resources

from invgen.data import read_image, save_panel
from invgen.generators import load_default
from invgen.metrics import psnr
from invgen.operators import SuperResolution
from invgen.solvers import Budget, CSGMSettings, IAGANSettings, reconstruct_samples, restart_spread


def main(steps: int = 300, out: str = "uncertainty.png", starts: int = 8) -> dict[str, float]:
    """CSGM for ``steps`` steps from ``starts`` starts, IAGAN for ``steps // 3``, each start
    back-projected; PSNRs in dB, the map's correlation with the error and their ratio of means."""
    G = load_default()
    with resources.as_file(resources.files("invgen") / "assets" / "astronaut_face_64.png") as path:
        x = read_image(path).unsqueeze(0)  # (1, 3, 64, 64)
    A = SuperResolution((3, 64, 64), 8)
    y = A(x)

    budget = Budget(csgm=CSGMSettings(restarts=starts, steps=steps), iagan=IAGANSettings(steps=max(1, steps // 3)))
    samples = reconstruct_samples(A, y, ["iagan-bp"], G, budget=budget)["iagan-bp"].x  # (1, K, 3, 64, 64)
    mean, spread = samples.mean(1), restart_spread(samples)  # the estimate; (1, 64, 64)
    error = (mean - x).square().mean(1).sqrt()  # per-pixel error of the estimate, (1, 64, 64)

    per_start = psnr(samples[0], x.expand_as(samples[0]))
    s, e = spread.flatten() - spread.mean(), error.flatten() - error.mean()
    scores = {"mean of the starts": psnr(mean, x).item(), "average start": per_start.mean().item(),
              "best start": per_start.max().item(), "r(spread, error)": (s @ e / (s.norm() * e.norm())).item(),
              "spread / error": (spread.mean() / error.mean()).item()}
    for name, score in scores.items():
        print(f"{name:20s} {score:6.2f}")
    # Each map scaled to its own maximum (the spread is much smaller than the error: see "spread / error").
    save_panel({"truth": x[0], "y": y[0], "mean": mean[0], "spread": spread / spread.max(),
                "error": error / error.max()}, out)
    print(f"wrote {out}")
    return scores


if __name__ == "__main__":
    main()
