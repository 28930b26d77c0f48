"""The ``invgen`` command: demo, reconstruct, train, bench (one module per command; this one
parses the command line and prints a user's mistake as one line, exit code 2)."""
from __future__ import annotations

import argparse
import sys

from invgen.app.arguments import Parser, UsageError, random_seed
from invgen.app.device import DeviceUnavailableError, add_device_argument
from invgen.app.parallel import WorkFailed
from invgen.generators import CheckpointMismatchError
from invgen.generators.spec import UnknownGeneratorKind

# What the library raises for a user's mistake: printed like a UsageError, one line, exit code 2.
USER_ERRORS = (FileNotFoundError, CheckpointMismatchError, DeviceUnavailableError, UnknownGeneratorKind)

EXAMPLES = """\
examples:
  invgen demo                                   # SR ×4 of a built-in face, all methods, < 1 min
  invgen reconstruct face.png --task sr4 --method iagan --bp --out results/
  invgen reconstruct a.png b.png --task cs:0.1 --method csgm --csgm-restarts 8 --noise 0.02
  invgen train --data celeba/img_align_celeba_89x109 --epochs 40   # or set INVGEN_DATA once
  invgen bench super-resolution --n-images 32
  torchrun --nproc_per_node=4 -m invgen reconstruct faces/*.png --task sr4 --method iagan --bp --device cuda
"""


def cmd_train(args: argparse.Namespace) -> None:
    from invgen.app.train_command import run

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
    from invgen.app import demo, reconstruct
    from invgen.app.experiments import EXPERIMENTS
    from invgen.app.train_command import DESCRIPTION as TRAIN_DESCRIPTION
    from invgen.app.train_command import build_parser as build_train_parser

    parser = Parser(
        prog="invgen", description="Imaging inverse problems with generative priors (CSGM, IAGAN, BP, DIP).",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        add_device_argument(p)
        p.add_argument("--seed", type=random_seed, default=0, help="seeds latents, noise and random operators")
        p.add_argument("--quiet", action="store_true",
                       help="no progress (a bar on a terminal, a log line every 10 s otherwise)")

    sub_demo = sub.add_parser("demo", help="SR ×4 of a built-in face with every method; writes a PNG panel + JSON")
    demo.add_arguments(sub_demo)
    common(sub_demo)
    sub_demo.set_defaults(run=demo.cmd_demo)

    rec = sub.add_parser("reconstruct", help="reconstruct images from simulated or --measured measurements",
                         formatter_class=argparse.RawDescriptionHelpFormatter, description=reconstruct.DESCRIPTION)
    reconstruct.add_arguments(rec)
    common(rec)
    rec.set_defaults(run=reconstruct.cmd_reconstruct)

    train = sub.add_parser("train", help="train the default 64×64 face GAN, or fine-tune it, on an image folder",
                           description=TRAIN_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    except WorkFailed as err:  # the finished chunks are kept: the same command resumes
        print(f"invgen {args.command}: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
