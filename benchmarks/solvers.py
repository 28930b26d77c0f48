"""Solver overhead: a step of ``csgm`` / ``iagan`` against the bare generator, and restarts.

    python benchmarks/solvers.py [--batches 1 4] [--steps 40] [--out benchmarks/results/solvers.json]

On the default 64×64 face generator (trained weights when shipped, else untrained —
timing does not depend on them) and ×4 super-resolution:

- ``step / bare``: seconds per step of the whole solver call (prior set-up, operator,
  Adam, best-iterate tracking, stopping checks) over seconds per step of the bare loop
  ``G(z)`` → loss → gradients, at the same batch. The bare loop for ``csgm`` takes
  gradients to ``z`` only; for ``iagan`` to ``z`` and the weights, shared across the
  batch (the cheapest way to run the network). Target ≤ 1.15.
- ``step / per-image``: ``iagan`` against the same bare loop through per-image weights
  (``ImageAdaptivePrior``, no optimiser): the solver's own overhead. At batch 1 the two
  bare loops cost the same; at a larger batch the difference is the price of giving
  every image its own weights.
- restarts: ``csgm(restarts=8)`` on one image against 8 runs of ``csgm(restarts=1)``
  one after another. Target ≥ 2× faster.

Times are medians over ``--repeats`` runs, float32, on the CPU with
``torch.get_num_threads()`` threads (``--threads``) or on ``--device``.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from invgen.generators import load_default
from invgen.generators.face64 import build_face64
from invgen.operators import SuperResolution
from invgen.priors import ImageAdaptivePrior
from invgen.solvers import csgm, iagan


def median_seconds(fn, repeats: int, device: torch.device) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bare_loop(G, A, y, z0, steps: int, with_weights: bool) -> None:
    """Forward, squared misfit, gradients: the least any solver step must do."""
    z = z0.clone().requires_grad_()
    inputs = [z, *G.parameters()] if with_weights else [z]
    for _ in range(steps):
        torch.autograd.grad((y - A(G(z))).square().sum(), inputs)


def bare_per_image_loop(G, A, y, z0, steps: int) -> None:
    """The same, through a separate copy of the weights for every image."""
    prior = ImageAdaptivePrior(G, z0)
    inputs = [p for group in prior.parameter_groups() for p in group["params"]]
    for _ in range(steps):
        torch.autograd.grad((y - A(prior())).square().sum(), inputs)


def overhead_rows(G, A, b: int, rng: torch.Generator, steps: int, repeats: int, device: torch.device) -> list[dict]:
    """Seconds per step of csgm and iagan, and of the bare loops, at batch ``b``."""
    with torch.no_grad():
        y = A(G(G.sample_latent(b, generator=rng))) + 0.05  # off the range: every step has work
    z0 = G.sample_latent(b, generator=rng)

    def per_step(fn) -> float:
        return median_seconds(fn, repeats, device) / steps

    bare_z = per_step(lambda: bare_loop(G, A, y, z0, steps, False))
    bare_all = per_step(lambda: bare_loop(G, A, y, z0, steps, True))
    bare_own = per_step(lambda: bare_per_image_loop(G, A, y, z0, steps))
    t_csgm = per_step(lambda: csgm(A, y, G, steps=steps, progress=False))
    t_iagan = per_step(lambda: iagan(A, y, G, z0, steps=steps, progress=False))
    return [
        {"method": "csgm", "batch": b, "step_ms": 1e3 * t_csgm, "bare_ms": 1e3 * bare_z, "ratio": t_csgm / bare_z},
        {"method": "iagan", "batch": b, "step_ms": 1e3 * t_iagan, "bare_ms": 1e3 * bare_all,
         "ratio": t_iagan / bare_all, "per_image_bare_ms": 1e3 * bare_own, "ratio_per_image": t_iagan / bare_own},
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--restarts", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/solvers.json"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    try:
        G, weights = load_default(), "trained"
    except FileNotFoundError:
        G, weights = build_face64(latent_dim=128, width=32), "untrained"
    G = G.to(device)
    A = SuperResolution((3, 64, 64), 4).to(device)
    rng = torch.Generator().manual_seed(0)
    steps, repeats = args.steps, args.repeats

    rows = [row for b in args.batches for row in overhead_rows(G, A, b, rng, steps, repeats, device)]

    with torch.no_grad():
        y1 = A(G(G.sample_latent(1, generator=rng)))
    r = args.restarts
    batched = median_seconds(lambda: csgm(A, y1, G, steps=steps, restarts=r, progress=False), repeats, device)
    sequential = median_seconds(
        lambda: [csgm(A, y1, G, steps=steps, restarts=1, seed=s, progress=False) for s in range(r)], repeats, device
    )

    print(f"device {device} ({torch.get_num_threads()} threads), {weights} face64 generator, SR ×4, "
          f"{steps} steps, median of {repeats}")
    print(f"{'method':<7} {'batch':>5} {'step ms':>9} {'bare ms':>9} {'step/bare':>10} "
          f"{'per-image ms':>13} {'step/per-image':>15}  (target ≤ 1.15)")
    for row in rows:
        own = (f"{row['per_image_bare_ms']:>13.2f} {row['ratio_per_image']:>15.2f}" if "ratio_per_image" in row
               else f"{'':>13} {'':>15}")
        print(f"{row['method']:<7} {row['batch']:>5} {row['step_ms']:>9.2f} {row['bare_ms']:>9.2f} "
              f"{row['ratio']:>10.2f} {own}")
    print(f"{r} restarts: one batch {batched:.2f} s, {r} sequential runs {sequential:.2f} s, "
          f"speed-up {sequential / batched:.2f}× (target ≥ 2)")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "device": str(device), "threads": torch.get_num_threads(), "generator": f"face64 ({weights})",
        "operator": "SuperResolution x4, 64x64 RGB", "steps": steps, "repeats": repeats, "overhead": rows,
        "restarts": {"n": r, "batched_s": batched, "sequential_s": sequential, "speedup": sequential / batched},
    }, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
