"""``invgen reconstruct``: simulated or measured images through one method, estimates and scores written."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from invgen.app.arguments import UsageError, add_method_arguments, budget_from, check_fresh_output_folder
from invgen.app.arguments import nonnegative_float, positive_int
from invgen.app.device import resolve_device
from invgen.app.inputs import MIN_SIZE, Inputs, check_measured_flags, measured_inputs, output_names, simulated_inputs
from invgen.app.scoring import SCORE_HEAD, evaluate, score_line
from invgen.app.tasks import TASK_HELP, parse_task
from invgen.data import save_image
from invgen.files import write_json
from invgen.forward import ForwardModel
from invgen.generators import CheckpointMismatchError, load_generator
from invgen.generators.encoder import ENCODER_HELP, load_encoder_spec
from invgen.generators.spec import SPEC_HELP, UnknownGeneratorKind
from invgen.metrics import consistency
from invgen.solvers import METHODS, reconstruct_samples, restart_spread
from invgen.solvers.pipeline import check_methods

DESCRIPTION = ("Simulate y = A x (+ noise) from each IMAGE and reconstruct x; with --measured, each IMAGE is y "
               "itself\n(a low-resolution, blurred, damaged or noisy photo) and there is no truth to score against.\n"
               f"tasks: {TASK_HELP}")


def add_arguments(rec: argparse.ArgumentParser) -> None:
    rec.add_argument("images", nargs="+", metavar="IMAGE")
    rec.add_argument("--task", required=True, help=TASK_HELP)
    rec.add_argument("--method", required=True, choices=list(METHODS),
                     help="; ".join(f"{name}: {m.summary}" for name, m in METHODS.items()).replace("%", "%%"))
    rec.add_argument("--bp", action="store_true", help="back-project the estimate onto {x : Ax = y} (methods: "
                     f"{', '.join(name for name, m in METHODS.items() if m.back_projectable)})")
    rec.add_argument("--noise", type=nonnegative_float, default=0.0, metavar="SIGMA",
                     help="std of Gaussian noise added to y (images in [0, 1]); with --measured, the noise level "
                          "of your images (none is added)")
    rec.add_argument("--measured", action="store_true",
                     help="each IMAGE is a measurement y (srF: the low-resolution image, the estimate is F× larger; "
                          "blur, inpaint, denoise: the photo); writes the estimate, A x̂ and ‖A x̂ − y‖/‖y‖")
    rec.add_argument("--mask", metavar="MASK.png",
                     help="inpaint: your mask, white = known, black = missing; with --measured the photo's holes, "
                          "otherwise the pixels each image keeps in the simulated y (the mask has the images' size: "
                          "the generator's, or --size)")
    rec.add_argument("--kernel", metavar="K.npy|K.png",
                     help="blur: your blur kernel (2-D, ≥ 0), normalised to sum 1; centre tap at (kh//2, kw//2)")
    rec.add_argument("--resize", action="store_true",
                     help="resize images that do not fit the generator (and, --measured, the mask) instead of "
                          "refusing them; without it a simulated input smaller than the generator is refused")
    rec.add_argument("--generator", default="default", help=SPEC_HELP)
    rec.add_argument("--encoder", default="none", help=ENCODER_HELP)
    add_method_arguments(rec)
    rec.add_argument("--size", type=positive_int, default=64,
                     help=f"image size for methods without a generator (≥ {MIN_SIZE}; simulated inputs)")
    rec.add_argument("--out", default="invgen-out", help="folder for the results (must be empty, or --overwrite)")
    rec.add_argument("--overwrite", action="store_true", help="replace files of an earlier run in --out")


def generator_flag(spec: str, device: torch.device):
    """The generator of ``--generator spec`` on ``device``; :class:`UsageError` naming the flag."""
    try:
        return load_generator(spec).to(device)
    except (FileNotFoundError, CheckpointMismatchError, UnknownGeneratorKind) as err:
        raise UsageError(f"--generator {spec}: {str(err).splitlines()[0]}") from None


def encoder_flag(spec: str, generator_spec: str, G, device: torch.device):
    """The encoder of ``--encoder`` for the generator ``G``, on ``device`` (``None`` for 'none')."""
    try:
        encoder = load_encoder_spec(spec)
    except (FileNotFoundError, CheckpointMismatchError) as err:
        raise UsageError(f"--encoder {spec}: {str(err).splitlines()[0]}") from None
    if encoder is not None and encoder.latent_dim != G.latent_dim:
        raise UsageError(f"--encoder {spec} makes latents of size {encoder.latent_dim}, but --generator "
                         f"{generator_spec} takes {G.latent_dim}: pass the encoder trained with that generator, "
                         "or --encoder none")
    return None if encoder is None else encoder.to(device)


def check_reconstruct(args: argparse.Namespace) -> tuple[str, Path]:
    """Every check of ``invgen reconstruct`` that needs no image or generator: the method,
    the task and their pairing, the image size, and ``--out``. Returns the method name
    (with ``-bp``) and the output folder; :class:`UsageError` otherwise."""
    method = args.method + ("-bp" if args.bp else "")
    if args.bp and not METHODS[args.method].back_projectable:
        raise UsageError(f"--bp does not apply to {args.method}; back-projectable methods: "
                         f"{', '.join(name for name, m in METHODS.items() if m.back_projectable)}")
    try:
        kind, _ = parse_task(args.task)
    except ValueError as err:
        raise UsageError(f"--task: {err}") from None
    if args.method == "bicubic" and kind != "sr":
        raise UsageError(f"--method bicubic upsamples a low-resolution image: it needs a super-resolution "
                         f"task (srF, e.g. sr4), got --task {args.task}")
    if args.size < MIN_SIZE:
        raise UsageError(f"--size must be ≥ {MIN_SIZE} (SSIM's window), got {args.size}")
    check_measured_flags(args, kind)
    return method, check_fresh_output_folder(args.out, args.overwrite)


def cmd_reconstruct(args: argparse.Namespace) -> None:
    method, out = check_reconstruct(args)
    device = resolve_device(args.device)
    G = generator_flag(args.generator, device) if METHODS[args.method].needs_generator else None
    names = output_names(args.images)
    inputs: Inputs = (measured_inputs if args.measured else simulated_inputs)(args, names, G)
    A = inputs.A.to(device)
    model = ForwardModel(A, sigma=args.noise)  # with --measured, the noise is already in y
    images = inputs.batch(args.images, device)
    y = images if args.measured else model.measure(images, torch.Generator().manual_seed(args.seed))
    budget = budget_from(args)
    try:
        check_methods(A, [method], budget, G)
    except ValueError as err:
        raise UsageError(f"--method {args.method}: {err}") from None
    t0 = time.time()
    encoder = encoder_flag(args.encoder, args.generator, G, device) if G is not None else None
    samples = reconstruct_samples(model, y, [method], G, encoder=encoder, budget=budget, seed=args.seed,
                                  progress=not args.quiet)[method].x
    seconds = time.time() - t0
    estimates = {method: samples.mean(1)}
    spreads = [write_spread(s, out / f"{name}_{method}_restart_spread.png") for s, name in zip(samples, names)]
    run = {"task": args.task, "method": method, "noise_std": args.noise, "budget": budget.flat(), "seconds": seconds}
    if args.measured:
        write_measured(args, names, A, y, estimates[method], method, inputs.boundary, out, run, spreads)
        return
    truth = images
    viz = y if len(A.out_shape) == 3 else A.pinv(y)
    per_image = {}
    for i, (path, name) in enumerate(zip(args.images, names)):
        save_image(truth[i], out / f"{name}_truth.png")
        save_image(viz[i], out / f"{name}_measurement.png")
        save_image(estimates[method][i], out / f"{name}_{method}.png")
        per_image[name] = {"source": str(path), **evaluate({method: estimates[method][i : i + 1]},
                                                           truth[i : i + 1])[method], **spreads[i]}
    write_json(out / "metrics.json", {**run, "images": per_image})
    print(f"\n{args.task}, {method} (PSNR/SSIM/ST-LPIPS against the input image), {seconds:.1f} s")
    print(f"{'image':<16} {SCORE_HEAD}")
    for name, m in per_image.items():
        print(score_line(name, m))
    maps = (f", restart spread maps (*_{method}_restart_spread.png: where its {samples.shape[1]} starts disagree, "
            "a lower bound on the uncertainty)" if spreads[0] else "")
    print(f"\nwrote estimates{maps}, measurement visualisations and metrics.json to {out}/")


def write_spread(samples: torch.Tensor, path: Path) -> dict:
    """For ``K > 1`` estimates ``(K, C, H, W)`` of one image (the restarts that were averaged):
    their :func:`~invgen.solvers.restart_spread`, written to ``path`` as a grey image scaled to
    its largest value (white: where the restarts disagree most; a lower bound on the
    uncertainty, not an error bar); returns that value and the mean, ``{}`` for one estimate."""
    if len(samples) < 2:
        return {}
    spread = restart_spread(samples[None])
    top = spread.max().item()
    save_image(spread / top if top > 0 else spread, path)
    return {"restart_spread_max": top, "restart_spread_mean": spread.mean().item(), "restart_spread_image": path.name}


def write_measured(args: argparse.Namespace, names: list[str], A, y: torch.Tensor, x_hat: torch.Tensor, method: str,
                   boundary: str, out: Path, run: dict, spreads: list[dict]) -> None:
    """With no truth to score against: each estimate, the measurement y and the re-measured
    estimate A x̂ beside it, and the consistency ‖A x̂ − y‖/‖y‖ in metrics.json."""
    remeasured = A(x_hat)
    score = consistency(A, x_hat, y)
    per_image = {}
    for i, (path, name) in enumerate(zip(args.images, names)):
        save_image(y[i], out / f"{name}_measured.png")
        save_image(remeasured[i], out / f"{name}_{method}_remeasured.png")
        save_image(x_hat[i], out / f"{name}_{method}.png")
        per_image[name] = {"source": str(path), "consistency": score[i].item(),
                           "measured_size": list(y.shape[-2:]), "estimate_size": list(x_hat.shape[-2:]),
                           **spreads[i]}
    write_json(out / "metrics.json", {**run, "measured": True, "boundary": boundary, "mask": args.mask,
                                      "kernel": args.kernel, "images": per_image})
    print(f"\n{args.task}, {method} on measured images (no truth: consistency ‖A x̂ − y‖/‖y‖), "
          f"{run['seconds']:.1f} s")
    print(f"{'image':<16} {'size':>9} {'consistency':>12}")
    for name, m in per_image.items():
        size = "×".join(str(s) for s in reversed(m["estimate_size"]))
        print(f"{name:<16} {size:>9} {m['consistency']:>12.4f}")
    print(f"\nwrote estimates, measured and re-measured images (NAME_measured.png, NAME_{method}_remeasured.png) "
          f"and metrics.json to {out}/")
