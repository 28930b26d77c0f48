"""The Deep Image Prior's input noise (the paper's regularisation), chosen on the tuning faces.

DIP's paper perturbs the network's input at every step by ``N(0, σ²)`` noise (σ = 0.03 at
super-resolution ×4, 0.05 at ×8). On the *tuning* faces (the last ``--n-images`` of the CelebA val
split; never the faces the experiments report), invgen's DIP (its network, 2000 steps) runs once
per ``--input-noise`` σ, σ = 0 being the fixed input of invgen's DIP before issue 29, and every
estimate is scored by PSNR, SSIM, ST-LPIPS (learned, lower is closer), HaarPSI (higher is closer)
and MS-GMSD (lower is closer; :func:`invgen.metrics.scores`). It prints the table and writes JSON
(means and per-face values) and the faces' panel beside it.

    OMP_NUM_THREADS=1 python benchmarks/dip_input_noise.py --n-images 4 --input-noise 0 0.03 0.05
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

from generator_study import tuning_faces
from invgen.app.celeba import add_data_argument
from invgen.app.tasks import make_operator
from invgen.data import save_panel
from invgen.metrics import scores
from invgen.solvers import DIPSettings, dip

SHOWN = ("psnr", "ssim", "st_lpips", "haarpsi", "ms_gmsd")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(parser, "the tuning faces, the last of the val split")
    parser.add_argument("--task", default="sr4")
    parser.add_argument("--n-images", type=int, default=4, help="the last N faces of the val split")
    parser.add_argument("--input-noise", type=float, nargs="+", default=[0.0, 0.03, 0.05])
    parser.add_argument("--steps", type=int, default=DIPSettings().steps)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/dip_input_noise.json")
    args = parser.parse_args()

    faces = tuning_faces(args.data, args.n_images)
    A = make_operator(args.task, tuple(faces.shape[1:]))
    y = A(faces)
    rows, panel = [], {"truth": faces, "input": torch.nn.functional.interpolate(y, size=faces.shape[-2:])}
    print(f"DIP ({args.task}, {args.steps} steps, invgen's network) on the last {len(faces)} val faces (tuning)")
    print(f"{'input noise σ':>13} {'PSNR':>7} {'SSIM':>6} {'ST-LPIPS↓':>9} {'HaarPSI↑':>8} {'MS-GMSD↓':>8} {'s':>6}")
    for sigma in args.input_noise:
        settings = replace(DIPSettings(), steps=args.steps, input_noise=sigma)
        t0 = time.time()
        x = dip(A, y, settings, seed=args.seed, progress=False).mean()
        seconds = time.time() - t0
        values = scores(x, faces)
        rows.append({"input_noise": sigma, "settings": asdict(settings),
                     **{k: v.mean().item() for k, v in values.items()}, "seconds": seconds,
                     **{f"{k}_per_image": v.tolist() for k, v in values.items()}})
        panel[f"noise {sigma:g}"] = x  # ASCII: the panel's font has no σ
        r = rows[-1]
        print(f"{sigma:>13g} {r['psnr']:>7.2f} {r['ssim']:>6.3f} {r['st_lpips']:>9.3f} {r['haarpsi']:>8.3f} "
              f"{r['ms_gmsd']:>8.3f} {seconds:>6.0f}", flush=True)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"config": vars(args), "faces": "tuning (the last of the val split)",
                               "results": rows}, indent=1) + "\n")
    captions = {f"noise {r['input_noise']:g}": [f"{p:.1f} | {s:.3f} | {h:.3f}" for p, s, h in
                                          zip(r["psnr_per_image"], r["st_lpips_per_image"], r["haarpsi_per_image"])]
                for r in rows}
    save_panel(panel, out.with_suffix(".png"), captions=captions)
    print(f"wrote {out} and {out.with_suffix('.png')} (under each estimate: PSNR | ST-LPIPS | HaarPSI)")


if __name__ == "__main__":
    main()
