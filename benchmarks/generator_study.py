"""Generator study: which trained generator (and which solver settings) IAGAN should ship with.

For each generator, on the *tuning* faces — the last ``--n-images`` faces of the CelebA val
split, which no experiment reports and no generator sees — it measures

- **range**: PSNR of the best CSGM projection of the true face (A = I), and the *oracle*
  latent it finds;
- for every task (SR ×4 and ×8 by default): bicubic; ``oracle-bp``, the oracle point
  back-projected onto y (what the range holds); ``csgm-bp`` and ``iagan-bp`` from the best
  of ``K`` CSGM starts (the paper's pipeline); ``csgm-avg`` and ``iagan-avg``, the mean of
  the ``K`` back-projected estimates (:meth:`invgen.solvers.Estimates.mean`);
- with ``--encoder``, also ``encoder-bp`` (the encoder's guess ``G(E(A⁺y))``, back-projected)
  and every CSGM/IAGAN row again with start 0 of each face from the encoder (``[enc]``);
- beside PSNR, the perceptual distance ST-LPIPS (:func:`invgen.metrics.st_lpips`, lower is
  closer) and **sharpness**: the high-frequency energy of an estimate relative to the
  truth's, ``‖x̂ − blur(x̂)‖² / ‖x − blur(x)‖²`` (1 = as detailed as the truth, < 1 blurrier),
  so that a generator winning PSNR by turning blurry shows it.

It prints one table per generator, writes JSON and an image grid per generator (samples
at fixed latents, and the SR ×4 estimates of the first faces).

    python benchmarks/generator_study.py --generator default runs/study/recon12.pt --n-images 8
"""
from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import torch

from invgen.app.celeba import CELEBA_CROP, add_data_argument, celeba_paths
from invgen.app.tasks import make_operator
from invgen.data import read_image, save_grid
from invgen.generators import SPEC_HELP, load_generator
from invgen.generators.encoder import load_encoder
from invgen.metrics import psnr, st_lpips
from invgen.operators import Blur, Identity, LinearOperator
from invgen.solvers import (CSGMSettings, Estimates, IAGANSettings, back_project, bicubic_upsample, csgm,
                            encoder_starts, iagan)


def tuning_faces(root: str, n: int) -> torch.Tensor:
    """The last ``n`` faces of the val split, ``(n, 3, 64, 64)``."""
    return torch.stack([read_image(p, crop=CELEBA_CROP) for p in celeba_paths(root, "val")[-n:]])


def sharpness(estimate: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Per image ``‖x̂ − blur(x̂)‖² / ‖x − blur(x)‖²`` with a Gaussian blur of σ = 1 px."""
    blur = Blur.gaussian(tuple(truth.shape[1:]), 1.0)

    def detail(x: torch.Tensor) -> torch.Tensor:
        return (x - blur(x)).flatten(1).square().sum(1)

    return detail(estimate) / detail(truth)


def clipped_bp(A: LinearOperator, y: torch.Tensor, estimates: Estimates) -> Estimates:
    """Each of the estimates back-projected onto ``y`` and clipped to [0, 1]."""
    return Estimates(estimates.back_project(A, y).x.clamp(0, 1))


def paper_pick(estimates: Estimates, start: Estimates) -> torch.Tensor:
    """Each image's estimate from the CSGM start with the smallest objective (the paper's pick),
    ``(B, C, H, W)``: ``estimates`` continue ``start``'s ``K`` starts."""
    return Estimates(estimates.x, start.objective).best().x[:, 0]


