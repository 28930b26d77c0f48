"""Does IAGAN end below its start, and does a held-out stop rule prevent it?

On the *tuning* faces (the last ``--n-images`` of the CelebA val split; never the faces the
experiments report) and for each task, CSGM runs from ``K`` starts with invgen's defaults,
then IAGAN adapts every start

- as today (all measurements fitted, the iterate with the smallest objective kept), and
- with ``holdout = f``: a share ``f`` of each image's measurements left out of the fit and
  the iterate that predicts them best kept — the start itself when adaptation does not
  help (:func:`invgen.solvers.fidelity.holdout_split`),

for every IAGAN step count. Every estimate is back-projected with all measurements and the
``K`` starts are averaged (invgen's default pipeline). It prints PSNR against CSGM-BP (the
start), the share of faces where IAGAN-BP ends below it, and the mean step kept.

    python benchmarks/holdout_study.py --tasks sr4 sr8 inpaint cs:0.1 --n-images 8
"""
from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import torch

from generator_study import sharpness, tuning_faces
from invgen.generators import SPEC_HELP, load_generator
from invgen.metrics import psnr
from invgen.solvers import back_project_noisy, csgm_all_starts, iagan
from invgen.solvers import Budget
from invgen.solvers.posterior import average_starts
from invgen.app.tasks import make_operator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/celeba/img_align_celeba_89x109")
    parser.add_argument("--generator", default="default", help=SPEC_HELP)
    parser.add_argument("--tasks", nargs="+", default=["sr4", "sr8", "inpaint", "cs:0.1"])
    parser.add_argument("--noise", type=float, default=0.0, help="σ of the Gaussian noise on y")
    parser.add_argument("--n-images", type=int, default=8, help="the last N faces of the val split")
    parser.add_argument("--holdout", type=float, nargs="+", default=[0.1, 0.2])
    parser.add_argument("--holdout-block", type=int, nargs="+", default=[1],
                        help="sizes of the held-out squares (1: single entries; > 1 for image measurements)")
    parser.add_argument("--iagan-steps", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--lr-theta", type=float, nargs="+", default=[Budget().lr_theta],
                        help="IAGAN's learning rates for the generator's weights")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/holdout_study.json")
    args = parser.parse_args()

    budget = Budget()
    k = budget.restarts
    faces = tuning_faces(args.data, args.n_images)
    G = load_generator(args.generator)
    rows = []

    def record(task: str, method: str, x: torch.Tensor, start: torch.Tensor | None, seconds: float,
               kept_step: float = float("nan")) -> None:
        quality = psnr(x, faces)
        row = {"task": task, "method": method, "psnr": quality.mean().item(), "psnr_per_image": quality.tolist(),
               "sharpness": sharpness(x, faces).mean().item(), "seconds": seconds, "kept_step": kept_step}
        if start is not None:
            row["below_start"] = (quality < psnr(start, faces)).float().mean().item()
        rows.append(row)
        print(f"{task:<8} {method:<24} {row['psnr']:7.2f}  below start {row.get('below_start', float('nan')):4.2f}"
              f"  kept step {kept_step:6.1f}  {seconds:5.0f} s", flush=True)

    for task in args.tasks:
        A = make_operator(task, tuple(faces.shape[1:]), seed=args.seed)
        noise = torch.Generator().manual_seed(args.seed + 1)
        y = A(faces) + args.noise * torch.randn(len(faces), *A.out_shape, generator=noise)
        y_all = y.repeat_interleave(k, dim=0)
        t0 = time.time()
        start = csgm_all_starts(A, y, G, budget.csgm_steps, budget.csgm_lr, k, args.seed,
                                latent_weight=budget.latent_weight, progress=False)
        t_csgm = time.time() - t0

        def averaged_bp(x: torch.Tensor) -> torch.Tensor:
            return average_starts(back_project_noisy(A, y_all, x, args.noise).clamp(0, 1), k)[0]

        csgm_bp = averaged_bp(start.x)
        record(task, "csgm-bp", csgm_bp, None, t_csgm)
        variants = [(None, 1), *itertools.product(args.holdout, args.holdout_block)]
        for lr_theta, steps, (holdout, block) in itertools.product(args.lr_theta, args.iagan_steps, variants):
            t0 = time.time()
            result = iagan(A, y_all, G, start.z, steps=steps, lr_z=budget.lr_z, lr_theta=lr_theta,
                           noise_std=args.noise or None, holdout=holdout, holdout_block=block, seed=args.seed,
                           progress=False)
            label = (f"iagan-bp@{steps}" + (f" lr_θ {lr_theta:g}" if lr_theta != budget.lr_theta else "")
                     + (f" holdout {holdout:g}" if holdout else "") + (f" block {block}" if block > 1 else ""))
            record(task, label, averaged_bp(result.x), csgm_bp, t_csgm + time.time() - t0,
                   result.best_step.float().mean().item())
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"config": vars(args), "budget": vars(budget), "results": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
