"""Generators by name: one string picks the embedded default or a checkpoint of any format.

``load_generator("default")``, ``load_generator("runs/face64/face64.pt")`` (an ``invgen
train`` file) or ``load_generator("KIND:PATH")`` with ``KIND`` one of :data:`LOADERS`,
e.g. ``"began:gen_64.pth"``, ``"pggan:100_celeb_hq_network-snapshot-010403.pth"`` or
``"stylegan2:550000.pt"`` (rosinality's StyleGAN2, searched in W; ``stylegan2-z:`` and
``stylegan2-w+:`` search in z or W+) or ``"stylegan2-ada:ffhq.pkl"`` (a network pickle of
NVIDIA's stylegan2-ada-pytorch, read without running its code; ``stylegan2-ada-z:`` and
``stylegan2-ada-w+:`` likewise). The CLI's and the experiments' ``--generator`` take these
strings.
"""
from __future__ import annotations

import re
from functools import partial
from os import PathLike
from pathlib import Path

from invgen.generators.base import Generator
from invgen.generators.checkpoint import CheckpointMismatchError
from invgen.generators.began import load_began
from invgen.generators.dcgan import load_dcgan
from invgen.generators.face64 import load_default, load_face64
from invgen.generators.pggan import load_pggan
from invgen.generators.stylegan2 import load_stylegan2
from invgen.generators.stylegan2_ada import load_stylegan2_ada

LOADERS = {
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


class UnknownGeneratorKind(ValueError):
    """A ``KIND:PATH`` spec names no loader of :data:`LOADERS`."""


SPEC_HELP = (f"'default', an `invgen train` face64.pt file, or KIND:PATH with KIND in {', '.join(LOADERS)} "
             "(stylegan2*: rosinality .pt checkpoints; stylegan2-ada*: NVIDIA stylegan2-ada-pytorch .pkl "
             "network pickles; -z / -w+ search z or W+ instead of W)")


def load_generator(spec: str | PathLike) -> Generator:
    """The generator named by ``spec`` (see the module docstring), in eval mode."""
    spec = str(spec)
    if spec == "default":
        return load_default()
    kind, sep, path = spec.partition(":")
    if Path(spec).is_file() or kind not in LOADERS:
        # A KIND:PATH spec with a mistyped KIND: "no such file" would wrongly point at the path.
        if sep and not Path(spec).is_file() and re.fullmatch(r"[a-z0-9+-]+", kind):
            raise UnknownGeneratorKind(f"unknown generator kind {kind!r} in {spec!r}; "
                                       f"KIND is one of {', '.join(LOADERS)}")
        kind, path = "face64", spec
    if not Path(path).is_file():
        raise FileNotFoundError(f"no such checkpoint file {path!r}; --generator takes {SPEC_HELP}")
    try:
        return LOADERS[kind](path)
    except CheckpointMismatchError as err:
        if str(path) in str(err):
            raise
        raise CheckpointMismatchError(f"{path} is not a {kind} checkpoint: {err}") from None
