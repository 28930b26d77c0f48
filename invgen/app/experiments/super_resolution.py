"""Super-resolution ×4 and ×8 of CelebA val faces, noiseless and noisy (σ = 10/255).

Methods: bicubic interpolation, Deep Image Prior, CSGM, CSGM-BP, IAGAN, IAGAN-BP, and the
methods that followed IAGAN — ILO, DGP and mGANprior, each back-projected — all with
invgen's budget (``--paper``: the papers'; IAGAN halves its steps under noise).

    invgen bench super-resolution --n-images 32 --dip-steps 500 --out docs/results/super_resolution
"""
from __future__ import annotations

from invgen.app.experiments.common import FOLLOW_UPS, Setting
from invgen.app.experiments.common import main as run_main

SETTINGS = [Setting("sr4"), Setting("sr8"), Setting("sr4", 10 / 255), Setting("sr8", 10 / 255)]
METHODS = ["bicubic", "dip", "csgm", "csgm-bp", "iagan", "iagan-bp", *FOLLOW_UPS]


def main(argv: list[str] | None = None) -> None:
    run_main("super_resolution", __doc__, SETTINGS, METHODS, argv)


if __name__ == "__main__":
    main()
