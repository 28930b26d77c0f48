"""A generator between its layers: for the methods that act on intermediate features (ILO,
mGANprior) or adapt some blocks but not others (DGP).

A generator's network is seen as a sequence of *blocks* separated by *split points*
``0 … n + 1``: point 0 is the latent ``z``, point ``n + 1`` the network's raw output, and
points ``1 … n`` the intermediate feature maps a method may work on. :func:`layers_of`
gives, for a :class:`~invgen.generators.base.Generator`, an object with

- ``points``: ``n``, the number of intermediate split points;
- ``run(h, z, start, stop)``: the network from point ``start`` to point ``stop`` applied to
  ``h`` (the features at ``start``; ``z`` itself at 0), with ``z`` the latents the later
  layers may need (a chain ignores them; StyleGAN2's styles read them);
- ``shape(k)``: the shape of one image's features at point ``k``;
- ``parameters(stop)``: the names (as in ``generator.named_parameters()``) of the weights
  of the blocks before point ``stop``.

For a chain of blocks (:func:`invgen.generators.base.blocks`: an ``nn.Sequential``, or a
network with ``blocks()``, such as the default generator), the chain is flattened to its
leaf layers and the intermediate points are the outputs of its activations (ReLU, leaky
ReLU, …) — for the default generator 256×4×4, 128×8×8, 64×16×16 and 32×32×32. A network
that is not a chain may provide its own ``layers()`` returning such an object.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from invgen.generators.base import Generator, blocks

ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.SELU, nn.GELU, nn.SiLU, nn.PReLU)


def leaves(module: nn.Module, prefix: str = "") -> list[tuple[str, nn.Module]] | None:
    """``module``'s chain flattened to its leaf layers, ``[(name, layer), ...]`` in order (names
    as in ``module.named_modules()``); ``None`` when some part is not a chain."""
    chain = blocks(module)
    if chain is None:
        return [(prefix.rstrip("."), module)] if next(module.children(), None) is None else None
    flat: list[tuple[str, nn.Module]] = []
    for name, child in chain:
        inner = leaves(child, f"{prefix}{name}.")
        if inner is None:
            return None
        flat += inner
    return flat


@dataclass
class ChainLayers:
    """The split points of a chain of leaf layers (see the module docstring)."""

    generator: Generator
    chain: list[tuple[str, nn.Module]]
    bounds: list[int]  # leaf index where each point's features are available: 0, p_1 … p_n, len(chain)

    @property
    def points(self) -> int:
        return len(self.bounds) - 2

    def run(self, h: torch.Tensor, z: torch.Tensor | None, start: int, stop: int) -> torch.Tensor:
        self._check(start, stop)
        for _, layer in self.chain[self.bounds[start]:self.bounds[stop]]:
            h = layer(h)
        return h

    @torch.no_grad()
    def shape(self, k: int) -> tuple[int, ...]:
        z = self.generator.sample_latent(1)
        return tuple(self.run(z, z, 0, k).shape[1:])

    def parameters(self, stop: int) -> list[str]:
        self._check(0, stop)
        return [f"network.{name}.{p}" if name else f"network.{p}"
                for name, layer in self.chain[:self.bounds[stop]] for p, _ in layer.named_parameters()]

    def _check(self, start: int, stop: int) -> None:
        if not 0 <= start <= stop <= self.points + 1:
            raise ValueError(f"split points run from 0 (the latent) to {self.points + 1} (the output); "
                             f"got {start} → {stop}")


def layers_of(generator: Generator):
    """The split points of ``generator`` (see the module docstring): its network's own
    ``layers()`` if it has one, else its chain of blocks; ``ValueError`` saying what to do for
    a network that is neither."""
    own = getattr(generator.network, "layers", None)
    if callable(own):
        return own()
    chain = leaves(generator.network)
    if chain is None:
        raise ValueError(f"{type(generator.network).__name__} is not a chain of blocks: intermediate-layer methods "
                         "need an nn.Sequential, a network with blocks() (see invgen.generators.base.Generator), "
                         "or one with layers()")
    inner = [i + 1 for i, (_, layer) in enumerate(chain) if isinstance(layer, ACTIVATIONS)]
    inner = [i for i in inner if i < len(chain)]
    if not inner:
        raise ValueError(f"{type(generator.network).__name__} has no activation between its layers to split at")
    return ChainLayers(generator, chain, [0, *inner, len(chain)])
