"""The generators that ship inside the package, by name: ``load_generator(NAME)``.

- ``"default"``: invgen's default, a 1.2 M-parameter 64×64 face GAN trained on the CelebA train
  split and fine-tuned for reconstruction (model card: ``docs/default-generator.md``);
- ``"digiface-celeba"``: the PyTorch-tutorial DCGAN ``netG`` (3.6 M parameters) of the PyPI
  package ``gan-face-generate``, pretrained on DigiFace-1M's 1.2 M rendered faces and adapted
  to the CelebA train split by ``invgen train --recipe adapt`` (model card:
  ``docs/default-generator.md``, section ``digiface-celeba``). Sharper
  estimates, much closer by ST-LPIPS, level in PSNR at SR ×4 on the val faces (0.3 dB lower
  on the tuning faces); for non-commercial research only (DigiFace-1M's and CelebA's terms).

Both work offline: their float16 weights are files of this package.
"""
from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from os import PathLike

from invgen.generators.base import Generator
from invgen.generators.dcgan import load_dcgan
from invgen.generators.face64 import load_face64

#: Name → (weights file under ``invgen/generators/weights``, the loader that reads it).
EMBEDDED: dict[str, tuple[str, Callable[[str | PathLike], Generator]]] = {
    "default": ("face64.pt", load_face64),
    "digiface-celeba": ("digiface_celeba.pt", load_dcgan),
}


def load_embedded(name: str) -> Generator:
    """The embedded generator ``name`` (one of :data:`EMBEDDED`), in eval mode."""
    if name not in EMBEDDED:
        raise KeyError(f"no embedded generator {name!r}; the package ships {', '.join(EMBEDDED)}")
    file, loader = EMBEDDED[name]
    weights = resources.files("invgen.generators") / "weights" / file
    if not weights.is_file():
        raise FileNotFoundError(f"the weights of the embedded generator {name!r} are missing from the installed "
                                f"package ({weights}); reinstall invgen")
    with resources.as_file(weights) as path:
        return loader(path).eval()


def load_default() -> Generator:
    """The embedded default face generator (64×64 RGB, Gaussian latent), in eval mode."""
    return load_embedded("default")
