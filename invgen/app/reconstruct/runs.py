"""What an output folder of ``invgen reconstruct`` holds: ``run.json``, the identity of the
command that wrote it (a resumed run must be the same computation), and one record per
finished image, ``records/NAME.json``, tagged with that run's key."""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from invgen.app.arguments import budget_from
from invgen.files import write_json

BOOKKEEPING = ("key", "chunk", "chunk_seconds")  # what a record holds beside the image's results


def run_identity(args: argparse.Namespace, method: str) -> dict:
    """What makes two runs the same computation (a resumed run must be): the images and every
    setting that changes a result; not the device, the shard or how many processes run."""
    return {"images": [str(p) for p in args.images], "task": args.task, "method": method, "noise_std": args.noise,
            "budget": budget_from(args).flat(), "seed": args.seed, "generator": args.generator,
            "encoder": args.encoder, "measured": args.measured, "mask": args.mask, "kernel": args.kernel,
            "resize": args.resize, "size": args.size, "batch_size": args.batch_size}


def run_key(identity: dict) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def read_json(path: Path) -> dict | None:
    """A JSON object written by invgen, ``None`` when there is none (or it is not one)."""
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def read_record(out: Path, name: str, key: str) -> dict | None:
    """The record of image ``name`` if this run (``key``) finished it."""
    record = read_json(out / "records" / f"{name}.json")
    return record if record is not None and record.get("key") == key else None


def write_record(out: Path, name: str, key: str, chunk: int, seconds: float, results: dict) -> None:
    """Image ``name``'s record, written last (atomically): a record on disk is a finished image."""
    write_json(out / "records" / f"{name}.json", {"key": key, "chunk": chunk, "chunk_seconds": seconds, **results})
