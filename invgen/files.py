"""Writing result files: strict JSON (undefined numbers as ``null``), every file replaced atomically."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path


def strict(obj: object) -> object:
    """``obj`` with every NaN or ±inf float replaced by ``None`` (JSON's ``null``), recursively
    through dicts, lists and tuples; JSON has no NaN or Infinity, and other tools refuse them."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict(v) for v in obj]
    return obj


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``,
    so a reader (or a crash) never sees a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: str | Path, obj: object, indent: int = 2) -> None:
    """:func:`write_text` of ``json.dumps(strict(obj))``: strict JSON, written atomically."""
    write_text(path, json.dumps(strict(obj), indent=indent, allow_nan=False, ensure_ascii=False) + "\n")
