"""The ``invgen`` command: demo, reconstruct, train, bench."""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from invgen.app.arguments import (
    Parser,
    UsageError,
    add_method_arguments,
    budget_from,
    check_fresh_output_folder,
    nonnegative_float,
    positive_int,
    random_seed,
)
from invgen.app.device import DeviceUnavailableError, add_device_argument, resolve_device
from invgen.files import write_json
from invgen.forward import ForwardModel
from invgen.generators import CheckpointMismatchError
from invgen.generators.encoder import ENCODER_HELP, load_encoder_spec
from invgen.generators.spec import SPEC_HELP, UnknownGeneratorKind
from invgen.solvers import METHODS, Budget, reconstruct, reconstruct_samples, restart_spread
from invgen.solvers.pipeline import check_methods

# What the library raises for a user's mistake: printed like a UsageError, one line, exit code 2.
if TYPE_CHECKING:
    from invgen.operators import LinearOperator

USER_ERRORS = (FileNotFoundError, CheckpointMismatchError, DeviceUnavailableError, UnknownGeneratorKind)
# The smallest image every metric takes (SSIM's 11×11 window).
MIN_SIZE = 11

EXAMPLES = """\
examples:
  invgen demo                                   # SR ×4 of a built-in face, all methods, < 1 min
  invgen reconstruct face.png --task sr4 --method iagan --bp --out results/
  invgen reconstruct a.png b.png --task cs:0.1 --method csgm --csgm-restarts 8 --noise 0.02
  invgen train --data celeba/img_align_celeba_89x109 --epochs 40   # or set INVGEN_DATA once
  invgen bench super-resolution --n-images 32
"""


def _generator(spec: str, device: torch.device):
    from invgen.generators import load_generator

    try:
        return load_generator(spec).to(device)
    except (FileNotFoundError, CheckpointMismatchError, UnknownGeneratorKind) as err:
        raise UsageError(f"--generator {spec}: {str(err).splitlines()[0]}") from None


def _encoder(spec: str, generator_spec: str, G, device: torch.device):
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


def _evaluate(estimates: dict[str, torch.Tensor], truth: torch.Tensor) -> dict[str, dict[str, float | None]]:
    """Mean PSNR, SSIM and ST-LPIPS (lower is closer; ``None`` for an image too small for it)
    of each estimate against ``truth``."""
    from invgen.metrics import psnr, ssim, st_lpips
    from invgen.metrics.shift_tolerant import MIN_SIZE as PERCEPTUAL_MIN

    perceptual = truth.shape[1] == 3 and min(truth.shape[-2:]) >= PERCEPTUAL_MIN["alex"]
    return {name: {"psnr": psnr(x, truth).mean().item(), "ssim": ssim(x, truth).mean().item(),
                   "st_lpips": st_lpips(x, truth).mean().item() if perceptual else None}
            for name, x in estimates.items()}


def _score_line(label: str, m: dict) -> str:
    """One row of a PSNR / SSIM / ST-LPIPS table."""
    perceptual = "     —" if m["st_lpips"] is None else f"{m['st_lpips']:>8.3f}"
    return f"{label:<16} {m['psnr']:>8.2f} {m['ssim']:>6.3f} {perceptual}"


SCORE_HEAD = f"{'PSNR dB':>8} {'SSIM':>6} {'ST-LPIPS↓':>8}"


# --------------------------------------------------------------------------- demo
# invgen's defaults with fewer CSGM and DIP steps, to stay within a minute on two cores.
DEMO_CHANGES = {"csgm.steps": 300, "dip.steps": 400}


