"""Does IAGAN end below its start, and does a held-out stop rule prevent it?

On the *tuning* faces (the last ``--n-images`` of the CelebA val split; never the faces the
experiments report) and for each task, CSGM runs from ``K`` starts with invgen's defaults,
then IAGAN adapts every start

- as today (all measurements fitted, the iterate with the smallest objective kept), and
- with ``holdout = f``: a share ``f`` of each image's measurements left out of the fit and
  the iterate that predicts them best kept — the start itself when adaptation does not
  help (:func:`invgen.solvers.holdout.holdout_split`),

for every IAGAN step count. With ``--noise`` IAGAN runs as under any Gaussian noise (half the
steps, each image stopped by the discrepancy principle), and the ``holdout`` rows also hold
measurements out — which :func:`invgen.solvers.iagan` does not do under Gaussian noise, for
the cost measured here. Every estimate is back-projected with all measurements and the
``K`` starts are averaged (invgen's default pipeline). It prints PSNR against CSGM-BP (the
start), the share of faces where IAGAN-BP ends below it, and the mean step kept.

    python benchmarks/holdout_study.py --tasks sr4 sr8 inpaint cs:0.1 --n-images 8
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import time
from pathlib import Path

import torch

from generator_study import sharpness, tuning_faces
from invgen.fidelity import squared_error
from invgen.forward import ForwardModel
from invgen.generators import SPEC_HELP, Generator, load_generator
from invgen.metrics import psnr
from invgen.operators import LinearOperator
from invgen.solvers import Budget, Estimates, IAGANSettings, csgm, iagan
from invgen.solvers.loop import Callback
from invgen.app.celeba import add_data_argument
from invgen.app.tasks import make_operator


def discrepancy_stop(A: LinearOperator, y: torch.Tensor, sigma: float) -> Callback:
    """A callback of :func:`~invgen.solvers.solve` that stops image ``i`` once ``‖y_i − A x_i‖² ≤ m·σ²``
    (the discrepancy principle with τ = 1, how :func:`~invgen.solvers.iagan` stops under
    Gaussian noise); ``y`` holds one row per image of the fit."""
    enough = A.out_size * sigma**2

    def stop(step: int, x: torch.Tensor, objective: torch.Tensor, state: dict) -> torch.Tensor:
        return squared_error(A(x), y) <= enough

    return stop


def adapt(model: ForwardModel, y: torch.Tensor, G: Generator, start: Estimates, settings: IAGANSettings,
          seed: int) -> Estimates:
    """:func:`~invgen.solvers.iagan` from every start of ``start``; under Gaussian noise with a
    ``settings.holdout``, IAGAN of the noiseless operator (which holds the measurements out)
    with what the noise changes: half the steps and the discrepancy stop."""
    if model.noiseless or not settings.holdout:
        return iagan(model, y, G, start, settings, seed=seed, progress=False)
    halved = dataclasses.replace(settings, steps=max(1, settings.steps // 2))
    stop = discrepancy_stop(model.A, y.repeat_interleave(start.k, dim=0), model.noise.sigma)
    return iagan(model.A, y, G, start, halved, callbacks=(stop,), seed=seed, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(parser, "the tuning faces, the last of the val split")
    parser.add_argument("--generator", default="default", help=SPEC_HELP)
    parser.add_argument("--tasks", nargs="+", default=["sr4", "sr8", "inpaint", "cs:0.1"])
    parser.add_argument("--noise", type=float, default=0.0, help="σ of the Gaussian noise on y")
    parser.add_argument("--n-images", type=int, default=8, help="the last N faces of the val split")
    parser.add_argument("--holdout", type=float, nargs="+", default=[0.1, 0.2])
    parser.add_argument("--holdout-block", type=int, nargs="+", default=[1],
                        help="sizes of the held-out squares (1: single entries; > 1 for image measurements)")
    parser.add_argument("--iagan-steps", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--lr-theta", type=float, nargs="+", default=[IAGANSettings().lr_theta],
                        help="IAGAN's learning rates for the generator's weights")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/holdout_study.json")
    args = parser.parse_args()

    budget = Budget()
    csgm_settings, iagan_settings = budget.of("csgm"), budget.of("iagan")
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
        model = ForwardModel(A, sigma=args.noise)
        t0 = time.time()
        start = csgm(A, y, G, csgm_settings, seed=args.seed, progress=False)
        t_csgm = time.time() - t0

        def averaged_bp(estimates: Estimates) -> torch.Tensor:
            return estimates.back_project(model, y).x.clamp(0, 1).mean(1)

        csgm_bp = averaged_bp(start)
        record(task, "csgm-bp", csgm_bp, None, t_csgm)
        variants = [(None, 1), *itertools.product(args.holdout, args.holdout_block)]
        for lr_theta, steps, (holdout, block) in itertools.product(args.lr_theta, args.iagan_steps, variants):
            t0 = time.time()
            settings = dataclasses.replace(iagan_settings, steps=steps, lr_theta=lr_theta, holdout=holdout or 0.0,
                                           holdout_block=block)
            result = adapt(model, y, G, start, settings, args.seed)
            label = (f"iagan-bp@{steps}" + (f" lr_θ {lr_theta:g}" if lr_theta != iagan_settings.lr_theta else "")
                     + (f" holdout {holdout:g}" if holdout else "") + (f" block {block}" if block > 1 else ""))
            record(task, label, averaged_bp(result), csgm_bp, t_csgm + time.time() - t0,
                   result.solve.best_step.float().mean().item())
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"config": vars(args), "budget": budget.flat(), "results": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
