"""The generator's state dict inside the dicts that training scripts save.

Besides a bare ``torch.save(netG.state_dict())``, DCGAN/BEGAN training scripts commonly
save ``{"netG_state_dict": …, "optimizerG_state_dict": …, "epoch": …}`` (the PyTorch
tutorials' checkpoint recipe), ``{"generator": …, "discriminator": …}`` or
``{"state_dict": …}`` (PyTorch Lightning, where the generator's keys carry the
attribute's name, ``generator.`` or ``netG.``, beside the discriminator's).
"""
from __future__ import annotations

from collections.abc import Mapping

import torch

from invgen.generators.checkpoint import strip_prefix, tensor_state

WRAPPER_KEYS = ("netG_state_dict", "generator", "state_dict")
SUBMODULE_PREFIXES = ("generator.", "netG.")


def generator_state(checkpoint: object, fmt: str) -> dict[str, torch.Tensor]:
    """The generator's ``{name: tensor}`` in ``checkpoint`` (a loaded file).

    The file itself when it is a state dict, else its entry under the first of
    :data:`WRAPPER_KEYS` it has; from a state dict that holds several networks, the keys
    under the first of :data:`SUBMODULE_PREFIXES`; then a ``module.`` prefix
    (``nn.DataParallel``) is dropped. Raises :class:`CheckpointMismatchError` (naming
    ``fmt``) when there is no state dict of tensors there.
    """
    what = "the checkpoint"
    if isinstance(checkpoint, Mapping) and not all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        key = next((k for k in WRAPPER_KEYS if k in checkpoint), None)
        if key is not None:
            checkpoint, what = checkpoint[key], f"checkpoint[{key!r}]"
    state = strip_prefix(tensor_state(checkpoint, what, fmt), "module.")
    for prefix in SUBMODULE_PREFIXES:
        if any(k.startswith(prefix) for k in state):
            return strip_prefix({k: v for k, v in state.items() if k.startswith(prefix)}, prefix)
    return state
