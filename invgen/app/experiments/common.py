"""What every experiment shares: its settings, its options, and ``main``: check, run, merge.

An experiment is a list of *settings* (a task and a noise level) and a list of methods.
``run`` reconstructs the faces of one shard of the CelebA val split for every setting and
method, and writes ``OUT/shards/shard_I_of_N.json`` (one record per image, setting and
method). ``--merge`` reads every shard file in ``OUT/shards`` and writes
``OUT/results.json`` and ``OUT/results.md`` (means over images), plus the experiment's
figures. With ``--shard 1/1`` (the default) a run merges by itself. The runner
(:mod:`~invgen.app.experiments.runner`) and the report (:mod:`~invgen.app.experiments.report`)
are apart; :mod:`~invgen.app.experiments.shards` says what a shard file is.

``OUT`` is ``invgen-results/NAME`` unless ``--out`` says otherwise (the committed results
in ``docs/results`` are written only when asked for by name). Nothing is lost or mixed:
before any computation a run refuses an ``OUT`` whose shards were made with other
settings (:func:`compared`), and a shard file of another run of the same name; merging
refuses shards that differ in those settings or share faces. JSON is strict (``null`` for
an undefined number) and every result file is replaced atomically.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass

from invgen.app.arguments import Parser, UsageError, add_method_arguments, budget_from, positive_int, random_seed
from invgen.app.celeba import add_data_argument
from invgen.app.device import add_device_argument, resolve_device
from invgen.app.experiments.report import merge
from invgen.app.experiments.runner import check_out, run
from invgen.generators import SPEC_HELP
from invgen.generators.encoder import ENCODER_HELP


@dataclass(frozen=True)
class Setting:
    """One inverse problem of an experiment: a task string and the noise std on y."""

    task: str
    noise_std: float = 0.0

    @property
    def name(self) -> str:
        return self.task if self.noise_std == 0 else f"{self.task}@σ={self.noise_std * 255:g}/255"


def build_parser(name: str, description: str) -> Parser:
    """The options of experiment ``name`` (``invgen bench NAME``); results go to
    ``invgen-results/NAME`` unless ``--out`` is given."""
    parser = Parser(prog=f"invgen bench {name.replace('_', '-')}", description=description,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(parser, "faces come from the val split (ids 009001–010000)")
    parser.add_argument("--n-images", type=positive_int, default=32, help="first N faces of the val split")
    parser.add_argument("--shard", default="1/1", metavar="I/N", help="run only the I-th of N parts of the faces")
    parser.add_argument("--merge", action="store_true", help="only merge OUT/shards/*.json into the results")
    parser.add_argument("--out", default=f"invgen-results/{name}",
                        help="results folder (default: %(default)s; the committed ones are docs/results/NAME)")
    parser.add_argument("--seed", type=random_seed, default=0)
    parser.add_argument("--generator", default="default", help=SPEC_HELP)
    parser.add_argument("--encoder", default="none", help=ENCODER_HELP)
    add_method_arguments(parser)
    parser.add_argument("--batch-size", type=positive_int, default=32, help="faces reconstructed together")
    add_device_argument(parser)
    return parser


def resolve_settings(args: argparse.Namespace) -> argparse.Namespace:
    """``args`` with the budget they ask for written out (``--paper`` and the defaults
    resolved), so that a shard records the numbers it was made with."""
    for key, value in budget_from(args).flat().items():
        setattr(args, key, value)
    return args


def main(name: str, description: str, settings: list[Setting], methods: list[str], argv=None,
         figures=None) -> None:
    """``invgen bench NAME [options]``: check every option and ``OUT`` first, then run this
    shard and merge (with ``--shard 1/1``), or only merge (``--merge``)."""
    parser = build_parser(name, description)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = resolve_settings(parser.parse_args(argv))
    title = description.strip().splitlines()[0]
    resolve_device(args.device)
    try:
        if not args.merge:
            check_out(args, settings)
            run(args, settings, methods, shlex.join([*parser.prog.split(), *argv]))
            if args.shard != "1/1":
                print("merge the shards with --merge once all have run")
                return
        merge(args, title, figures)
    except UsageError as err:
        parser.error(str(err))
