"""``invgen reconstruct``: simulated or measured images through one method, in chunks.

The command reads like its steps, each a module: the flags (:mod:`.flags`) and their checks
(:mod:`.checks`) → the inputs, simulated (:mod:`.simulated`: each IMAGE a truth ``x``) or
measured (:mod:`.measured`: each IMAGE is ``y``), each mode measuring and writing its own
files (:mod:`.pictures`) → the chunks (:mod:`.chunks`), each writing per image its pictures and
then its record ``OUT/records/NAME.json`` (atomically: a record on disk is a finished image) →
the merge (:mod:`.merge`) into ``metrics.json``. ``OUT/run.json`` (:mod:`.runs`) says which
command the folder holds: the same command started again (after a kill, a crash, Ctrl-C)
skips the finished chunks and computes the rest. Under ``torchrun`` each process takes its
share of the chunks and rank 0 merges when all are done; ``--shard I/N`` runs one share (merge
with ``--merge``). Image ``i``'s noise is seeded by ``seed·100003 + i``, so a chunk computes the
same numbers in any process.
"""
from __future__ import annotations

import argparse

from invgen.app.arguments import UsageError, budget_from
from invgen.app.inputs import output_names
from invgen.app.parallel import join
from invgen.app.reconstruct import measured, simulated
from invgen.app.reconstruct.checks import check_reconstruct
from invgen.app.reconstruct.chunks import run_chunks
from invgen.app.reconstruct.flags import DESCRIPTION, add_arguments, encoder_flag, generator_flag
from invgen.app.reconstruct.merge import merge
from invgen.app.reconstruct.runs import run_key
from invgen.files import write_json
from invgen.forward import ForwardModel
from invgen.solvers import METHODS
from invgen.solvers.pipeline import check_methods

__all__ = ["DESCRIPTION", "add_arguments", "cmd_reconstruct"]


def cmd_reconstruct(args: argparse.Namespace) -> None:
    method, out, identity = check_reconstruct(args)
    key, names = run_key(identity), output_names(args.images)
    if args.merge:
        merge(args, method, names, key, out)
        return
    team = join(args.shard, args.device)
    device = team.device(args.device)
    mode = measured if args.measured else simulated
    G = generator_flag(args.generator, device) if METHODS[args.method].needs_generator else None
    inputs = mode.read_inputs(args, names, G, verbose=team.lead)
    A = inputs.A.to(device)
    model = ForwardModel(A, sigma=args.noise)  # with --measured, the noise is already in y
    budget = budget_from(args)
    try:
        check_methods(A, [method], budget, G)
    except ValueError as err:
        raise UsageError(f"--method {args.method}: {err}") from None
    encoder = encoder_flag(args.encoder, args.generator, G, device) if G is not None else None
    team.barrier()  # every process checked everything before anything is written
    if team.lead or not team.joined:
        write_json(out / "run.json", identity)
    run_chunks(args, team, mode, inputs, model, method=method, G=G, encoder=encoder, budget=budget, device=device,
               names=names, key=key, out=out)
    team.barrier()
    if team.merges:
        merge(args, method, names, key, out)
    elif team.lead or not team.joined:
        print(f"shard {args.shard} done; once every shard has run, merge with the same command and --merge")
    team.close()
