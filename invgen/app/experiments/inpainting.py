"""Inpainting of CelebA val faces: a missing band over the eyes, noiseless.

Methods: the masked image itself (= pseudo-inverse), Deep Image Prior, CSGM, CSGM-BP,
IAGAN, IAGAN-BP, and ILO, DGP and mGANprior back-projected. Back-projection keeps every observed pixel and fills the band with the
method's estimate. For a hole, IAGAN's held-out measurements should be holes too: the
committed results leave out 8×8 squares (chosen on the tuning faces, see the model card;
the default choice from the mask gives the same for this band).

    invgen bench inpainting --n-images 32 --dip-steps 500 --iagan-holdout-block 8 --out docs/results/inpainting
"""
from __future__ import annotations

from invgen.app.experiments.common import FOLLOW_UPS, Setting
from invgen.app.experiments.common import main as run_main

SETTINGS = [Setting("inpaint")]
METHODS = ["pinv", "dip", "csgm", "csgm-bp", "iagan", "iagan-bp", *FOLLOW_UPS]


def main(argv: list[str] | None = None) -> None:
    run_main("inpainting", __doc__, SETTINGS, METHODS, argv)


if __name__ == "__main__":
    main()
