"""What a shard file of an experiment is (``OUT/shards/shard_I_of_N.json``: the command, the
configuration and one record per face, setting and method), which settings make two shards
parts of one experiment, and which faces a shard takes."""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from invgen.app.arguments import UsageError
from invgen.solvers import Budget


def compared() -> tuple[str, ...]:
    """The settings that make two shards parts of one experiment — the seed, the generator,
    the encoder and every setting of the registered methods: merging shards that differ in
    any of them would average different experiments (the faces, n_images and shard may differ)."""
    return ("seed", "generator", "encoder", *Budget().flat())


def read_shard(path: Path) -> dict:
    """A shard file's content; :class:`UsageError` naming it when it is not one."""
    try:
        shard = json.loads(path.read_text())
        if not isinstance(shard, dict) or not {"config", "records"} <= set(shard):
            raise ValueError("no 'config' and 'records'")
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError among them
        raise UsageError(f"{path} is not a shard file written by invgen bench ({err})") from None
    return shard


def shard_settings(shard: dict) -> dict:
    """What :func:`compared` (plus the tasks and noise levels run) a shard was made with; a
    shard that does not record one of them was made by an older invgen (settings named
    otherwise) and is refused: re-run it."""
    config = shard["config"]
    missing = [key for key in compared() if key not in config]
    if missing:
        raise UsageError(f"a shard file made by an older invgen records no {', '.join(missing[:3])}"
                         f"{' …' if len(missing) > 3 else ''}; re-run that experiment into a new --out")
    settings = {key: config[key] for key in compared()}
    settings["tasks and noise"] = sorted({(r["task"], r["noise_std"]) for r in shard["records"]})
    return settings


def differences(a: dict, a_name: str, b: dict, b_name: str) -> str:
    """``"key: A in a_name, B in b_name; ..."`` for every key whose values differ ('' if none)."""
    return "; ".join(f"{key}: {a[key]!r} in {a_name}, {b[key]!r} in {b_name}" for key in a if a[key] != b[key])


def shard_file(args: argparse.Namespace) -> Path:
    return Path(args.out) / "shards" / f"shard_{args.shard.replace('/', '_of_')}.json"


def shard_indices(n: int, shard: str) -> range:
    """The positions of the ``I``-th of ``N`` contiguous parts of ``range(n)``."""
    try:
        i, parts = (int(v) for v in shard.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like I/N (e.g. 2/4), got {shard!r}") from None
    if not 1 <= i <= parts:
        raise ValueError(f"--shard {shard}: need 1 ≤ I ≤ N")
    size = math.ceil(n / parts)
    return range((i - 1) * size, min(i * size, n))
