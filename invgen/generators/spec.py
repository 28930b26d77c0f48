"""Generators by name: one string picks an embedded generator or a checkpoint of any format.

``load_generator("default")`` (or another name of :data:`~invgen.generators.embedded.EMBEDDED`,
e.g. ``"digiface-celeba"``), ``load_generator("runs/face64/face64.pt")`` (an ``invgen
train`` file) or ``load_generator("KIND:PATH")`` with ``KIND`` one of :func:`kinds`,
e.g. ``"dcgan:netG.pth"`` (the PyTorch DCGAN tutorial's ``netG``, any depth),
``"began:gen_64.pth"``, ``"pggan:100_celeb_hq_network-snapshot-010403.pth"`` or
``"stylegan2:550000.pt"`` (rosinality's StyleGAN2, searched in W; ``stylegan2-z:`` and
``stylegan2-w+:`` search in z or W+) or ``"stylegan2-ada:ffhq.pkl"`` (a network pickle of
NVIDIA's stylegan2-ada-pytorch, read without running its code; ``stylegan2-ada-z:`` and
``stylegan2-ada-w+:`` likewise). The CLI's and the experiments' ``--generator`` take these
strings.

A user's own format is one more kind: :func:`register_loader` ``("mine", fn)`` in the process,
or, from an installed package, an entry point of the group ``invgen.generators`` (``mine =
"package.module:fn"`` under ``[project.entry-points."invgen.generators"]``), read when a spec
names a kind that is not registered. ``fn(path)`` returns a
:class:`~invgen.generators.base.Generator` (e.g. :func:`~invgen.generators.base.wrap` of the
network it builds); ``--generator mine:FILE`` then works in every command.

Whatever the kind, a generator is refused at load, before any work, when a weight or buffer is
NaN or infinite or its images from random latents are (:class:`NonFiniteGeneratorError`, naming
the tensor and the file).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from importlib.metadata import entry_points
from itertools import chain
from os import PathLike
from pathlib import Path

import torch

from invgen.generators.base import Generator, evaluating
from invgen.generators.began import load_began
from invgen.generators.checkpoint import CheckpointMismatchError
from invgen.generators.dcgan import load_dcgan
from invgen.generators.embedded import EMBEDDED, load_embedded
from invgen.generators.face64 import load_face64
from invgen.generators.pggan import load_pggan
from invgen.generators.stylegan2 import load_stylegan2
from invgen.generators.stylegan2_ada import load_stylegan2_ada

LOADERS: dict[str, Callable[[str], Generator]] = {
    "face64": load_face64,
    "dcgan": load_dcgan,
    "began": load_began,
    "pggan": partial(load_pggan, format="ptrblck"),
    "pggan-zoo": partial(load_pggan, format="gan_zoo"),
    "stylegan2": load_stylegan2,  # searches W from the mean w; -z / -w+ pick the other spaces
    "stylegan2-z": partial(load_stylegan2, space="z"),
    "stylegan2-w+": partial(load_stylegan2, space="w+"),
    "stylegan2-ada": load_stylegan2_ada,  # NVIDIA's .pkl (G_ema), same spaces as stylegan2
    "stylegan2-ada-z": partial(load_stylegan2_ada, space="z"),
    "stylegan2-ada-w+": partial(load_stylegan2_ada, space="w+"),
}
BUILT_IN = frozenset(LOADERS)
ENTRY_POINT_GROUP = "invgen.generators"
KIND = re.compile(r"[a-z0-9][a-z0-9_+-]*")
PROBE_LATENTS = 2

SPEC_HELP = (f"an embedded generator ({', '.join(map(repr, EMBEDDED))}), an `invgen train` face64.pt file, "
             f"or KIND:PATH with KIND in {', '.join(LOADERS)} or a registered kind (dcgan: the PyTorch DCGAN tutorial's netG at any "
             "resolution; stylegan2*: rosinality .pt checkpoints; stylegan2-ada*: NVIDIA stylegan2-ada-pytorch "
             ".pkl network pickles; -z / -w+ search z or W+ instead of W)")


class UnknownGeneratorKind(ValueError):
    """A ``KIND:PATH`` spec names no loader of :func:`kinds`."""


class NonFiniteGeneratorError(CheckpointMismatchError):
    """A generator with a NaN or infinite weight or buffer, or that makes NaN or infinite images."""


def register_loader(kind: str, loader: Callable[[str], Generator]) -> None:
    """Make ``load_generator("KIND:PATH")`` (and every command's ``--generator KIND:PATH``) call
    ``loader(PATH)``, which returns a :class:`Generator`. ``kind``: lower-case letters, digits,
    ``_``, ``+`` and ``-``; registering a kind again replaces its loader (a notebook cell run
    twice), but a built-in kind cannot be replaced."""
    if not isinstance(kind, str) or not KIND.fullmatch(kind):
        raise ValueError(f"a generator kind is lower-case letters, digits, '_', '+' and '-' (e.g. 'mine'), "
                         f"got {kind!r}")
    if kind in BUILT_IN:
        raise ValueError(f"{kind!r} is a built-in generator kind; register yours under another name")
    if not callable(loader):
        raise TypeError(f"the loader of {kind!r} must be a function of the checkpoint's path, got "
                        f"{type(loader).__name__}")
    LOADERS[kind] = loader


def kinds() -> list[str]:
    """Every ``KIND`` a spec may name: the built-in ones, those registered in this process and
    those of installed packages' ``invgen.generators`` entry points."""
    installed = (ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    return list(dict.fromkeys(chain(LOADERS, installed)))


def _loader(kind: str) -> Callable[[str], Generator] | None:
    if kind in LOADERS:
        return LOADERS[kind]
    found = next((ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == kind), None)
    return None if found is None else found.load()


def load_generator(spec: str | PathLike) -> Generator:
    """The generator named by ``spec`` (see the module docstring), in eval mode, its weights and
    images checked finite (:class:`NonFiniteGeneratorError`)."""
    spec = str(spec)
    if spec in EMBEDDED:
        return load_embedded(spec)
    kind, sep, path = spec.partition(":")
    loader = None if Path(spec).is_file() else _loader(kind)
    if loader is None:
        # A KIND:PATH spec with a mistyped KIND: "no such file" would wrongly point at the path.
        if sep and not Path(spec).is_file() and KIND.fullmatch(kind):
            raise UnknownGeneratorKind(f"unknown generator kind {kind!r} in {spec!r}; "
                                       f"KIND is one of {', '.join(kinds())}")
        kind, path, loader = "face64", spec, LOADERS["face64"]
    if not Path(path).is_file():
        raise FileNotFoundError(f"no such checkpoint file {path!r}; --generator takes {SPEC_HELP}")
    try:
        generator = loader(path)
    except CheckpointMismatchError as err:
        if str(path) in str(err):
            raise
        raise CheckpointMismatchError(f"{path} is not a {kind} checkpoint: {err}") from None
    if not isinstance(generator, Generator):
        raise TypeError(f"the {kind!r} loader returned a {type(generator).__name__}, not a Generator; return "
                        "invgen.generators.wrap(network, latent_dim, ...) of the network it builds")
    check_finite(generator, path)
    return generator.eval()


def check_finite(generator: Generator, path: str | PathLike) -> None:
    """Raise :class:`NonFiniteGeneratorError` naming the first NaN or infinite weight or buffer
    of ``generator`` (read from ``path``), or saying that its images from random latents are
    not finite although its weights are."""
    for name, t in chain(generator.named_parameters(), generator.named_buffers()):
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            bad = t.numel() - int(torch.isfinite(t).sum())
            raise NonFiniteGeneratorError(
                f"{path}: {name.removeprefix('network.')} holds {bad} NaN or infinite value(s) of {t.numel()} "
                "(a diverged training run?); invgen runs no generator with non-finite weights")
    with torch.no_grad(), evaluating(generator):
        x = generator(generator.sample_latent(PROBE_LATENTS, generator=torch.Generator().manual_seed(0)))
    if not bool(torch.isfinite(x).all()):
        bad = x.numel() - int(torch.isfinite(x).sum())
        raise NonFiniteGeneratorError(f"{path}: the generator's weights are finite, but its images from random "
                                      f"latents hold {bad} NaN or infinite value(s) of {x.numel()}")
