"""Validation score of a face generator: how well it can represent real faces.

Representation error = PSNR of the best CSGM fit with A = Identity, i.e.
max over restarts of PSNR(G(z*), x) with z* = argmin_z ‖x − G(z)‖² (Adam, lr 0.1),
averaged over faces of the CelebA val split (never seen in training) and, for the
over-fitting gap, of the train split.

    python benchmarks/generator.py --data DIR   # default: $INVGEN_DATA, else the shared CelebA folder
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from invgen.app.celeba import add_data_argument, load_celeba
from invgen.generators import SPEC_HELP, load_generator
from invgen.metrics import psnr
from invgen.operators import Identity
from invgen.solvers import CSGMSettings, csgm


def representation_psnr(generator, faces: torch.Tensor, steps: int, restarts: int, seed: int) -> torch.Tensor:
    """Per-face PSNR of the best CSGM projection onto the generator's range."""
    A = Identity(tuple(faces.shape[1:]))
    settings = CSGMSettings(steps=steps, lr=0.1, restarts=restarts, average=False, latent_weight=0.0)
    return psnr(csgm(A, faces, generator, settings, seed=seed).x[:, 0], faces)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(parser, "val and train faces")
    parser.add_argument("--generator", default="default", help=SPEC_HELP)
    parser.add_argument("--n-images", type=int, default=64)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--restarts", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/generator.json")
    args = parser.parse_args()

    G = load_generator(args.generator)
    rows = []
    for split in ("val", "train"):
        faces = load_celeba(args.data, split, n=args.n_images)
        t0 = time.time()
        scores = representation_psnr(G, faces, args.steps, args.restarts, args.seed)
        rows.append({"split": split, "n_images": len(faces), "psnr_mean": scores.mean().item(),
                     "psnr_std": scores.std().item(), "seconds": time.time() - t0})

    print(f"\nrepresentation PSNR (CSGM, A = I, {args.restarts} restarts, {args.steps} steps, lr 0.1)")
    print(f"{'split':<6} {'n':>4} {'PSNR mean':>10} {'std':>6} {'time s':>8}")
    for r in rows:
        print(f"{r['split']:<6} {r['n_images']:>4} {r['psnr_mean']:>10.2f} {r['psnr_std']:>6.2f} {r['seconds']:>8.1f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"config": vars(args), "results": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