def cmd_demo(args: argparse.Namespace) -> None:
    from invgen.app.tasks import make_operator
    from invgen.data import read_image, save_panel

    out = check_fresh_output_folder(args.out, args.overwrite)
    device = resolve_device(args.device)
    torch.manual_seed(args.seed)
    G = _generator("default", device)
    with resources.as_file(resources.files("invgen") / "assets" / "astronaut_face_64.png") as path:
        truth = read_image(path).unsqueeze(0).to(device)
    A = make_operator("sr4", tuple(truth.shape[1:])).to(device)
    y = A(truth)
    budget = Budget.from_flat(DEMO_CHANGES)
    print("invgen demo: super-resolution ×4 of a 64×64 face (NASA astronaut portrait, public domain)")
    print(f"invgen's budget with fewer CSGM and DIP steps for a quick demo: {DEMO_CHANGES}")
    methods = ["bicubic", "csgm", "csgm-bp", "iagan", "iagan-bp", "dip"]
    t0 = time.time()
    estimates = reconstruct(A, y, methods, G, budget=budget, seed=args.seed, progress=not args.quiet)
    total = time.time() - t0
    metrics = _evaluate(estimates, truth)
    out.mkdir(parents=True, exist_ok=True)
    panels = {"truth": truth[0], "input (x4 down)": y[0], **{k: v[0] for k, v in estimates.items()}}
    captions = {k: f"{m['psnr']:.1f} dB, ST {m['st_lpips']:.3f}" for k, m in metrics.items()}
    save_panel(panels, out / "demo.png", captions=captions)
    write_json(out / "metrics.json", {"task": "sr4", "budget": budget.flat(), "seconds": total, "metrics": metrics})
    print(f"\nSR ×4, {total:.0f} s in all")
    print(f"{'method':<16} {SCORE_HEAD}")
    for name, m in metrics.items():
        print(_score_line(name, m))
    winner = max(metrics, key=lambda name: metrics[name]["psnr"])
    closest = min(metrics, key=lambda name: metrics[name]["st_lpips"])
    print(f"best PSNR: {winner}, {metrics[winner]['psnr'] - metrics['bicubic']['psnr']:+.2f} dB over bicubic; "
          f"perceptually closest (ST-LPIPS, lower is closer): {closest}, {metrics[closest]['st_lpips']:.3f}")
    print(f"\nwrote {out / 'demo.png'} and {out / 'metrics.json'}")


# --------------------------------------------------------------------------- reconstruct
def output_names(paths: list[str]) -> list[str]:
    """A distinct output name per input image: its stem, or ``stem-K`` (the K-th input with
    that stem) when several inputs share one (``a/face.png``, ``b/face.jpg``)."""
    stems = [Path(p).stem for p in paths]
    repeated, seen = Counter(stems), Counter()
    names = []
    for stem in stems:
        seen[stem] += 1
        names.append(stem if repeated[stem] == 1 else f"{stem}-{seen[stem]}")
    return names


def check_reconstruct(args: argparse.Namespace) -> tuple[str, Path]:
    """Every check of ``invgen reconstruct`` that needs no image or generator: the method,
    the task and their pairing, the image size, and ``--out``. Returns the method name
    (with ``-bp``) and the output folder; :class:`UsageError` otherwise."""
    from invgen.app.tasks import parse_task

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


def check_measured_flags(args: argparse.Namespace, kind: str) -> None:
    """The flags of measured inputs fit the task: ``--mask`` only for inpainting (a measured
    photo's, or the operator of a simulated one), ``--kernel`` only for ``blur`` (no
    ``:SIGMA``) and only with ``--measured``; a measured inpainting needs its mask, a
    measured denoising its noise level."""
    from invgen.app.tasks import MEASURABLE

    if args.mask is not None and kind != "inpaint":
        raise UsageError(f"--mask marks the known pixels of --task inpaint, not of --task {args.task}")
    if args.kernel is not None and (kind != "blur" or ":" in args.task):
        raise UsageError(f"--kernel is the blur of --task blur (without :SIGMA), not of --task {args.task}")
    if not args.measured:
        if args.kernel is not None:
            raise UsageError("--kernel applies to --measured images (simulated experiments use the task's own "
                             "operator and are resized to the generator's size)")
        return
    if kind not in MEASURABLE:
        raise UsageError(f"--measured takes an image y of --task srF, blur, inpaint or denoise; --task {args.task} "
                         "measures vectors, not images")
    if kind == "inpaint" and args.mask is None:
        raise UsageError("--task inpaint with --measured needs --mask MASK.png, your mask (white = known)")
    if kind == "denoise" and args.noise == 0:
        raise UsageError("--task denoise with --measured needs --noise SIGMA, the noise level of your image "
                         "(in [0, 1] units, e.g. 0.05)")