def evaluate(G, encoder, faces: torch.Tensor, args) -> tuple[list[dict], dict[str, torch.Tensor]]:
    k = args.starts
    rows: list[dict] = []
    shown: dict[str, torch.Tensor] = {}

    def record(task: str, method: str, x: torch.Tensor, seconds: float = float("nan")) -> None:
        rows.append({"task": task, "method": method, "psnr": psnr(x, faces).mean().item(),
                     "psnr_per_image": psnr(x, faces).tolist(), "st_lpips": st_lpips(x, faces).mean().item(),
                     "sharpness": sharpness(x, faces).mean().item(), "seconds": seconds})

    t0 = time.time()
    projection = csgm(Identity(tuple(faces.shape[1:])), faces, G,
                      CSGMSettings(steps=args.range_steps, lr=0.1, restarts=args.range_restarts, average=False,
                                   latent_weight=0.0), seed=args.seed, progress=False)
    oracle_x, oracle_z = projection.x[:, 0], projection.z[:, 0]
    record("range", "projection", oracle_x.clamp(0, 1), time.time() - t0)

    for task in args.tasks:
        A = make_operator(task, tuple(faces.shape[1:]))
        y = A(faces)
        record(task, "bicubic", bicubic_upsample(A, y))
        record(task, "oracle-bp", back_project(A, y, G(oracle_z).detach()).clamp(0, 1))
        starts = {"": None}
        if encoder is not None:
            z_enc = encoder_starts(encoder, A, y, G, k, args.seed)
            starts["enc"] = z_enc
            record(task, "encoder-bp", back_project(A, y, G(z_enc[:, 0]).detach()).clamp(0, 1))
        for (label, z_init), weight in itertools.product(starts.items(), args.latent_weight):
            tag = "".join([f"[{label}]" if label else "", f"@lw={weight:g}" if len(args.latent_weight) > 1 else ""])
            t0 = time.time()
            csgm_steps = args.enc_csgm_steps if label == "enc" and args.enc_csgm_steps else args.csgm_steps
            start = csgm(A, y, G, CSGMSettings(steps=csgm_steps, lr=0.1, restarts=k, latent_weight=weight),
                         z_init=z_init, seed=args.seed, progress=False)
            t_csgm = time.time() - t0
            csgm_bp = clipped_bp(A, y, start)
            record(task, f"csgm-bp{tag}", paper_pick(csgm_bp, start), t_csgm)
            record(task, f"csgm-avg{tag}", csgm_bp.mean(), t_csgm)
            for steps in args.iagan_steps:
                t0 = time.time()
                adapted = iagan(A, y, G, start, IAGANSettings(steps=steps, lr_theta=args.lr_theta, holdout=0.0),
                                progress=False)
                t_iagan = t_csgm + time.time() - t0
                iagan_bp = clipped_bp(A, y, adapted)
                record(task, f"iagan-bp{tag}@{steps}", paper_pick(iagan_bp, start), t_iagan)
                mean = iagan_bp.mean()
                record(task, f"iagan-avg{tag}@{steps}", mean, t_iagan)
                if task == args.tasks[0]:
                    shown[f"{task} iagan-avg{tag}@{steps}"] = mean
        print(f"  {task} done", flush=True)
    return rows, shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(parser, "the tuning faces, the last of the val split")
    parser.add_argument("--generator", nargs="+", default=["default"], help=SPEC_HELP)
    parser.add_argument("--encoder", nargs="+", default=None,
                        help="an encoder file (invgen train --recipe encoder) per generator, or 'none'")
    parser.add_argument("--tasks", nargs="+", default=["sr4", "sr8"])
    parser.add_argument("--n-images", type=int, default=8, help="the last N faces of the val split")
    parser.add_argument("--starts", type=int, default=4, help="K CSGM starts per face")
    parser.add_argument("--csgm-steps", type=int, default=1000)
    parser.add_argument("--enc-csgm-steps", type=int, default=None,
                        help="CSGM steps from the encoder's starts (default: --csgm-steps)")
    parser.add_argument("--latent-weight", type=float, nargs="+", default=[0.0])
    parser.add_argument("--iagan-steps", type=int, nargs="+", default=[100])
    parser.add_argument("--lr-theta", type=float, default=1e-4)
    parser.add_argument("--range-steps", type=int, default=1000)
    parser.add_argument("--range-restarts", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/generator_study")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    faces = tuning_faces(args.data, args.n_images)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    encoders = args.encoder or ["none"] * len(args.generator)
    if len(encoders) != len(args.generator):
        parser.error("--encoder takes one file (or 'none') per --generator")
    for spec, encoder_path in zip(args.generator, encoders):
        print(f"{spec}: {len(faces)} tuning faces", flush=True)
        G = load_generator(spec)
        encoder = None if encoder_path == "none" else load_encoder(encoder_path)
        rows, shown = evaluate(G, encoder, faces, args)
        name = Path(spec).stem if spec != "default" else "default"
        print(f"\n{spec} (tuning faces: last {len(faces)} of val; K = {args.starts} starts; PSNR dB)")
        print(f"{'task':<6} {'method':<28} {'PSNR':>7} {'ST-LPIPS':>9} {'sharpness':>10} {'time s':>7}")
        for r in rows:
            print(f"{r['task']:<6} {r['method']:<28} {r['psnr']:>7.2f} {r['st_lpips']:>9.3f} {r['sharpness']:>10.2f} "
                  f"{r['seconds']:>7.0f}")
        (out / f"{name}.json").write_text(json.dumps({"generator": spec, "encoder": encoder_path, "config": vars(args), "results": rows},
                                                     indent=2))
        with torch.no_grad():
            samples = G(G.sample_latent(16, generator=torch.Generator().manual_seed(0)))
        save_grid(torch.cat([samples, faces[:8], *[x[:8] for x in shown.values()]]).clamp(0, 1),
                  out / f"{name}.png", nrow=8)
        print(f"wrote {out / name}.json and .png", flush=True)


if __name__ == "__main__":
    main()
