"""Choose IAGAN's step count and θ learning rate on held-out faces, never on the evaluation ones.

The experiments (``invgen bench ...``) evaluate on the *first* faces of the CelebA val
split; this script tunes on the *last* ``--n-images`` faces of that split (ids counting
down from 010000), which no experiment and no generator sees. For each
``(lr_θ, steps)`` it runs IAGAN from one shared CSGM start and reports PSNR of the IAGAN
estimate and of its back-projection, next to bicubic, CSGM and CSGM-BP. With noise
(``--noise``) it also runs the paper's rule alone — half the steps, no discrepancy-principle
stop — to compare with invgen's default, which applies both.

    python benchmarks/iagan_tuning.py --task sr4 --n-images 8
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import time
from pathlib import Path

import torch

from invgen.app.celeba import CELEBA_CROP, add_data_argument, celeba_paths
from invgen.app.tasks import make_operator
from invgen.data import read_image
from invgen.forward import ForwardModel
from invgen.generators import SPEC_HELP, load_generator
from invgen.metrics import psnr
from invgen.solvers import (
    PAPER_CSGM,
    PAPER_IAGAN,
    CSGMSettings,
    IAGANSettings,
    back_project,
    csgm,
    iagan,
    reconstruct_mean,
)


def held_out_faces(root: str, n: int) -> torch.Tensor:
    """The last ``n`` faces of the val split, ``(n, 3, 64, 64)``."""
    return torch.stack([read_image(p, crop=CELEBA_CROP) for p in celeba_paths(root, "val")[-n:]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(parser, "the last faces of the val split")
    parser.add_argument("--generator", default="default", help=SPEC_HELP)
    parser.add_argument("--task", default="sr4")
    parser.add_argument("--noise", type=float, default=0.0, help="σ of the Gaussian noise on y")
    parser.add_argument("--n-images", type=int, default=8)
    parser.add_argument("--restarts", type=int, default=PAPER_CSGM.restarts,
                        help="CSGM starts; IAGAN runs from the best")
    parser.add_argument("--csgm-steps", type=int, default=PAPER_CSGM.steps)
    parser.add_argument("--lr-z", type=float, default=PAPER_IAGAN.lr_z)
    parser.add_argument("--lr-theta", type=float, nargs="+", default=[1e-4, 3e-4, 1e-3], help="the values tried")
    parser.add_argument("--steps", type=int, nargs="+", default=[100, 250, 500, 1000], help="the values tried")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/iagan_tuning.json")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    G = load_generator(args.generator)
    x = held_out_faces(args.data, args.n_images)
    model = ForwardModel(make_operator(args.task, tuple(x.shape[1:]), seed=args.seed), sigma=args.noise)
    y = model.measure(x)  # from torch's global generator, seeded above

    rows = []
    baselines = ["bicubic"] if args.task.startswith("sr") else ["pinv"]
    for name, est in reconstruct_mean(model, y, baselines, progress=False).items():
        rows.append({"method": name, "psnr": psnr(est, x).mean().item()})
    # The paper's CSGM (best start, no latent penalty) with these counts.
    start = csgm(model, y, G, CSGMSettings(steps=args.csgm_steps, restarts=args.restarts, average=False,
                                           latent_weight=0.0), seed=args.seed, progress=False)
    csgm_bp = back_project(model, y, start.x[:, 0]).clamp(0, 1)
    rows.append({"method": "csgm", "psnr": psnr(start.x[:, 0], x).mean().item()})
    rows.append({"method": "csgm-bp", "psnr": psnr(csgm_bp, x).mean().item()})
    for lr_theta, steps in itertools.product(args.lr_theta, args.steps):
        # Fitting every measurement, as the paper: under noise half the steps and the discrepancy stop.
        settings = IAGANSettings(steps=steps, lr_z=args.lr_z, lr_theta=lr_theta, holdout=0.0)
        t0 = time.time()
        est = iagan(model, y, G, start, settings, progress=False).x[:, 0]
        seconds = time.time() - t0
        bp = back_project(model, y, est).clamp(0, 1)
        row = {"method": "iagan", "lr_theta": lr_theta, "steps": steps, "seconds": seconds,
               "psnr": psnr(est, x).mean().item(), "psnr_bp": psnr(bp, x).mean().item()}
        if args.noise:
            halved = dataclasses.replace(settings, steps=max(1, steps // 2))
            # The operator alone (noiseless to iagan): no discrepancy stop.
            halved_only = iagan(model.A, y, G, start, halved, progress=False).x[:, 0]
            row["psnr_half_steps_only"] = psnr(halved_only, x).mean().item()
        rows.append(row)
        print(f"lr_θ {lr_theta:g} steps {steps}: IAGAN {row['psnr']:.2f} dB, -BP {row['psnr_bp']:.2f} dB "
              f"({seconds:.0f} s)", flush=True)

    print(f"\n{args.task} σ={args.noise:g}, {len(x)} held-out val faces (last of the split), PSNR dB")
    print(f"{'method':<10} {'lr_θ':>7} {'steps':>6} {'PSNR':>7} {'PSNR-BP':>8}"
          + (f" {'half steps, no stop':>20}" if args.noise else ""))
    for r in rows:
        lr = f"{r['lr_theta']:g}" if "lr_theta" in r else ""
        print(f"{r['method']:<10} {lr:>7} {r.get('steps', ''):>6} {r['psnr']:>7.2f} "
              f"{r.get('psnr_bp', float('nan')):>8.2f}"
              + (f" {r.get('psnr_half_steps_only', float('nan')):>20.2f}" if args.noise else ""))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"config": vars(args), "results": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
