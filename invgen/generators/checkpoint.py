"""Reading public checkpoints: safe loading and key/shape checks with readable errors.

Every loader of a public architecture reads its file with :func:`read_checkpoint`
(``torch.load(..., weights_only=True)``, so a checkpoint cannot run code), checks the
tensors against the key names and shapes of the source format with
:func:`check_state`, and only then maps them onto the invgen module.
"""
from __future__ import annotations

from collections.abc import Mapping
from os import PathLike

import torch


class CheckpointMismatchError(ValueError):
    """A checkpoint does not have the keys or shapes of the format its loader reads."""


def read_checkpoint(path: str | PathLike, safe_globals: list | None = None) -> object:
    """``torch.load(path, map_location="cpu", weights_only=True)``.

    ``safe_globals``: extra ``(class, "module.Name")`` pairs the file may reference
    (plain attribute containers only), allowed for this call alone.
    """
    if not safe_globals:
        return torch.load(path, map_location="cpu", weights_only=True)
    if not hasattr(torch.serialization, "safe_globals"):
        raise RuntimeError(
            f"{path} stores Python objects besides tensors; reading it safely needs "
            "torch >= 2.5 (torch.serialization.safe_globals)"
        )
    with torch.serialization.safe_globals(safe_globals):
        return torch.load(path, map_location="cpu", weights_only=True)


def strip_prefix(state: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Drop ``prefix`` (e.g. ``"module."`` left by ``nn.DataParallel``) when every key has it."""
    if state and all(k.startswith(prefix) for k in state):
        return {k[len(prefix):]: v for k, v in state.items()}
    return dict(state)


def tensor_state(obj: object, what: str, fmt: str) -> dict[str, torch.Tensor]:
    """``obj`` as a ``{name: tensor}`` dict, or a :class:`CheckpointMismatchError`."""
    if not isinstance(obj, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    ):
        raise CheckpointMismatchError(
            f"expected {what} to be a state dict of tensors ({fmt}), got {type(obj).__name__}"
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
    lines = [f"checkpoint does not match the expected format: {fmt}"]
    for title, items in [
        ("missing keys", missing),
        ("unexpected keys", unexpected),
        ("shape mismatches", mismatched),
    ]:
        if items:
            lines.append(f"{title} ({len(items)}):")
            lines.extend(f"  {item}" for item in items)
    return "\n".join(lines)
