"""Deblurring of CelebA val faces: Gaussian blur (σ = 1.5 px), noiseless and σ = 10/255.

Methods: the exact pseudo-inverse (inverse filter), Deep Image Prior, CSGM, CSGM-BP,
IAGAN, IAGAN-BP, with invgen's budget (``--paper``: the papers').

    invgen bench deblurring --n-images 32 --dip-steps 500 --out docs/results/deblurring
"""
from __future__ import annotations

from invgen.app.experiments.common import Setting
from invgen.app.experiments.common import main as run_main

SETTINGS = [Setting("blur"), Setting("blur", 10 / 255)]
METHODS = ["pinv", "dip", "csgm", "csgm-bp", "iagan", "iagan-bp"]


def main(argv: list[str] | None = None) -> None:
    run_main("deblurring", __doc__, SETTINGS, METHODS, argv)


if __name__ == "__main__":
    main()
