"""Generators: the contract (:func:`wrap`), the embedded default and public architectures."""
from invgen.generators.base import Generator, wrap
from invgen.generators.face64 import load_default

__all__ = ["Generator", "wrap", "load_default"]
