"""Where tensors go: ``--device cpu|cuda`` checked once, with an error that says what to do."""
from __future__ import annotations

import argparse

import torch


class DeviceUnavailableError(RuntimeError):
    """The asked-for device does not exist on this machine."""


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--device cpu|cuda`` option every command shares; check it with :func:`resolve_device`."""
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                        help="where to compute (default: %(default)s; cuda needs a CUDA build of torch)")


def resolve_device(name: str | torch.device) -> torch.device:
    """``torch.device(name)``; raises :class:`DeviceUnavailableError` for CUDA without a CUDA device."""
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailableError(
            "--device cuda asked for, but torch sees no CUDA device (install a CUDA build of torch, or use --device cpu)"
        )
    return device
