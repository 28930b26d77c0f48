"""Generators: the contract (:func:`wrap`), the embedded default and public architectures."""
from invgen.generators.base import Generator, wrap
from invgen.generators.began import BEGANGenerator, build_began, load_began
from invgen.generators.checkpoint import CheckpointMismatchError
from invgen.generators.dcgan import DCGANGenerator, build_dcgan, load_dcgan
from invgen.generators.embedded import EMBEDDED, load_default, load_embedded
from invgen.generators.face64 import load_face64
from invgen.generators.layers import Chain, LatentBlock, chain_of
from invgen.generators.pggan import PGGANGenerator, build_pggan, load_pggan
from invgen.generators.spec import (
    LOADERS,
    SPEC_HELP,
    NonFiniteGeneratorError,
    kinds,
    load_generator,
    register_loader,
)
from invgen.generators.stylegan2 import StyleGAN2Generator, StyleGAN2Network, build_stylegan2, load_stylegan2
from invgen.generators.stylegan2_ada import UnsafePickleError, load_stylegan2_ada

__all__ = [
    "EMBEDDED",
    "LOADERS",
    "SPEC_HELP",
    "BEGANGenerator",
    "Chain",
    "CheckpointMismatchError",
    "DCGANGenerator",
    "Generator",
    "LatentBlock",
    "NonFiniteGeneratorError",
    "PGGANGenerator",
    "StyleGAN2Generator",
    "StyleGAN2Network",
    "UnsafePickleError",
    "build_began",
    "build_dcgan",
    "build_pggan",
    "build_stylegan2",
    "chain_of",
    "kinds",
    "load_began",
    "load_dcgan",
    "load_default",
    "load_embedded",
    "load_face64",
    "load_generator",
    "load_pggan",
    "load_stylegan2",
    "load_stylegan2_ada",
    "register_loader",
    "wrap",
]
