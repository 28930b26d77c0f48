"""What every experiment shares: its settings, its options, and ``main``: check, run, merge.

An experiment is a list of *settings* (a task and a noise level) and a list of methods.
The faces (the first ``--n-images`` of the CelebA val split) go through in chunks of
``--batch-size`` in id order; the runner (:mod:`~invgen.app.experiments.runner`) reconstructs
each chunk for every setting and method and writes its chunk file when it finishes
(:mod:`~invgen.app.experiments.chunks`); the report (:mod:`~invgen.app.experiments.report`)
merges the chunk files into ``OUT/results.json`` and ``OUT/results.md`` (means over faces)
plus the experiment's figures. A run started again with the same command skips the chunks on
disk. Under ``torchrun`` the processes share the chunks and rank 0 merges when all are done;
``--shard I/N`` runs one share of the chunks, and ``--merge`` merges once all have run.

``OUT`` is ``invgen-results/NAME`` unless ``--out`` says otherwise (the committed results
in ``docs/results`` are written only when asked for by name). Nothing is lost or mixed:
before any computation a run refuses an ``OUT`` holding chunks made with other settings
(:func:`~invgen.app.experiments.chunks.compared`) or other chunks of faces; merging refuses
chunks that differ in those settings or share faces. JSON is strict (``null`` for an
undefined number) and every result file is replaced atomically.
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
from invgen.app.parallel import join
from invgen.generators import SPEC_HELP
from invgen.generators.encoder import ENCODER_HELP


#: The methods that followed IAGAN, back-projected: the experiments run them beside IAGAN-BP.
FOLLOW_UPS = ["ilo-bp", "dgp-bp", "mganprior-bp"]


@dataclass(frozen=True)
class Setting:
    """One inverse problem of an experiment: a task string, the noise std on y and, when not
    the experiment's, the methods run on it (``methods_for``)."""

    task: str
    noise_std: float = 0.0
    methods: tuple[str, ...] = ()

    def methods_for(self, experiment: list[str]) -> list[str]:
        """This setting's methods: its own when it names them, else the experiment's."""
        return list(self.methods) or list(experiment)

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
    parser.add_argument("--shard", default="1/1", metavar="I/N",
                        help="run only the I-th of N shares of the chunks of faces (array jobs; torchrun needs none)")
    parser.add_argument("--merge", action="store_true", help="only merge OUT/chunks into the results")
    parser.add_argument("--out", default=f"invgen-results/{name}",
                        help="results folder (default: %(default)s; the committed ones are docs/results/NAME)")
    parser.add_argument("--seed", type=random_seed, default=0)
    parser.add_argument("--generator", default="default", help=SPEC_HELP)
    parser.add_argument("--encoder", default="none", help=ENCODER_HELP)
    add_method_arguments(parser)
    parser.add_argument("--batch-size", type=positive_int, default=16,
                        help="faces reconstructed together, a chunk (default %(default)s; memory grows with it)")
    add_device_argument(parser)
    return parser


def resolve_settings(args: argparse.Namespace) -> argparse.Namespace:
    """``args`` with the budget they ask for written out (``--paper`` and the defaults
    resolved), so that a chunk file records the numbers it was made with."""
    for key, value in budget_from(args).flat().items():
        setattr(args, key, value)
    return args


def main(name: str, description: str, settings: list[Setting], methods: list[str], argv=None,
         figures=None) -> None:
    """``invgen bench NAME [options]``: check every option and ``OUT`` first, then run this
    process's chunks and merge (alone, or rank 0 under ``torchrun`` once all are done), or
    only merge (``--merge``)."""
    parser = build_parser(name, description)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = resolve_settings(parser.parse_args(argv))
    title = description.strip().splitlines()[0]
    resolve_device(args.device)
    try:
        team = join(args.shard, args.device)
        if not args.merge:
            check_out(args, settings)
            team.barrier()  # every process checked OUT before any chunk is written
            run(args, settings, methods, shlex.join([*parser.prog.split(), *argv]), team)
            team.barrier()
            if not team.merges:
                if not team.joined:
                    print("merge the shards with --merge once all have run")
                team.close()
                return
        if team.lead:
            merge(args, title, settings, figures)
        team.close()
    except UsageError as err:
        parser.error(str(err))