def measured_inputs(args: argparse.Namespace, names: list[str], G) -> tuple[torch.Tensor, LinearOperator, str]:
    """The measured images ``y`` (B, 3, h, w) of ``args.images``, their operator ``A`` and its
    boundary. With a generator ``y`` must measure the generator's size (or ``--resize``);
    otherwise the estimate has the size ``y`` measures. :class:`UsageError` naming the
    file or flag otherwise."""
    from invgen.app.tasks import image_shape, make_operator, parse_task
    from invgen.data import decode_image, read_kernel

    kind, factor = parse_task(args.task)
    factor = int(factor) if kind == "sr" else 1
    expected = None
    if G is not None:
        side = G.image_shape()[-1]
        if side % factor:
            raise UsageError(f"--task {args.task}: the generator's {side}×{side} images are not a multiple of {factor}")
        expected = side // factor
    images, given = [], []  # given: each image's size on disk, (h, w)
    for path, name in zip(args.images, names):
        try:
            image, notes = decode_image(path)
            given.append(tuple(image.shape[1:]))
            if expected is not None and tuple(image.shape[1:]) != (expected, expected):
                if not args.resize:
                    raise UsageError(
                        f"{path} is {image.shape[2]}×{image.shape[1]}; --task {args.task} with the generator's "
                        f"{expected * factor}×{expected * factor} images expects a {expected}×{expected} measured "
                        "image (pass --resize to resize it, or use a method without a generator: pinv, dip"
                        f"{', bicubic' if kind == 'sr' else ''})")
                image, notes = decode_image(path, size=expected)
        except (FileNotFoundError, ValueError) as err:
            raise UsageError(str(err)) from None
        if notes or name != Path(path).stem:
            print(f"{path}{f' (written as {name})' if name != Path(path).stem else ''}: {'; '.join(notes) or 'as is'}")
        images.append(image)
    sizes = {tuple(im.shape[1:]) for im in images}
    if len(sizes) > 1:
        listed = ", ".join(f"{p} {im.shape[2]}×{im.shape[1]}" for p, im in zip(args.images, images))
        raise UsageError(f"--measured images must share one size to run as a batch: {listed}")
    y = torch.stack(images)
    mask = kernel = None
    if args.mask is not None:
        mask = read_mask_flag(args.mask)
        for path, (h, w) in zip(args.images, given):
            if tuple(mask.shape) != (h, w):
                raise UsageError(f"--mask {args.mask} is {mask.shape[1]}×{mask.shape[0]} but {path} is {w}×{h}: "
                                 "the mask marks the pixels of the measured image")
        if tuple(mask.shape) != tuple(y.shape[-2:]):  # --resize resized the images: the same crop, then nearest
            (h, w), side = mask.shape, min(mask.shape)
            top, left = (h - side) // 2, (w - side) // 2
            mask = torch.nn.functional.interpolate(mask[None, None, top : top + side, left : left + side],
                                                   size=tuple(y.shape[-2:]), mode="nearest")[0, 0]
            print(f"--mask {args.mask}: cropped and resized like the images, to {y.shape[-1]}×{y.shape[-2]}")
    if args.kernel is not None:
        try:
            kernel = read_kernel(args.kernel)
        except (FileNotFoundError, ValueError) as err:
            raise UsageError(f"--kernel: {err}") from None
    # A photograph does not wrap around at its borders; simulated experiments keep circular.
    boundary = "reflect" if kind in ("sr", "blur") else "circular"
    try:
        A = make_operator(args.task, image_shape(args.task, tuple(y.shape[1:])), seed=args.seed,
                          boundary=boundary, mask=mask, kernel=kernel)
    except ValueError as err:
        raise UsageError(f"{'--kernel' if kernel is not None else '--task'}: {err}") from None
    if kind in ("sr", "blur"):
        print(f"measured photographs: {'super-resolution' if kind == 'sr' else 'blur'} with reflecting borders "
              "(boundary='reflect'; simulated experiments use circular)")
    return (A(y) if kind == "inpaint" else y), A, boundary  # a damaged photo's holes are unknown


def read_mask_flag(path: str) -> torch.Tensor:
    """The ``--mask`` file as :func:`~invgen.data.read_mask` reads it, ``(H, W)``, 1 = known;
    :class:`UsageError` naming ``--mask`` when it cannot."""
    from invgen.data import read_mask

    try:
        return read_mask(path)
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(f"--mask: {err}") from None


def simulated_mask(args: argparse.Namespace, side: int, G) -> torch.Tensor | None:
    """``--mask`` of a simulated inpainting (``None`` without it): the operator that simulates
    ``y = m ⊙ x`` from the clean ``side × side`` images, so it must have their size (the
    generator's, or ``--size``); :class:`UsageError` naming ``--mask`` and both sizes otherwise."""
    if args.mask is None:
        return None
    mask = read_mask_flag(args.mask)
    if tuple(mask.shape) != (side, side):
        source = "the generator's size" if G is not None else "--size"
        raise UsageError(f"--mask {args.mask} is {mask.shape[1]}×{mask.shape[0]} but the images are simulated at "
                         f"{side}×{side} ({source}): the mask must have the size of the image it masks")
    return mask


