"""A generator as a chain of blocks: the one walker over a network's parts, used by IAGAN's
per-image weights (:mod:`invgen.priors._per_image`) and by the methods that act between layers
(ILO, DGP, mGANprior).

**A chain.** A network whose forward applies its parts one after another says so: an
``nn.Sequential`` is one, and any other module can define ``blocks()`` → the
``[(name, part), ...]`` its forward applies, in order. :func:`links` walks into every part that
is itself a chain and keeps every other part whole, as a *link*: ``link(h)``, or ``link(h, z)``
for a :class:`LatentBlock`, which reads the latents ``z`` besides the features (StyleGAN2's
blocks read their styles there). Every loader's network is a chain: DCGAN, BEGAN, PGGAN, the
default generator (down to standard layers), StyleGAN2 (one :class:`LatentBlock` per resolution).

**Split points** ``0 … n + 1`` (:class:`Chain`): point 0 is the latent ``z``, point ``n + 1`` the
network's raw output, and points ``1 … n`` the features a method may work on: the output of
every activation link (:data:`ACTIVATIONS`) and of every link with parts of its own (a block run
whole), except the last link's — for the default generator 256×4×4, 128×8×8, 64×16×16 and
32×32×32.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from invgen.generators.base import Generator, describe, evaluating

#: Parameter-free nonlinearities that act on each value alone (PReLU's slope is a parameter, so
#: the per-image path gives every image its own). A split point follows each.
ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
               nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Softplus)

Link = tuple[str, nn.Module]


class LatentBlock(nn.Module):
    """A link that reads the latents ``z`` ``(B, latent_dim)`` besides the features:
    ``forward(h, z)``; at split point 0, ``h`` is ``z`` itself. Like every link it must act on
    each image alone."""

    def forward(self, h: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def blocks(module: nn.Module) -> list[Link] | None:
    """The parts ``module`` applies in order: an ``nn.Sequential``'s children, or what its own
    ``blocks()`` says; ``None`` for a module that does not declare itself a chain."""
    if type(module).forward is nn.Sequential.forward:
        return list(module.named_children())
    declared = getattr(module, "blocks", None)
    return declared() if callable(declared) else None


def links(module: nn.Module, prefix: str = "") -> list[Link] | None:
    """``module``'s chain walked down to its links, ``[(name, link), ...]`` in order (names as
    in ``module.named_modules()`` where the chain's names are attribute paths); ``None`` when
    ``module`` is not a chain."""
    chain = blocks(module)
    if chain is None:
        return None
    flat: list[Link] = []
    for name, part in chain:
        inner = links(part, f"{prefix}{name}.")
        flat += inner if inner is not None else [(f"{prefix}{name}", part)]
    return flat


def apply(link: nn.Module, h: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """One link on features ``h``, with the latents ``z`` for a :class:`LatentBlock`."""
    return link(h, z) if isinstance(link, LatentBlock) else link(h)


def _splits_after(link: nn.Module) -> bool:
    return isinstance(link, ACTIVATIONS) or next(link.children(), None) is not None


@dataclass(frozen=True)
class Chain:
    """A generator's network between its split points (see the module docstring).

    ``points``: ``n``, the number of intermediate split points; ``run(h, z, start, stop)``: the
    network from point ``start`` to point ``stop`` on ``h`` (the features at ``start``; ``z``
    itself at 0), with ``z`` the latents that :class:`LatentBlock` links read; ``shape(k)``: one
    image's features at point ``k``; ``parameter_names(stop)``: the names (as in
    ``generator.named_parameters()``) of the weights the links before point ``stop`` use.
    The network runs in eval mode (a generator left in training mode is switched back after)."""

    generator: Generator
    links: tuple[Link, ...]
    bounds: tuple[int, ...]  # link index where each point's features are available: 0, p_1 … p_n, len(links)

    @property
    def points(self) -> int:
        return len(self.bounds) - 2

    def run(self, h: torch.Tensor, z: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        self._check(start, stop)
        with evaluating(self.generator):
            for _, link in self.links[self.bounds[start]:self.bounds[stop]]:
                h = apply(link, h, z)
        return h

    @torch.no_grad()
    def shape(self, k: int) -> tuple[int, ...]:
        z = self.generator.sample_latent(1)
        return tuple(self.run(z, z, 0, k).shape[1:])

    def parameter_names(self, stop: int) -> list[str]:
        self._check(0, stop)
        names = {id(p): name for name, p in self.generator.named_parameters()}
        found: dict[str, None] = {}
        for _, link in self.links[:self.bounds[stop]]:
            found.update((names[id(p)], None) for p in link.parameters())
        return list(found)

    def _check(self, start: int, stop: int) -> None:
        if not 0 <= start <= stop <= self.points + 1:
            raise ValueError(f"split points run from 0 (the latent) to {self.points + 1} (the output); "
                             f"got {start} → {stop}")


def chain_of(generator: Generator) -> Chain:
    """The split points of ``generator``'s network; ``ValueError`` saying what to do for a
    network that is not a chain, or has nowhere to split."""
    found = links(generator.network)
    if found is None:
        raise ValueError(f"{type(generator.network).__name__} is not a chain of blocks: the intermediate-layer "
                         "methods need an nn.Sequential or a network with blocks() (see invgen.generators.layers)")
    inner = [i + 1 for i, (_, link) in enumerate(found[:-1]) if _splits_after(link)]
    if not inner:
        raise ValueError(f"{type(generator.network).__name__} has no activation or block between its layers "
                         "to split at")
    return Chain(generator, tuple(found), (0, *inner, len(found)))


def chain_with_points(generator: Generator, needed: int, method: str, why: str) -> Chain:
    """:func:`chain_of` ``generator``, or ``ValueError`` when it has fewer than ``needed`` split
    points (``why``: the settings that need them)."""
    chain = chain_of(generator)
    if needed > chain.points:
        raise ValueError(f"{method} needs {needed} split points ({why}), but the generator ({describe(generator)}) "
                         f"has {chain.points}; ask for fewer")
    return chain
