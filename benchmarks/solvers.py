"""Solver speed: overhead per step, IAGAN's batching, GaussianCS's pseudo-inverse, end to end.

    python benchmarks/solvers.py --threads 2 [--batches 1 4] [--steps 40] [--out benchmarks/results/solvers.json]

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

- IAGAN batching (issue 13): seconds per ``iagan`` step at batch ``--iagan-batch`` (8)
  over 8× the seconds per step at batch 1, same code. Goal ≤ 0.5. Also the network alone
  (forward + gradients through per-image weights) at batch 8 on the grouped path and on
  the vmap path (what every network ran on before), and 8 single-image passes.
- IAGAN batching by kind (issue 27): the same ratio for a 64×64 network of every loader's kind
  (untrained, widths below the public checkpoints' so a CPU run takes minutes): the PyTorch DCGAN
  tutorial's ``netG`` (``ngf`` 32), BEGAN (``n`` 32), PGGAN (128 → 16 channels), StyleGAN2 in W
  (128 → 16 channels, 2 mapping layers), each through its loader's chain on the grouped path
  (known layers on stacked weights, other links through vmap one link at a time).
- GaussianCS: seconds from construction to the first exact pseudo-inverse at
  n = 3·64², m = n/2 (``--cs-size``; sampling Φ, the Gram matrix, Cholesky, one solve),
  against DeepInverse's ``CompressedSensing`` at the same n and m, from its constructor
  (sampling Φ, its pseudo-inverse by SVD) to its first ``A_dagger`` (the reference of issue
  13), and against the previous formation of ``ΦΦᵀ`` as a full float64 product, all timed
  in the same run. Goal ≥ 10× DeepInverse, with ``‖A A⁺y − y‖/‖y‖ ≤ 1e-6`` in float64.
  DeepInverse is the optional ``bench`` extra (``pip install -e .[bench]``); without it
  (or when it does not import) its row says "not measured" and the JSON holds ``null``.
- End to end: ``reconstruct_mean(…, ["iagan-bp"])`` (CSGM with ``--e2e-restarts`` starts, IAGAN,
  back-projection) on ``--e2e-faces`` CelebA val faces at once, against the loop structure
  of the paper's published code, written from its description with the same generator,
  operator, step counts, learning rates and starting latents: one face at a time,
  restarts one after another, the generator's weights reloaded (from memory, the cheaper
  way) before every restart and before IAGAN, the loss read with ``.item()`` at every
  step, the last iterate kept. Goal ≥ 5× at 16 faces and 4 restarts, equal or better PSNR.
  Steps default to a tenth of the paper's (160 CSGM, 50 IAGAN), keeping their ratio. One
  invgen row per ``--e2e-precision``: the generator in float32, and in mixed bfloat16
  (``csgm.precision``, ``iagan.precision``; about 2× faster on CPUs with AVX512-BF16 or
  AMX, and on GPUs). Each row also gives CSGM's batching gain, measured beside it: the
  per-image cost of a CSGM step at batch 1 over that at batch faces·restarts (all starts in
  one batch). CSGM is most of the work, and both pipelines do the same steps, so this gain
  bounds what batching can give end to end on the device.

Times are medians over ``--repeats`` runs (single runs for GaussianCS and end to end),
float32, on the CPU with ``torch.get_num_threads()`` threads (``--threads``; scipy's BLAS
follows ``OMP_NUM_THREADS``) or on ``--device``.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

from invgen.app.celeba import add_data_argument, load_celeba
from invgen.generators import build_began, build_dcgan, build_pggan, build_stylegan2, load_default
from invgen.generators.face64 import build_face64
from invgen.metrics import psnr
from invgen.operators import GaussianCS, SuperResolution
from invgen.priors import ImageAdaptivePrior
from invgen.solvers import Budget, CSGMSettings, Estimates, IAGANSettings, csgm, iagan, reconstruct_mean

PARTS = ("overhead", "iagan", "iagan-kinds", "gaussian-cs", "end-to-end")


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


def paper_csgm(steps: int, restarts: int = 1, precision: str = "float32") -> CSGMSettings:
    """CSGM as the paper runs it (each image's best start, no latent penalty), with these counts."""
    return CSGMSettings(steps=steps, restarts=restarts, average=False, latent_weight=0.0, precision=precision)


def paper_iagan(steps: int) -> IAGANSettings:
    """IAGAN as the paper runs it (every measurement fitted, nothing held out), for ``steps`` steps."""
    return IAGANSettings(steps=steps, holdout=0.0)


def latent_start(G, z: torch.Tensor) -> Estimates:
    """Latents ``z`` ``(B, latent_dim)`` as the one start per image that :func:`iagan` continues."""
    with torch.no_grad():
        return Estimates(x=G(z).unsqueeze(1), z=z.unsqueeze(1))


def per_image_prior(G, z: torch.Tensor) -> ImageAdaptivePrior:
    """IAGAN's prior from ``z``, at IAGAN's learning rates (no optimiser reads them here)."""
    settings = IAGANSettings()
    return ImageAdaptivePrior(G, z, lr_z=settings.lr_z, lr_theta=settings.lr_theta)


def bare_per_image_loop(G, A, y, z0, steps: int) -> None:
    """The same, through a separate copy of the weights for every image."""
    prior = per_image_prior(G, z0)
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
    t_csgm = per_step(lambda: csgm(A, y, G, paper_csgm(steps), progress=False))
    start, settings = latent_start(G, z0), paper_iagan(steps)
    t_iagan = per_step(lambda: iagan(A, y, G, start, settings, progress=False))
    return [
        {"method": "csgm", "batch": b, "step_ms": 1e3 * t_csgm, "bare_ms": 1e3 * bare_z, "ratio": t_csgm / bare_z},
        {"method": "iagan", "batch": b, "step_ms": 1e3 * t_iagan, "bare_ms": 1e3 * bare_all,
         "ratio": t_iagan / bare_all, "per_image_bare_ms": 1e3 * bare_own, "ratio_per_image": t_iagan / bare_own},
    ]



def per_image_network_seconds(G, z0: torch.Tensor, grouped: bool, repeats: int, device: torch.device) -> float:
    """Forward and gradients (to z and every θ_i) through per-image weights, no optimiser."""
    prior = per_image_prior(G, z0)
    inputs = [p for group in prior.parameter_groups() for p in group["params"]]
    call = prior.network.call_grouped if grouped else prior.network.call_vmap
    # allow_unused: a StyleGAN2 searched in W never uses its mapping network's weights
    return median_seconds(lambda: torch.autograd.grad(call(prior.z).square().sum(), inputs, allow_unused=True),
                          repeats, device)


def iagan_batching(G, A, b: int, rng: torch.Generator, steps: int, repeats: int, device: torch.device) -> dict:
    """An ``iagan`` step at batch ``b`` against ``b`` steps at batch 1, and the network alone."""
    with torch.no_grad():
        y = A(G(G.sample_latent(b, generator=rng))) + 0.05
    z0 = G.sample_latent(b, generator=rng)
    settings, start, first = paper_iagan(steps), latent_start(G, z0), latent_start(G, z0[:1])
    batch = median_seconds(lambda: iagan(A, y, G, start, settings, progress=False), repeats, device) / steps
    single = median_seconds(lambda: iagan(A, y[:1], G, first, settings, progress=False), repeats, device) / steps
    network = {
        "grouped_ms": 1e3 * per_image_network_seconds(G, z0, True, repeats, device),
        "vmap_ms": 1e3 * per_image_network_seconds(G, z0, False, repeats, device),
        "single_x_batch_ms": 1e3 * b * per_image_network_seconds(G, z0[:1], False, repeats, device),
    }
    return {"batch": b, "step_ms": 1e3 * batch, "single_step_ms": 1e3 * single,
            "ratio": batch / (b * single), "goal": 0.5, "network": network}


KINDS = {
    "dcgan": lambda: build_dcgan(latent_dim=100, width=32),
    "began": lambda: build_began(64, latent_dim=64, width=32),
    "pggan": lambda: build_pggan(channels=(128, 128, 64, 32, 16), latent_dim=128),
    "stylegan2": lambda: build_stylegan2((128, 128, 64, 32, 16), style_dim=128, n_mlp=2),
}


def deepinv_first_pinv(shape: tuple[int, int, int], y: torch.Tensor) -> tuple[float | None, str | None]:
    """Seconds from DeepInverse's ``CompressedSensing`` constructor to its first ``A_dagger(y)``,
    at ``m = y.shape[1]`` measurements of images of ``shape``; ``(None, why)`` when DeepInverse
    does not import."""
    try:
        from deepinv.physics import CompressedSensing
    except (ImportError, RuntimeError) as error:  # RuntimeError: a torchvision built for another torch
        return None, f"{type(error).__name__}: {error}".splitlines()[0]
    t0 = time.perf_counter()
    physics = CompressedSensing(m=y.shape[1], img_size=shape, rng=torch.Generator().manual_seed(0))
    physics.A_dagger(y)
    seconds = time.perf_counter() - t0
    del physics
    return seconds, None


def gaussian_cs_first_pinv(shape: tuple[int, int, int], m: int) -> dict:
    """Construction to the first exact pseudo-inverse: invgen's, the previous full float64
    product's and DeepInverse's (``None`` when not installed)."""
    y = torch.randn(1, m, generator=torch.Generator().manual_seed(1))
    t0 = time.perf_counter()
    A = GaussianCS(shape, m)
    x = A.pinv(y)
    now = time.perf_counter() - t0
    y64 = y.double()  # the same cached factor; float64 throughout, so the residual is the solver's
    residual = ((A(A.pinv(y64)) - y64).norm() / y64.norm()).item()
    del A, x

    t0 = time.perf_counter()
    A = GaussianCS(shape, m)
    phi = A.matrix.double()
    factor = torch.linalg.cholesky(phi @ phi.T)  # what GaussianCS did before issue 13
    x_before = A.adjoint(torch.cholesky_solve(y.double().T, factor).T.float())
    before = time.perf_counter() - t0
    del A, phi, factor, x_before

    deepinv, why = deepinv_first_pinv(shape, y)
    return {"n": 3 * shape[1] * shape[2], "m": m, "first_pinv_s": now, "residual_float64": residual,
            "full_product_s": before, "speedup_vs_full_product": before / now,
            "deepinv_s": deepinv, "speedup_vs_deepinv": None if deepinv is None else deepinv / now,
            "deepinv_not_measured": why, "goal": 10.0}


def paper_loop(G, A, y: torch.Tensor, starts: torch.Tensor, budget: Budget) -> torch.Tensor:
    """The published code's structure: a face at a time, sequential restarts, weights reloaded."""
    search, adapt = budget.of("csgm"), budget.of("iagan")
    pretrained = copy.deepcopy(G.state_dict())
    net = copy.deepcopy(G).eval()
    estimates = []
    for i in range(len(y)):
        yi = y[i:i + 1]
        best_loss, best_z = float("inf"), None
        for r in range(len(starts)):
            net.load_state_dict(pretrained)
            net.requires_grad_(False)
            z = starts[r:r + 1].clone().requires_grad_()
            opt = torch.optim.Adam([z], lr=search.lr)
            for _ in range(search.steps):
                opt.zero_grad()
                loss = (yi - A(net(z))).square().sum()
                loss.backward()
                opt.step()
                last = loss.item()
            if last < best_loss:
                best_loss, best_z = last, z.detach().clone()
        net.load_state_dict(pretrained)
        net.requires_grad_(True)
        z = best_z.requires_grad_()
        opt = torch.optim.Adam([{"params": [z], "lr": adapt.lr_z},
                                {"params": list(net.parameters()), "lr": adapt.lr_theta}])
        for _ in range(adapt.steps):
            opt.zero_grad()
            loss = (yi - A(net(z))).square().sum()
            loss.backward()
            opt.step()
            loss.item()
        with torch.no_grad():
            x = net(z)
            estimates.append((x + A.pinv(yi - A(x))).clamp(0, 1))
    return torch.cat(estimates)


def csgm_batching_gain(G, A, y: torch.Tensor, restarts: int, precision: str, steps: int = 10) -> float:
    """Per-image seconds of a CSGM step at batch 1 over those at batch ``len(y)·restarts``."""

    def seconds(batch: torch.Tensor, r: int) -> float:
        csgm(A, batch, G, paper_csgm(2, r, precision), progress=False)
        t0 = time.perf_counter()
        csgm(A, batch, G, paper_csgm(steps, r, precision), progress=False)
        return time.perf_counter() - t0

    return seconds(y[:1], 1) * len(y) * restarts / seconds(y, restarts)


def end_to_end(G, A, faces: torch.Tensor, budget: Budget, precisions: list[str]) -> dict:
    """invgen's pipeline (CSGM in each of ``precisions``) against the paper's loop structure,
    same faces, starts and steps."""
    with torch.no_grad():
        y = A(faces)
    restarts, csgm_steps, iagan_steps = budget.of("csgm").restarts, budget.of("csgm").steps, budget.of("iagan").steps
    starts = G.sample_latent(restarts, generator=torch.Generator().manual_seed(0))  # csgm's seed 0
    warm_up = {"csgm.steps": 2, "iagan.steps": 2}  # one-time set-up costs out of the timing
    paper_loop(G, A, y[:1], starts, Budget.from_flat(warm_up, budget))
    t0 = time.perf_counter()
    theirs = paper_loop(G, A, y, starts, budget)
    t_theirs = time.perf_counter() - t0
    rows = []
    for precision in precisions:
        ours_budget = Budget.from_flat({"csgm.precision": precision, "iagan.precision": precision}, budget)
        reconstruct_mean(A, y[:1], ["iagan-bp"], G, budget=Budget.from_flat(warm_up, ours_budget), progress=False)
        t0 = time.perf_counter()
        ours = reconstruct_mean(A, y, ["iagan-bp"], G, budget=ours_budget, progress=False)["iagan-bp"]
        t_ours = time.perf_counter() - t0
        rows.append({"precision": precision, "invgen_s": t_ours, "speedup": t_theirs / t_ours,
                     "invgen_psnr": psnr(ours, faces).mean().item(),
                     "csgm_batching_gain": csgm_batching_gain(G, A, y, restarts, precision)})
    return {"faces": len(faces), "restarts": restarts, "csgm_steps": csgm_steps, "iagan_steps": iagan_steps,
            "paper_loop_s": t_theirs, "paper_loop_psnr": psnr(theirs, faces).mean().item(), "goal": 5.0,
            "invgen": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--restarts", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--iagan-batch", type=int, default=8)
    parser.add_argument("--cs-size", type=int, default=64,
                        help="GaussianCS on 3×N×N images, m = n/2 (N = 64: the reference of issue 13)")
    parser.add_argument("--e2e-faces", type=int, default=16)
    parser.add_argument("--e2e-restarts", type=int, default=4)
    parser.add_argument("--e2e-csgm-steps", type=int, default=160)
    parser.add_argument("--e2e-iagan-steps", type=int, default=50)
    parser.add_argument("--e2e-precision", nargs="+", default=["float32", "bfloat16"],
                        help="the generator's precision in invgen's runs (csgm_precision and iagan_precision), "
                             "one row each")
    add_data_argument(parser, "the end-to-end part reads val faces")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/solvers.json"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    load_before = os.getloadavg()

    try:
        G, weights = load_default(), "trained"
    except FileNotFoundError:
        G, weights = build_face64(latent_dim=128, width=32), "untrained"
    G = G.to(device)
    A = SuperResolution((3, 64, 64), 4).to(device)
    rng = torch.Generator().manual_seed(0)
    steps, repeats = args.steps, args.repeats
    report = {"command": "python " + " ".join(sys.argv), "device": str(device), "threads": torch.get_num_threads(),
              "generator": f"face64 ({weights})", "operator": "SuperResolution x4, 64x64 RGB", "steps": steps,
              "repeats": repeats}
    print(f"device {device} ({torch.get_num_threads()} threads), {weights} face64 generator, SR ×4, "
          f"{steps} steps, median of {repeats}")

    if "overhead" in args.parts:
        rows = [row for b in args.batches for row in overhead_rows(G, A, b, rng, steps, repeats, device)]
        with torch.no_grad():
            y1 = A(G(G.sample_latent(1, generator=rng)))
        r = args.restarts
        batched = median_seconds(lambda: csgm(A, y1, G, paper_csgm(steps, r), progress=False), repeats, device)
        sequential = median_seconds(
            lambda: [csgm(A, y1, G, paper_csgm(steps), seed=s, progress=False) for s in range(r)], repeats, device)
        print(f"{'method':<7} {'batch':>5} {'step ms':>9} {'bare ms':>9} {'step/bare':>10} "
              f"{'per-image ms':>13} {'step/per-image':>15}  (target ≤ 1.15)")
        for row in rows:
            own = (f"{row['per_image_bare_ms']:>13.2f} {row['ratio_per_image']:>15.2f}" if "ratio_per_image" in row
                   else f"{'':>13} {'':>15}")
            print(f"{row['method']:<7} {row['batch']:>5} {row['step_ms']:>9.2f} {row['bare_ms']:>9.2f} "
                  f"{row['ratio']:>10.2f} {own}")
        print(f"{r} restarts: one batch {batched:.2f} s, {r} sequential runs {sequential:.2f} s, "
              f"speed-up {sequential / batched:.2f}× (target ≥ 2)")
        report["overhead"] = rows
        report["restarts"] = {"n": r, "batched_s": batched, "sequential_s": sequential,
                              "speedup": sequential / batched}

    if "iagan" in args.parts:
        b = args.iagan_batch
        row = iagan_batching(G, A, b, rng, steps, repeats, device)
        net = row["network"]
        print(f"iagan step: batch {b} {row['step_ms']:.1f} ms, batch 1 {row['single_step_ms']:.1f} ms; "
              f"batch {b} / {b} single steps = {row['ratio']:.2f} (goal ≤ 0.5)")
        print(f"  network forward + gradients, per-image weights, batch {b}: grouped {net['grouped_ms']:.1f} ms, "
              f"vmap {net['vmap_ms']:.1f} ms, {b} single images {net['single_x_batch_ms']:.1f} ms")
        report["iagan_batching"] = row

    if "iagan-kinds" in args.parts:
        b, rows = args.iagan_batch, {}
        print(f"iagan step by kind, batch {b} / {b} single steps (goal ≤ 0.5):")
        for kind, build in KINDS.items():
            torch.manual_seed(0)
            row = iagan_batching(build().to(device), A, b, rng, steps, repeats, device)
            rows[kind] = row
            print(f"  {kind:<10} batch {b} {row['step_ms']:7.1f} ms, batch 1 {row['single_step_ms']:6.1f} ms, "
                  f"ratio {row['ratio']:.2f}; network grouped {row['network']['grouped_ms']:.1f} ms, "
                  f"vmap {row['network']['vmap_ms']:.1f} ms, {b} single {row['network']['single_x_batch_ms']:.1f} ms")
        report["iagan_batching_by_kind"] = rows

    if "gaussian-cs" in args.parts:
        side = args.cs_size
        row = gaussian_cs_first_pinv((3, side, side), 3 * side * side // 2)
        deepinv = (f"DeepInverse not measured ({row['deepinv_not_measured']})" if row["deepinv_s"] is None else
                   f"DeepInverse {row['deepinv_s']:.1f} s ({row['speedup_vs_deepinv']:.1f}×, goal ≥ 10)")
        print(f"GaussianCS n={row['n']} m={row['m']}: first exact pinv {row['first_pinv_s']:.1f} s "
              f"(residual {row['residual_float64']:.1e}); full float64 product {row['full_product_s']:.1f} s "
              f"({row['speedup_vs_full_product']:.1f}×); {deepinv}")
        report["gaussian_cs"] = row

    if "end-to-end" in args.parts:
        faces = load_celeba(args.data, "val", args.e2e_faces).to(device)
        # The paper's budget (best start, no latent penalty, its learning rates) with these counts.
        budget = Budget.from_flat({"csgm.steps": args.e2e_csgm_steps, "csgm.restarts": args.e2e_restarts,
                                   "iagan.steps": args.e2e_iagan_steps}, Budget.paper())
        row = end_to_end(G, A, faces, budget, args.e2e_precision)
        print(f"end to end, {row['faces']} faces × {row['restarts']} restarts, {row['csgm_steps']} + "
              f"{row['iagan_steps']} steps: paper loop {row['paper_loop_s']:.1f} s ({row['paper_loop_psnr']:.2f} dB)")
        for r in row["invgen"]:
            print(f"  invgen in {r['precision']}: {r['invgen_s']:.1f} s ({r['invgen_psnr']:.2f} dB), "
                  f"{r['speedup']:.1f}× (goal ≥ 5); CSGM batching gain {r['csgm_batching_gain']:.1f}×")
        report["end_to_end"] = row

    report["load_average_1min"] = {"before": load_before[0], "after": os.getloadavg()[0], "cores": os.cpu_count()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after ({os.cpu_count()} cores); "
          f"wrote {args.out}")

if __name__ == "__main__":
    main()
