"""A comparison table in a few lines: methods × images → mean ± s.e.m. and paired differences.

    python examples/comparison.py           # prints the table, writes comparison.json, ~1 min on a CPU
"""
import json

import torch

from invgen.forward import ForwardModel
from invgen.generators import load_default
from invgen.operators import SuperResolution
from invgen.solvers import Budget, CSGMSettings, IAGANSettings, compare


def main(steps: int = 300, out: str = "comparison.json") -> str:
    G = load_default()
    faces = G(G.sample_latent(4, generator=torch.Generator().manual_seed(1))).detach()  # or your own images
    model = ForwardModel(SuperResolution((3, 64, 64), 4), sigma=0.01)
    budget = Budget(csgm=CSGMSettings(steps=steps), iagan=IAGANSettings(steps=max(1, steps // 10)))
    result = compare(model, faces, ["bicubic", "dip", "csgm-bp", "iagan-bp"], G, budget=budget, progress=False)
    print(result.markdown())
    with open(out, "w") as f:
        json.dump(result.to_dict(), f, indent=1)
    return result.markdown()


if __name__ == "__main__":
    main()
