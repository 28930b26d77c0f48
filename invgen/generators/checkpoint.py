"""Reading public checkpoints: safe loading and key/shape checks with readable errors.

Every loader of a public architecture reads its file with :func:`read_checkpoint`
(``torch.load(..., weights_only=True)``, so a checkpoint cannot run code), checks the
tensors against the key names and shapes of the source format with
:func:`check_state`, and only then maps them onto the invgen module.
"""
from __future__ import annotations

import contextlib
import pickle
import re
import warnings
from collections.abc import Mapping
from os import PathLike
from pathlib import Path

import torch


class CheckpointMismatchError(ValueError):
    """A file is not a checkpoint of the format its loader reads (unreadable, wrong keys or shapes)."""


EXPECTED = "expected a file written by torch.save that holds tensors (a state dict)"


def read_checkpoint(path: str | PathLike, safe_globals: list | None = None) -> object:
    """``torch.load(path, map_location="cpu", weights_only=True)``.

    ``safe_globals``: extra ``(class, "module.Name")`` pairs the file may reference
    (plain attribute containers only), allowed for this call alone. A missing file raises
    ``FileNotFoundError``; anything that does not load as tensors and plain containers
    (text, an empty or truncated file, a pickle that references code) raises
    :class:`CheckpointMismatchError` naming the file — never torch's advice to retry with
    ``weights_only=False``, which would run whatever code the file holds.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"no such checkpoint file: {path}")
    if Path(path).stat().st_size == 0:
        raise CheckpointMismatchError(f"{path} is empty; {EXPECTED}")
    if safe_globals and not hasattr(torch.serialization, "safe_globals"):
        raise RuntimeError(
            f"{path} stores Python objects besides tensors; reading it safely needs "
            "torch >= 2.5 (torch.serialization.safe_globals)"
        )
    with open(path, "rb") as f:
        head = f.read(2)
    # torch.save writes a zip archive (or, before torch 1.6, a pickle): anything else is not
    # a checkpoint, whatever torch's parser says about it.
    if head != b"PK" and head[:1] != b"\x80":
        raise CheckpointMismatchError(f"{path} is not a PyTorch checkpoint (neither a zip archive nor a pickle); "
                                      f"{EXPECTED}")
    allowed = torch.serialization.safe_globals(safe_globals) if safe_globals else contextlib.nullcontext()
    try:
        with allowed, warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        code = re.search(r"GLOBAL ([\w.]+)", str(err))
        what = f" ({code.group(1)})" if code else ""
        raise CheckpointMismatchError(
            f"{path} holds Python objects besides tensors{what}, which invgen does not unpickle "
            f"(they could run code); {EXPECTED}") from None
    # A truncated or corrupt file fails wherever torch's parser stops (EOFError, RuntimeError
    # from the zip reader, ...): all mean the same here.
    except (EOFError, KeyError, RuntimeError, ValueError, IndexError, TypeError, AttributeError) as err:
        detail = f" ({str(err).split('. ')[0][:100]})" if str(err) else ""
        raise CheckpointMismatchError(f"{path} is truncated or corrupt{detail}; {EXPECTED}") from None


def strip_prefix(state: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Drop ``prefix`` (e.g. ``"module."`` left by ``nn.DataParallel``) when every key has it."""
    if state and all(k.startswith(prefix) for k in state):
        return {k[len(prefix):]: v for k, v in state.items()}
    return dict(state)


def tensor_state(obj: object, what: str, fmt: str) -> dict[str, torch.Tensor]:
    """``obj`` as a ``{name: tensor}`` dict, or a :class:`CheckpointMismatchError`."""
    if not isinstance(obj, Mapping):
        raise CheckpointMismatchError(
            f"expected {what} to be a state dict of tensors ({fmt}), got {type(obj).__name__}"
        )
    others = [repr(k) for k, v in obj.items() if not (isinstance(k, str) and isinstance(v, torch.Tensor))]
    if others:
        raise CheckpointMismatchError(
            f"expected {what} to be a state dict of tensors ({fmt}), but its entries "
            f"{', '.join(others[:4])}{', ...' if len(others) > 4 else ''} are not tensors"
        )
    return dict(obj)


def check_state(
    state: Mapping[str, torch.Tensor],
    expected: Mapping[str, tuple[int, ...]],
    fmt: str,
) -> None:
    """Raise :class:`CheckpointMismatchError` unless ``state`` has exactly the ``expected``
    keys with the expected shapes; the message lists every missing key, unexpected key
    and shape mismatch, and names ``fmt``, the format the loader reads."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k}: checkpoint {tuple(state[k].shape)}, expected {tuple(expected[k])}"
        for k in expected
        if k in state and tuple(state[k].shape) != tuple(expected[k])
    ]
    if missing or unexpected or mismatched:
        raise CheckpointMismatchError(describe_mismatch(fmt, missing, unexpected, mismatched))


def describe_mismatch(
    fmt: str, missing: list[str], unexpected: list[str], mismatched: list[str] = ()
) -> str:
    """The first line summarises (a message on its own); the next lines list every key."""
    groups = [(title, items) for title, items in
              [("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", mismatched)] if items]
    summary = ", ".join(f"{len(items)} {title} (e.g. {items[0].split(':')[0]})" for title, items in groups)
    lines = [f"checkpoint does not match the expected format: {fmt} — {summary}"]
    for title, items in groups:
        lines.append(f"{title} ({len(items)}):")
        lines.extend(f"  {item}" for item in items)
    return "\n".join(lines)
