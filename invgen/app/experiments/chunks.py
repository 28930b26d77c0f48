"""What an experiment writes as it goes: one chunk file per setting and chunk of faces,
``OUT/chunks/SETTING/FIRST-LAST.json`` (the command, the configuration, the faces and one
record per face and method), replaced atomically when the chunk finishes; the first chunk
of each setting also writes ``FIRST-LAST.examples.pt``, the panel of its first faces, before
its JSON. A chunk file on disk is a finished chunk: a run started again skips it. Which
settings make chunk files parts of one experiment is :func:`compared`."""
from __future__ import annotations

import json
from pathlib import Path

from invgen.app.arguments import UsageError
from invgen.solvers import Budget


def compared() -> tuple[str, ...]:
    """The settings that make two chunk files parts of one experiment — the seed, the
    generator, the encoder, the batch size (the faces computed together: a chunk's numbers
    depend on its faces) and every setting of the registered methods: merging chunks that
    differ in any of them would average different experiments."""
    return ("seed", "generator", "encoder", "batch_size", *Budget().flat())


def slug(name: str) -> str:
    """An ASCII file-name part for a setting name (``sr4@σ=10/255`` → ``sr4_sigma_10_255``)."""
    return "".join(c if (c.isascii() and c.isalnum()) or c in ".-" else "_" for c in name.replace("σ", "sigma"))


def chunk_path(out: str | Path, setting: str, ids: list[int]) -> Path:
    """Where the chunk of faces ``ids`` (CelebA ids, in order) of ``setting`` is written."""
    return Path(out) / "chunks" / slug(setting) / f"{ids[0]:06d}-{ids[-1]:06d}.json"


def chunk_files(out: str | Path) -> list[Path]:
    """The chunk files in ``out``."""
    return sorted((Path(out) / "chunks").glob("*/*.json"))


def read_chunk(path: Path) -> dict:
    """A chunk file's content; :class:`UsageError` naming it when it is not one."""
    try:
        chunk = json.loads(path.read_text())
        if not isinstance(chunk, dict) or not {"config", "setting", "images", "records"} <= set(chunk):
            raise ValueError("no 'config', 'setting', 'images' and 'records'")
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError among them
        raise UsageError(f"{path} is not a chunk file written by invgen bench ({err})") from None
    return chunk


def chunk_settings(chunk: dict) -> dict:
    """What :func:`compared` a chunk was made with; a chunk that does not record one of them
    was made by an older invgen (settings named otherwise) and is refused: re-run it."""
    config = chunk["config"]
    missing = [key for key in compared() if key not in config]
    if missing:
        raise UsageError(f"a chunk file made by an older invgen records no {', '.join(missing[:3])}"
                         f"{' …' if len(missing) > 3 else ''}; re-run that experiment into a new --out")
    return {key: config[key] for key in compared()}


def differences(a: dict, a_name: str, b: dict, b_name: str) -> str:
    """``"key: A in a_name, B in b_name; ..."`` for every key whose values differ ('' if none)."""
    return "; ".join(f"{key}: {a[key]!r} in {a_name}, {b[key]!r} in {b_name}" for key in a if a[key] != b[key])


def name_of(path: Path) -> str:
    """A chunk file's name relative to the results folder: ``SETTING/FIRST-LAST.json``."""
    return f"{path.parent.name}/{path.name}"
