"""``invgen reconstruct``'s last step (or ``--merge`` alone): ``metrics.json`` from every
image's record, and the table its input mode prints."""
from __future__ import annotations

import argparse
from pathlib import Path

from invgen.app.arguments import UsageError, budget_from
from invgen.app.reconstruct import measured, simulated
from invgen.app.reconstruct.runs import BOOKKEEPING, read_record
from invgen.files import write_json


def merge(args: argparse.Namespace, method: str, names: list[str], key: str, out: Path) -> None:
    """``metrics.json`` from every image's record (:class:`UsageError` while some are
    missing), and its table; ``seconds`` is the reconstruction time summed over the chunks."""
    mode = measured if args.measured else simulated
    records = {name: read_record(out, name, key) for name in names}
    missing = [name for name, record in records.items() if record is None]
    if missing:
        raise UsageError(f"--merge: {len(missing)} of {len(names)} images have no result in {out} yet "
                         f"(first: {missing[0]}); run the missing shards first")
    seconds = sum({r["chunk"]: r["chunk_seconds"] for r in records.values()}.values())
    per_image = {name: {k: v for k, v in r.items() if k not in BOOKKEEPING} for name, r in records.items()}
    run = {"task": args.task, "method": method, "noise_std": args.noise, "budget": budget_from(args).flat(),
           "seconds": seconds, "batch_size": args.batch_size, **mode.summary(args)}
    write_json(out / "metrics.json", {**run, "images": per_image})
    spread = any("restart_spread_image" in r for r in per_image.values())
    maps = (f", restart spread maps (*_{method}_restart_spread.png: where its starts disagree, a lower bound on "
            "the uncertainty)" if spread else "")
    mode.print_table(args, method, per_image, seconds, maps, out)
