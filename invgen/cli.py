"""The ``invgen`` command: demo, reconstruct, train, bench."""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from importlib import resources
from pathlib import Path

import torch

from invgen.arguments import (
    Parser,
    UsageError,
    check_output_folder,
    nonnegative_float,
    positive_int,
    random_seed,
)
from invgen.device import DeviceUnavailableError, resolve_device
from invgen.files import write_json
from invgen.generators import CheckpointMismatchError
from invgen.generators.spec import SPEC_HELP, UnknownGeneratorKind

# What the library raises for a user's mistake: printed like a UsageError, one line, exit code 2.
USER_ERRORS = (FileNotFoundError, CheckpointMismatchError, DeviceUnavailableError, UnknownGeneratorKind)
# The smallest image every metric takes (SSIM's 11×11 window).
MIN_SIZE = 11

EXAMPLES = """\
examples:
  invgen demo                                   # SR ×4 of a built-in face, all methods, < 1 min
  invgen reconstruct face.png --task sr4 --method iagan --bp --out results/
  invgen reconstruct a.png b.png --task cs:0.1 --method csgm --restarts 4 --noise 0.02
  invgen train --data ../shared/data/celeba/img_align_celeba_89x109 --epochs 40
  invgen bench super-resolution --n-images 32
"""


def _generator(spec: str, device: torch.device):
    from invgen.generators import load_generator

    try:
        return load_generator(spec).to(device)
    except (FileNotFoundError, CheckpointMismatchError, UnknownGeneratorKind) as err:
        raise UsageError(f"--generator {spec}: {str(err).splitlines()[0]}") from None


def _evaluate(estimates: dict[str, torch.Tensor], truth: torch.Tensor) -> dict[str, dict[str, float]]:
    """Mean PSNR and SSIM of each estimate against ``truth``."""
    from invgen.metrics import psnr, ssim

    return {name: {"psnr": psnr(x, truth).mean().item(), "ssim": ssim(x, truth).mean().item()}
            for name, x in estimates.items()}


# --------------------------------------------------------------------------- demo
DEMO_BUDGET = {"csgm_steps": 300, "restarts": 4, "iagan_steps": 200, "dip_steps": 400}


def cmd_demo(args: argparse.Namespace) -> None:
    from invgen.data import read_image, save_panel
    from invgen.solvers.pipeline import Budget, reconstruct
    from invgen.tasks import make_operator

    out = check_output_folder(args.out)
    device = resolve_device(args.device)
    torch.manual_seed(args.seed)
    G = _generator("default", device)
    with resources.as_file(resources.files("invgen") / "assets" / "astronaut_face_64.png") as path:
        truth = read_image(path).unsqueeze(0).to(device)
    A = make_operator("sr4", tuple(truth.shape[1:])).to(device)
    y = A(truth)
    budget = Budget(**DEMO_BUDGET)
    print("invgen demo: super-resolution ×4 of a 64×64 face (NASA astronaut portrait, public domain)")
    print(f"reduced budget for a quick demo (the paper: CSGM 1600 steps, IAGAN 500, DIP 2000): {DEMO_BUDGET}")
    methods = ["bicubic", "csgm", "csgm-bp", "iagan", "iagan-bp", "dip"]
    t0 = time.time()
    estimates = reconstruct(A, y, methods, G, budget=budget, seed=args.seed, progress=not args.quiet)
    total = time.time() - t0
    metrics = _evaluate(estimates, truth)
    out.mkdir(parents=True, exist_ok=True)
    panels = {"truth": truth[0], "input (x4 down)": y[0], **{k: v[0] for k, v in estimates.items()}}
    captions = {k: f"{m['psnr']:.1f} dB" for k, m in metrics.items()}
    save_panel(panels, out / "demo.png", captions=captions)
    write_json(out / "metrics.json", {"task": "sr4", "budget": DEMO_BUDGET, "seconds": total, "metrics": metrics})
    print(f"\nSR ×4, {total:.0f} s in all")
    print(f"{'method':<10} {'PSNR dB':>8} {'SSIM':>6}")
    for name, m in metrics.items():
        print(f"{name:<10} {m['psnr']:>8.2f} {m['ssim']:>6.3f}")
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
    from invgen.solvers.pipeline import METHODS
    from invgen.tasks import parse_task

    method = args.method + ("-bp" if args.bp else "")
    if method not in METHODS:
        raise UsageError(f"--bp does not apply to {args.method}; back-projectable methods: csgm, iagan, dip")
    try:
        kind, _ = parse_task(args.task)
    except ValueError as err:
        raise UsageError(f"--task: {err}") from None
    if args.method == "bicubic" and kind != "sr":
        raise UsageError(f"--method bicubic upsamples a low-resolution image: it needs a super-resolution "
                         f"task (srF, e.g. sr4), got --task {args.task}")
    if args.size < MIN_SIZE:
        raise UsageError(f"--size must be ≥ {MIN_SIZE} (SSIM's window), got {args.size}")
    out = check_output_folder(args.out)
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        raise UsageError(f"--out {out} is not empty; pass --overwrite to replace files there, or choose a new folder")
    return method, out


