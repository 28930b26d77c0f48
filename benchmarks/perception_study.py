"""Perception study: where invgen's methods stand on the perception–distortion plane.

On the *tuning* faces (the last ``--n-images`` of the CelebA val split; never the faces the
experiments report), for one generator and each task (SR ×4 and ×8 by default), every row
is scored by PSNR (distortion), two perceptual judges — ST-LPIPS (learned perceptual distance,
lower is closer; :func:`invgen.metrics.st_lpips`; it rewards texture, and rewarded DIP's colour
speckle) and HaarPSI (no learned weights, higher is closer; :func:`invgen.metrics.haarpsi`) —
MS-GMSD (no learned weights, lower is closer) and sharpness (the estimate's high-frequency
energy over the truth's, 1 = as detailed):

- the baselines: bicubic, and DIP (invgen's, with the input noise of its paper; ``--dip-steps``;
  0 skips it, it does not depend on the generator);
- from one CSGM search with invgen's budget (``K`` starts, 1000 steps, latent penalty
  1e-3): ``csgm-bp`` with the ``K`` back-projected estimates averaged (``avg``, invgen's
  default) or each face's best start (``best``, the paper's pick);
- ``iagan-bp`` from the same starts for every ``--iagan-steps`` × ``--holdout`` (0: fit
  every measurement and keep the smallest objective), ``avg`` and ``best`` again.

It prints the table, writes JSON (means and per-face values) and the trade-off figure —
PSNR against ST-LPIPS (top) and against HaarPSI (bottom) for every row, one column per task —
beside it.

``--faces val`` scores the first ``--n-images`` faces of the val split instead: the faces the
experiments report, for reporting a setting chosen on the tuning faces, never for choosing.

    python benchmarks/perception_study.py --generator default --iagan-steps 100 300 --holdout 0.2 0
"""
from __future__ import annotations

import argparse
import itertools
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from generator_study import sharpness, tuning_faces
from invgen.app.celeba import add_data_argument, load_celeba
from invgen.app.tasks import make_operator
from invgen.generators import SPEC_HELP, load_generator
from invgen.metrics import scores
from invgen.solvers import (CSGMSettings, DIPSettings, Estimates, IAGANSettings, bicubic_upsample, csgm,
                            dip, iagan)

SCORED = ("psnr", "st_lpips", "haarpsi", "ms_gmsd")


def figure(rows: list[dict], tasks: list[str], path: Path) -> None:
    """PSNR (x) against ST-LPIPS (top row, lower is better) and HaarPSI (bottom row, higher is
    better) of every row, one column per task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    judges = (("st_lpips", "ST-LPIPS (learned; lower is closer) ↓", True),
              ("haarpsi", "HaarPSI (no learned weights; higher is closer) ↑", False))
    fig, axes = plt.subplots(2, len(tasks), figsize=(6.5 * len(tasks), 10.4), squeeze=False)
    for (key, label, lower_is_better), row in zip(judges, axes):
        for ax, task in zip(row, tasks):
            for r in (r for r in rows if r["task"] == task):
                family = r["method"].split()[0]
                marker = {"bicubic": "s", "dip": "D", "csgm-bp": "o", "iagan-bp": "^"}[family]
                ax.scatter(r["psnr"], r[key], marker=marker, s=36,
                           color="C0" if "avg" in r["method"] else "C3" if "best" in r["method"] else "k")
                ax.annotate(r["method"], (r["psnr"], r[key]), fontsize=7, xytext=(3, 3), textcoords="offset points")
            ax.set(title=f"{task}: perception–distortion (tuning faces)", xlabel="PSNR (dB) →", ylabel=label)
            if lower_is_better:
                ax.invert_yaxis()
            ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(parser, "the tuning faces, the last of the val split")
    parser.add_argument("--generator", default="default", help=SPEC_HELP)
    parser.add_argument("--tasks", nargs="+", default=["sr4", "sr8"])
    parser.add_argument("--n-images", type=int, default=8,
                        help="the last N faces of the val split (--faces val: the first N)")
    parser.add_argument("--faces", choices=["tuning", "val"], default="tuning",
                        help="tuning (choose here) or val (the experiments' faces: report only)")
    parser.add_argument("--iagan-steps", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--holdout", type=float, nargs="+", default=[0.2, 0.0])
    parser.add_argument("--dip-steps", type=int, default=2000, help="0: no DIP row")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/perception_study/default.json")
    args = parser.parse_args()

    search, adapt = CSGMSettings(), IAGANSettings()  # invgen's defaults
    k = search.restarts
    faces = (tuning_faces(args.data, args.n_images) if args.faces == "tuning"
             else load_celeba(args.data, "val", args.n_images))
    G = load_generator(args.generator)
    rows: list[dict] = []

    def record(task: str, method: str, x: torch.Tensor, seconds: float) -> None:
        values = {**{k: v for k, v in scores(x, faces).items() if k in SCORED}, "sharpness": sharpness(x, faces)}
        rows.append({"task": task, "method": method, **{m: v.mean().item() for m, v in values.items()},
                     "seconds": seconds, **{f"{m}_per_image": v.tolist() for m, v in values.items()}})
        r = rows[-1]
        print(f"{task:<5} {method:<26} {r['psnr']:>7.2f} {r['st_lpips']:>9.3f} {r['haarpsi']:>8.3f} "
              f"{r['ms_gmsd']:>8.3f} {r['sharpness']:>9.2f} {seconds:>7.0f}", flush=True)

    def averaged_and_best(task: str, name: str, x: Estimates, best: torch.Tensor, seconds: float) -> None:
        """The ensemble of the starts, and the start CSGM's objective picks (the paper's)."""
        record(task, f"{name} avg", x.mean(), seconds)
        record(task, f"{name} best", x.x[torch.arange(len(faces)), best], seconds)

    print(f"{args.generator}: {len(faces)} {args.faces} faces, K = {k} starts")
    print(f"{'task':<5} {'method':<26} {'PSNR':>7} {'ST-LPIPS':>9} {'HaarPSI':>8} {'MS-GMSD':>8} {'sharpness':>9} "
          f"{'time s':>7}")
    for task in args.tasks:
        A = make_operator(task, tuple(faces.shape[1:]))
        y = A(faces)
        record(task, "bicubic", bicubic_upsample(A, y), 0.0)
        if args.dip_steps:
            t0 = time.time()
            record(task, f"dip {args.dip_steps}", dip(A, y, DIPSettings(steps=args.dip_steps), seed=args.seed,
                                                       progress=False).mean().clamp(0, 1), time.time() - t0)
        t0 = time.time()
        start = csgm(A, y, G, search, seed=args.seed, progress=False)
        t_csgm = time.time() - t0
        best = start.objective.argmin(1)

        def projected(estimates: Estimates) -> Estimates:
            return Estimates(estimates.back_project(A, y).x.clamp(0, 1))

        averaged_and_best(task, "csgm-bp", projected(start), best, t_csgm)
        for steps, holdout in itertools.product(args.iagan_steps, args.holdout):
            t0 = time.time()
            adapted = iagan(A, y, G, start, replace(adapt, steps=steps, holdout=holdout), seed=args.seed,
                            progress=False)
            averaged_and_best(task, f"iagan-bp {steps} h{holdout:g}", projected(adapted), best,
                              t_csgm + time.time() - t0)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"generator": args.generator, "config": vars(args), "results": rows}, indent=1))
    figure(rows, args.tasks, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
