"""A small study: the paper's methods and those that followed (ILO, DGP, mGANprior) on a few
images under two budgets — invgen's default (the mean of the estimates from 4 CSGM starts,
an ensemble of restarts) and the papers' (the best of 1 start) — as one table of PSNRs and
a JSON file.

The images: the built-in photograph, its mirror image, and two of the generator's own
samples (in its range, where CSGM alone can be exact). Both budgets are cut to ``steps``
CSGM steps, keeping their ratio of IAGAN to CSGM steps, so the comparison is of the
starts and their averaging at equal search length.

    python examples/method_study.py         # writes method_study.json, ~30 s on a CPU
"""
from __future__ import annotations

import json
from dataclasses import replace
from importlib import resources

import torch

from invgen.data import read_image
from invgen.forward import ForwardModel
from invgen.generators import load_default
from invgen.metrics import psnr
from invgen.operators import SuperResolution
from invgen.solvers import Budget, reconstruct_mean

METHODS = ["bicubic", "csgm", "csgm-bp", "iagan", "iagan-bp", "ilo-bp", "dgp-bp", "mganprior-bp"]


def scaled(budget: Budget, csgm_steps: int) -> Budget:
    """``budget`` with ``csgm_steps`` CSGM steps and every later method's steps cut in proportion."""
    ratio = csgm_steps / budget.of("csgm").steps
    return budget.replace(**{name: replace(budget.of(name), steps=max(1, round(budget.of(name).steps * ratio)))
                             for name in ("csgm", "iagan", "ilo", "dgp", "mganprior")})


def main(steps: int = 400, out: str = "method_study.json") -> dict[str, dict[str, float]]:
    """Run the study with ``steps`` CSGM steps per budget; mean PSNR (dB) per budget and method."""
    G = load_default()  # 64×64 faces, z ~ N(0, I)
    with resources.as_file(resources.files("invgen") / "assets" / "astronaut_face_64.png") as path:
        face = read_image(path)
    with torch.no_grad():
        samples = G(G.sample_latent(2, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    names = ["photo", "mirror", "G(z1)", "G(z2)"]
    x = torch.cat([face[None], face.flip(-1)[None], samples])

    model = ForwardModel(SuperResolution((3, 64, 64), 4), sigma=0.01)  # y = A x + n, built once
    y = model.measure(x, seeds=range(len(x)))  # image i's noise from seed i, whatever the batch

    budgets = {"default": scaled(Budget(), steps), "paper": scaled(Budget.paper(), steps)}
    print(f"{'budget':8s} {'method':9s} " + " ".join(f"{n:>7s}" for n in names) + "    mean")
    table, rows = {}, []
    for label, budget in budgets.items():
        estimates = reconstruct_mean(model, y, METHODS, G, budget=budget, progress=False)
        table[label] = {}
        for method, x_hat in estimates.items():
            scores = psnr(x_hat, x)
            table[label][method] = scores.mean().item()
            rows.append({"budget": label, "method": method, **dict(zip(names, scores.tolist()))})
            print(f"{label:8s} {method:9s} " + " ".join(f"{s:7.2f}" for s in scores) + f" {scores.mean():7.2f}")
    with open(out, "w") as f:
        json.dump({"budgets": {k: b.flat() for k, b in budgets.items()}, "psnr_db": rows}, f, indent=1)
    print(f"wrote {out}")
    return table


if __name__ == "__main__":
    main()
