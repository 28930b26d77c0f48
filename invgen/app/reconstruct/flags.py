"""``invgen reconstruct``'s flags, and the generator and encoder they name (a flag that does
not load is a :class:`~invgen.app.arguments.UsageError` naming it)."""
from __future__ import annotations

import argparse

import torch

from invgen.app.arguments import UsageError, add_method_arguments, nonnegative_float, positive_int
from invgen.app.inputs import MIN_SIZE
from invgen.app.tasks import TASK_HELP
from invgen.generators import CheckpointMismatchError, load_generator
from invgen.generators.encoder import ENCODER_HELP, load_encoder_spec
from invgen.generators.spec import SPEC_HELP, UnknownGeneratorKind
from invgen.solvers import METHODS

DESCRIPTION = ("Simulate y = A x (+ noise) from each IMAGE and reconstruct x; with --measured, each IMAGE is y "
               "itself\n(a low-resolution, blurred, damaged or noisy photo) and there is no truth to score against.\n"
               "Images go through in chunks of --batch-size, each chunk's results written as it finishes; the same "
               "command\nstarted again resumes. Under torchrun (torchrun --nproc_per_node=N -m invgen reconstruct ...) "
               "the processes share the chunks.\n"
               f"tasks: {TASK_HELP}")


def add_arguments(rec: argparse.ArgumentParser) -> None:
    rec.add_argument("images", nargs="+", metavar="IMAGE")
    rec.add_argument("--task", required=True, help=TASK_HELP)
    rec.add_argument("--method", required=True, choices=list(METHODS),
                     help="; ".join(f"{name}: {m.summary}" for name, m in METHODS.items()).replace("%", "%%"))
    rec.add_argument("--bp", action="store_true", help="back-project the estimate onto {x : Ax = y} (methods: "
                     f"{', '.join(name for name, m in METHODS.items() if m.back_projectable)})")
    rec.add_argument("--noise", type=nonnegative_float, default=0.0, metavar="SIGMA",
                     help="std of Gaussian noise added to y (images in [0, 1]); with --measured, the noise level "
                          "of your images (none is added)")
    rec.add_argument("--measured", action="store_true",
                     help="each IMAGE is a measurement y (srF: the low-resolution image, the estimate is F× larger; "
                          "blur, inpaint, denoise: the photo); writes the estimate, A x̂ and ‖A x̂ − y‖/‖y‖")
    rec.add_argument("--mask", metavar="MASK.png",
                     help="inpaint: your mask, white = known, black = missing; with --measured the photo's holes, "
                          "otherwise the pixels each image keeps in the simulated y (the mask has the images' size: "
                          "the generator's, or --size)")
    rec.add_argument("--kernel", metavar="K.npy|K.png",
                     help="blur: your blur kernel (2-D, ≥ 0), normalised to sum 1; centre tap at (kh//2, kw//2)")
    rec.add_argument("--resize", action="store_true",
                     help="resize images that do not fit the generator (and, --measured, the mask) instead of "
                          "refusing them; without it a simulated input smaller than the generator is refused")
    rec.add_argument("--generator", default="default", help=SPEC_HELP)
    rec.add_argument("--encoder", default="none", help=ENCODER_HELP)
    add_method_arguments(rec)
    rec.add_argument("--size", type=positive_int, default=64,
                     help=f"image size for methods without a generator (≥ {MIN_SIZE}; simulated inputs)")
    rec.add_argument("--batch-size", type=positive_int, default=16,
                     help="images reconstructed together, a chunk (default %(default)s; memory grows with it)")
    rec.add_argument("--shard", default=None, metavar="I/N",
                     help="run only the I-th of N shares of the chunks (array jobs; torchrun needs none)")
    rec.add_argument("--merge", action="store_true", help="only merge the records of OUT into metrics.json")
    rec.add_argument("--out", default="invgen-out", help="folder for the results (empty, this command's, or "
                                                        "--overwrite)")
    rec.add_argument("--overwrite", action="store_true", help="replace files of another run in --out")


def generator_flag(spec: str, device: torch.device):
    """The generator of ``--generator spec`` on ``device``; :class:`UsageError` naming the flag."""
    try:
        return load_generator(spec).to(device)
    except (FileNotFoundError, CheckpointMismatchError, UnknownGeneratorKind) as err:
        raise UsageError(f"--generator {spec}: {str(err).splitlines()[0]}") from None


def encoder_flag(spec: str, generator_spec: str, G, device: torch.device):
    """The encoder of ``--encoder`` for the generator ``G``, on ``device`` (``None`` for 'none')."""
    try:
        encoder = load_encoder_spec(spec)
    except (FileNotFoundError, CheckpointMismatchError) as err:
        raise UsageError(f"--encoder {spec}: {str(err).splitlines()[0]}") from None
    if encoder is not None and encoder.latent_dim != G.latent_dim:
        raise UsageError(f"--encoder {spec} makes latents of size {encoder.latent_dim}, but --generator "
                         f"{generator_spec} takes {G.latent_dim}: pass the encoder trained with that generator, "
                         "or --encoder none")
    return None if encoder is None else encoder.to(device)