def cmd_reconstruct(args: argparse.Namespace) -> None:
    from invgen.data import decode_image, save_image
    from invgen.solvers.pipeline import Budget, reconstruct
    from invgen.tasks import make_operator

    method, out = check_reconstruct(args)
    device = resolve_device(args.device)
    G = _generator(args.generator, device) if args.method in ("csgm", "iagan") else None
    size = G.image_shape()[-1] if G is not None else args.size
    names = output_names(args.images)
    images = []
    for path, name in zip(args.images, names):
        try:
            image, notes = decode_image(path, size=size)
        except (FileNotFoundError, ValueError) as err:
            raise UsageError(str(err)) from None
        images.append(image)
        if notes or name != Path(path).stem:
            print(f"{path}{f' (written as {name})' if name != Path(path).stem else ''}: {'; '.join(notes) or 'as is'}")
    truth = torch.stack(images).to(device)
    try:
        A = make_operator(args.task, tuple(truth.shape[1:]), seed=args.seed).to(device)
    except ValueError as err:
        raise UsageError(f"--task: {err}") from None
    noise = torch.randn(A(truth).shape, generator=torch.Generator().manual_seed(args.seed)).to(device)
    y = A(truth) + args.noise * noise
    defaults = Budget()
    budget = Budget(csgm_steps=args.steps or defaults.csgm_steps, restarts=args.restarts,
                    iagan_steps=args.iagan_steps or defaults.iagan_steps,
                    dip_steps=args.steps or defaults.dip_steps)
    t0 = time.time()
    estimates = reconstruct(A, y, [method], G, noise_std=args.noise, budget=budget, seed=args.seed,
                            progress=not args.quiet)
    seconds = time.time() - t0
    viz = y if len(A.out_shape) == 3 else A.pinv(y)
    per_image = {}
    for i, (path, name) in enumerate(zip(args.images, names)):
        save_image(truth[i], out / f"{name}_truth.png")
        save_image(viz[i], out / f"{name}_measurement.png")
        save_image(estimates[method][i], out / f"{name}_{method}.png")
        per_image[name] = {"source": str(path), **_evaluate({method: estimates[method][i : i + 1]},
                                                            truth[i : i + 1])[method]}
    write_json(out / "metrics.json", {"task": args.task, "method": method, "noise_std": args.noise,
                                      "budget": vars(budget), "seconds": seconds, "images": per_image})
    print(f"\n{args.task}, {method} (PSNR/SSIM against the input image), {seconds:.1f} s")
    print(f"{'image':<16} {'PSNR dB':>8} {'SSIM':>6}")
    for name, m in per_image.items():
        print(f"{name:<16} {m['psnr']:>8.2f} {m['ssim']:>6.3f}")
    print(f"\nwrote estimates, measurement visualisations and metrics.json to {out}/")


# --------------------------------------------------------------------------- train / bench
def cmd_train(args: argparse.Namespace) -> None:
    from invgen.training import run

    run(args)


def cmd_bench(args: argparse.Namespace, rest: list[str]) -> None:
    from invgen.experiments import EXPERIMENTS

    if args.experiment is None:
        if rest[:1] in (["-h"], ["--help"]):
            args.bench_parser.print_help()
            return
        raise UsageError(f"name an experiment: {', '.join(sorted(EXPERIMENTS))} (invgen bench NAME --help "
                         "for its options)")
    EXPERIMENTS[args.experiment](rest)


def build_parser() -> argparse.ArgumentParser:
    from invgen.experiments import EXPERIMENTS
    from invgen.solvers.pipeline import BASE_METHODS
    from invgen.tasks import TASK_HELP
    from invgen.training import build_parser as build_train_parser

    parser = Parser(
        prog="invgen", description="Imaging inverse problems with generative priors (CSGM, IAGAN, BP, DIP).",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
        p.add_argument("--seed", type=random_seed, default=0, help="seeds latents, noise and random operators")
        p.add_argument("--quiet", action="store_true", help="no progress bars")

    demo = sub.add_parser("demo", help="SR ×4 of a built-in face with every method; writes a PNG panel + JSON")
    demo.add_argument("--out", default="invgen-demo")
    common(demo)
    demo.set_defaults(run=cmd_demo)

    rec = sub.add_parser("reconstruct", help="reconstruct your own images from simulated measurements",
                         formatter_class=argparse.RawDescriptionHelpFormatter,
                         description="Simulate y = A x (+ noise) from each IMAGE and reconstruct x.\n"
                                     f"tasks: {TASK_HELP}")
    rec.add_argument("images", nargs="+", metavar="IMAGE")
    rec.add_argument("--task", required=True, help=TASK_HELP)
    rec.add_argument("--method", required=True, choices=BASE_METHODS)
    rec.add_argument("--bp", action="store_true", help="back-project the estimate onto {x : Ax = y}")
    rec.add_argument("--noise", type=nonnegative_float, default=0.0, metavar="SIGMA",
                     help="std of Gaussian noise on y (images in [0, 1])")
    rec.add_argument("--generator", default="default", help=SPEC_HELP)
    rec.add_argument("--steps", type=positive_int, default=None, help="CSGM / DIP steps (default 1600 / 2000)")
    rec.add_argument("--iagan-steps", type=positive_int, default=None,
                     help="IAGAN steps (default 500; halved with noise)")
    rec.add_argument("--restarts", type=positive_int, default=1, help="CSGM random restarts (run as one batch)")
    rec.add_argument("--size", type=positive_int, default=64,
                     help=f"image size for methods without a generator (≥ {MIN_SIZE})")
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