def cmd_reconstruct(args: argparse.Namespace) -> None:
    from invgen.app.tasks import make_operator
    from invgen.data import decode_image, save_image

    method, out = check_reconstruct(args)
    device = resolve_device(args.device)
    G = _generator(args.generator, device) if METHODS[args.method].needs_generator else None
    size = G.image_shape()[-1] if G is not None else args.size
    names = output_names(args.images)
    if args.measured:
        y, A, boundary = measured_inputs(args, names, G)
        y, A = y.to(device), A.to(device)
    else:
        images = []
        for path, name in zip(args.images, names):
            try:
                image, notes = decode_image(path, size=size, upscale=args.resize)
            except (FileNotFoundError, ValueError) as err:
                hint = ("; a measurement simulated from an upscaled image would score the upscaling — pass a larger "
                        "image, --resize to upscale it anyway, or --measured if it is the low-resolution y itself"
                        if "smaller than" in str(err) else "")
                raise UsageError(f"{err}{hint}") from None
            images.append(image)
            if notes or name != Path(path).stem:
                print(f"{path}{f' (written as {name})' if name != Path(path).stem else ''}: "
                      f"{'; '.join(notes) or 'as is'}")
        truth = torch.stack(images).to(device)
        mask = simulated_mask(args, size, G)
        try:
            A = make_operator(args.task, tuple(truth.shape[1:]), seed=args.seed, mask=mask).to(device)
        except ValueError as err:
            raise UsageError(f"--task: {err}") from None
    model = ForwardModel(A, sigma=args.noise)  # with --measured, the noise is already in y
    if not args.measured:
        y = model.measure(truth, torch.Generator().manual_seed(args.seed))
    budget = budget_from(args)
    try:
        check_methods(A, [method], budget, G)
    except ValueError as err:
        raise UsageError(f"--method {args.method}: {err}") from None
    t0 = time.time()
    encoder = _encoder(args.encoder, args.generator, G, device) if G is not None else None
    samples = reconstruct_samples(model, y, [method], G, encoder=encoder, budget=budget, seed=args.seed,
                                  progress=not args.quiet)[method].x
    seconds = time.time() - t0
    estimates = {method: samples.mean(1)}
    spreads = [write_spread(s, out / f"{name}_{method}_restart_spread.png") for s, name in zip(samples, names)]
    if args.measured:
        write_measured(args, names, A, y, estimates[method], method, boundary, out,
                       {"task": args.task, "method": method, "noise_std": args.noise, "budget": budget.flat(),
                        "seconds": seconds}, spreads)
        return
    viz = y if len(A.out_shape) == 3 else A.pinv(y)
    per_image = {}
    for i, (path, name) in enumerate(zip(args.images, names)):
        save_image(truth[i], out / f"{name}_truth.png")
        save_image(viz[i], out / f"{name}_measurement.png")
        save_image(estimates[method][i], out / f"{name}_{method}.png")
        per_image[name] = {"source": str(path), **_evaluate({method: estimates[method][i : i + 1]},
                                                            truth[i : i + 1])[method], **spreads[i]}
    write_json(out / "metrics.json", {"task": args.task, "method": method, "noise_std": args.noise,
                                      "budget": budget.flat(), "seconds": seconds, "images": per_image})
    print(f"\n{args.task}, {method} (PSNR/SSIM/ST-LPIPS against the input image), {seconds:.1f} s")
    print(f"{'image':<16} {SCORE_HEAD}")
    for name, m in per_image.items():
        print(_score_line(name, m))
    maps = (f", restart spread maps (*_{method}_restart_spread.png: where its {samples.shape[1]} starts disagree, "
            "a lower bound on the uncertainty)" if spreads[0] else "")
    print(f"\nwrote estimates{maps}, measurement visualisations and metrics.json to {out}/")


