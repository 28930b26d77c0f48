"""``invgen reconstruct``'s images through one method ``--batch-size`` at a time, in the order
given (chunks of the global list, :mod:`invgen.app.parallel`), so memory stays flat however
many there are. Each chunk writes its files, then each image's record; a chunk whose records
are all on disk is skipped (the same command resumes), and under ``torchrun`` or ``--shard``
each process takes its share."""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from types import ModuleType

import torch

from invgen.app.inputs import Inputs
from invgen.app.parallel import Team, chunk_ranges, run_share
from invgen.app.reconstruct.checks import check_estimates
from invgen.app.reconstruct.runs import read_record, write_record
from invgen.forward import ForwardModel
from invgen.solvers import Budget, reconstruct_samples


def run_chunks(args: argparse.Namespace, team: Team, mode: ModuleType, inputs: Inputs, model: ForwardModel, *,
               method: str, G, encoder, budget: Budget, device: torch.device, names: list[str], key: str,
               out: Path) -> None:
    """Reconstruct this process's share of the chunks that are not finished yet, ``mode``
    (:mod:`~invgen.app.reconstruct.simulated` or :mod:`~invgen.app.reconstruct.measured`)
    measuring each chunk and writing its files."""
    chunks = chunk_ranges(len(names), args.batch_size)

    def work(chunk: range) -> None:
        images = inputs.batch([args.images[i] for i in chunk], device)
        y = mode.measure(model, images, chunk, args.seed)
        t0 = time.time()
        samples = reconstruct_samples(model, y, [method], G, encoder=encoder, budget=budget, seed=args.seed,
                                      progress=not args.quiet)[method].x
        seconds = time.time() - t0
        check_estimates(samples, [names[i] for i in chunk], method)
        scores = mode.write(model.A, images, y, samples, [names[i] for i in chunk], method, out)
        for i, score in zip(chunk, scores):
            write_record(out, names[i], key, chunks.index(chunk), seconds, {"source": args.images[i], **score})
        if len(chunks) > 1 or team.world > 1:
            print(f"{where(team)}images {chunk.start + 1}–{chunk.stop} of {len(names)}: {seconds:.1f} s", flush=True)

    def done(chunk: range) -> bool:
        return all(read_record(out, names[i], key) is not None for i in chunk)

    def describe(chunk: range) -> str:
        return f"images {chunk.start + 1}–{chunk.stop} of {len(names)} ({', '.join(args.images[i] for i in chunk)})"

    computed, skipped = run_share(team, chunks, done, work, describe)
    if skipped:
        print(f"{where(team)}resumed: {skipped} chunk(s) already finished in {out}, {computed} computed")


def where(team: Team) -> str:
    return f"[rank {team.rank}] " if team.world > 1 else ""
