"""``invgen demo``: super-resolution ×4 of a built-in face with every method, in under a minute."""
from __future__ import annotations

import argparse
import time
from importlib import resources

import torch

from invgen.app.arguments import check_fresh_output_folder
from invgen.app.device import resolve_device
from invgen.app.scoring import SCORE_HEAD, evaluate, score_line
from invgen.app.tasks import make_operator
from invgen.data import read_image, save_panel
from invgen.files import write_json
from invgen.generators import load_generator
from invgen.solvers import Budget, reconstruct_mean

# invgen's defaults with fewer CSGM and DIP steps, to stay within a minute on two cores (DIP's paper
# runs 2000 steps at ×4, and a larger network: see invgen.solvers.PAPER_DIP).
DEMO_CHANGES = {"csgm.steps": 300, "dip.steps": 400}
METHODS = ["bicubic", "csgm", "csgm-bp", "iagan", "iagan-bp", "dip"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="invgen-demo", help="folder for the results (must be empty, or --overwrite)")
    parser.add_argument("--overwrite", action="store_true", help="replace the files of an earlier demo in --out")


def cmd_demo(args: argparse.Namespace) -> None:
    out = check_fresh_output_folder(args.out, args.overwrite)
    device = resolve_device(args.device)
    torch.manual_seed(args.seed)
    G = load_generator("default").to(device)
    with resources.as_file(resources.files("invgen") / "assets" / "astronaut_face_64.png") as path:
        truth = read_image(path).unsqueeze(0).to(device)
    A = make_operator("sr4", tuple(truth.shape[1:])).to(device)
    y = A(truth)
    budget = Budget.from_flat(DEMO_CHANGES)
    print("invgen demo: super-resolution ×4 of a 64×64 face (NASA astronaut portrait, public domain)")
    print(f"invgen's budget with fewer CSGM and DIP steps for a quick demo: {DEMO_CHANGES}")
    t0 = time.time()
    estimates = reconstruct_mean(A, y, METHODS, G, budget=budget, seed=args.seed, progress=not args.quiet)
    total = time.time() - t0
    metrics = evaluate(estimates, truth)
    out.mkdir(parents=True, exist_ok=True)
    panels = {"truth": truth[0], "input (x4 down)": y[0], **{k: v[0] for k, v in estimates.items()}}
    captions = {k: f"{m['psnr']:.1f} | {m['st_lpips']:.3f} | {m['haarpsi']:.3f}" for k, m in metrics.items()}
    save_panel(panels, out / "demo.png", captions=captions)
    write_json(out / "metrics.json", {"task": "sr4", "budget": budget.flat(), "seconds": total, "metrics": metrics})
    print(f"\nSR ×4, {total:.0f} s in all")
    print(f"{'method':<16} {SCORE_HEAD}")
    for name, m in metrics.items():
        print(score_line(name, m))
    winner = max(metrics, key=lambda name: metrics[name]["psnr"])
    learned = min(metrics, key=lambda name: metrics[name]["st_lpips"])
    structural = max(metrics, key=lambda name: metrics[name]["haarpsi"])
    print(f"best PSNR: {winner}, {metrics[winner]['psnr'] - metrics['bicubic']['psnr']:+.2f} dB over bicubic; "
          f"perceptually closest by ST-LPIPS (learned; rewards texture, even speckle): {learned}, "
          f"{metrics[learned]['st_lpips']:.3f}; by HaarPSI (no learned weights): {structural}, "
          f"{metrics[structural]['haarpsi']:.3f}")
    print(f"\nwrote {out / 'demo.png'} (under each estimate: PSNR dB | ST-LPIPS | HaarPSI) and {out / 'metrics.json'}")