def write_spread(samples: torch.Tensor, path: Path) -> dict:
    """For ``K > 1`` estimates ``(K, C, H, W)`` of one image (the restarts that were averaged):
    their :func:`~invgen.solvers.restart_spread`, written to ``path`` as a grey image scaled to
    its largest value (white: where the restarts disagree most; a lower bound on the
    uncertainty, not an error bar); returns that value and the mean, ``{}`` for one estimate."""
    from invgen.data import save_image

    if len(samples) < 2:
        return {}
    spread = restart_spread(samples[None])
    top = spread.max().item()
    save_image(spread / top if top > 0 else spread, path)
    return {"restart_spread_max": top, "restart_spread_mean": spread.mean().item(), "restart_spread_image": path.name}


def write_measured(args: argparse.Namespace, names: list[str], A: LinearOperator, y: torch.Tensor,
                   x_hat: torch.Tensor, method: str, boundary: str, out: Path, run: dict,
                   spreads: list[dict]) -> None:
    """With no truth to score against: each estimate, the measurement y and the re-measured
    estimate A x̂ beside it, and the consistency ‖A x̂ − y‖/‖y‖ in metrics.json."""
    from invgen.data import save_image
    from invgen.metrics import consistency

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


# --------------------------------------------------------------------------- train / bench
def cmd_train(args: argparse.Namespace) -> None:
    from invgen.app.training import run

    run(args)


def cmd_bench(args: argparse.Namespace, rest: list[str]) -> None:
    from invgen.app.experiments import EXPERIMENTS

    if args.experiment is None:
        if rest[:1] in (["-h"], ["--help"]):
            args.bench_parser.print_help()
            return
        raise UsageError(f"name an experiment: {', '.join(sorted(EXPERIMENTS))} (invgen bench NAME --help "
                         "for its options)")
    EXPERIMENTS[args.experiment](rest)


def build_parser() -> argparse.ArgumentParser:
    from invgen.app.experiments import EXPERIMENTS
    from invgen.app.tasks import TASK_HELP
    from invgen.app.training import build_parser as build_train_parser

    parser = Parser(
        prog="invgen", description="Imaging inverse problems with generative priors (CSGM, IAGAN, BP, DIP).",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        add_device_argument(p)
        p.add_argument("--seed", type=random_seed, default=0, help="seeds latents, noise and random operators")
        p.add_argument("--quiet", action="store_true",
                       help="no progress (a bar on a terminal, a log line every 10 s otherwise)")

    demo = sub.add_parser("demo", help="SR ×4 of a built-in face with every method; writes a PNG panel + JSON")
    demo.add_argument("--out", default="invgen-demo", help="folder for the results (must be empty, or --overwrite)")
    demo.add_argument("--overwrite", action="store_true", help="replace the files of an earlier demo in --out")
    common(demo)
    demo.set_defaults(run=cmd_demo)

    rec = sub.add_parser("reconstruct", help="reconstruct images from simulated or --measured measurements",
                         formatter_class=argparse.RawDescriptionHelpFormatter,
                         description="Simulate y = A x (+ noise) from each IMAGE and reconstruct x; with --measured, "
                                     "each IMAGE is y itself\n(a low-resolution, blurred, damaged or noisy photo) and "
                                     "there is no truth to score against.\n"
                                     f"tasks: {TASK_HELP}")
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
    common(rec)
    rec.set_defaults(run=cmd_reconstruct)

    train = sub.add_parser("train", help="train the default 64×64 face GAN on an image folder",
                           description=build_train_parser().description,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    build_train_parser(train)
    train.set_defaults(run=cmd_train)

    # No -h of its own: `invgen bench NAME --help` is the experiment's help (cmd_bench shows this one).
    bench = sub.add_parser("bench", help="run an experiment of the paper (options: invgen bench NAME --help)",
                           add_help=False, usage="invgen bench NAME [options]",
                           description="Run an experiment of the paper on CelebA val faces; results go to "
                                       "invgen-results/NAME unless --out says otherwise. "
                                       "invgen bench NAME --help lists its options.")
    bench.add_argument("experiment", nargs="?", choices=sorted(EXPERIMENTS), metavar="NAME",
                       help=f"one of {', '.join(sorted(EXPERIMENTS))}")
    bench.set_defaults(run=cmd_bench, bench_parser=bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command != "bench" and rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        if args.command == "bench":
            args.run(args, rest)
        else:
            args.run(args)
    except (UsageError, *USER_ERRORS) as err:
        # One line: a checkpoint mismatch's first line summarises the key lists that follow it.
        print(f"invgen {args.command}: error: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
