"""``invgen train``: a recipe of :mod:`invgen.app.training`, :mod:`invgen.app.train_encoder` or
:mod:`invgen.app.train_adapt` on the CelebA train split.

Each setting flag belongs to the recipes whose settings have it (their defaults are the
settings' own); a flag the chosen recipe does not use is refused, never ignored.
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch

from invgen.app.arguments import (
    Parser,
    UsageError,
    check_output_folder,
    nonnegative_float,
    positive_float,
    positive_int,
    random_seed,
    shown,
)
from invgen.app.celeba import add_data_argument, celeba_paths, load_celeba
from invgen.app.device import add_device_argument, resolve_device
from invgen.app.parallel import join
from invgen.app.train_adapt import AdaptSettings, adapt_pretrained, adaptable
from invgen.app.train_encoder import EncoderSettings, train_encoder
from invgen.app.train_parts import PIXEL_LOSSES
from invgen.app.training import (
    LATENT_LRS,
    GANSettings,
    ReconSettings,
    finetune_reconstruction,
    train_gan,
)
from invgen.generators.face64 import load_face64

RECIPES = {"gan": GANSettings, "recon": ReconSettings, "encoder": EncoderSettings, "adapt": AdaptSettings}
EXPORTS = {"gan": "face64.pt", "recon": "face64.pt", "encoder": "encoder.pt", "adapt": "generator.pt"}
# The settings' flags: argparse type (or choices) and help; defaults come from RECIPES.
FLAGS = {
    "batch_size": (positive_int, "images per step"),
    "latent_dim": (positive_int, "the generator's latent size"),
    "width": (positive_int, "channel width w of both networks"),
    "lr": (positive_float, "learning rate of the network trained (recon: the generator's)"),
    "latents": (tuple(LATENT_LRS), "one free latent per face (GLO), or an encoder trained jointly"),
    "lr_latent": (positive_float, "learning rate of the per-face latents or of the joint encoder ("
                                  + ", ".join(f"{v:g} for {k}" for k, v in LATENT_LRS.items()) + ")"),
    "adv_weight": (nonnegative_float, "weight of an adversarial term that keeps images sharp (0 = none)"),
    "pixel_loss": (PIXEL_LOSSES, "the pixel term, mean squared error or GLO's Laplacian-pyramid L1"),
    "perceptual_weight": (nonnegative_float, "weight of an ST-LPIPS term between reconstruction and face (0 = none)"),
    "r1_weight": (nonnegative_float, "weight of the R1 gradient penalty on the discriminator's real faces"),
    "ema_decay": (nonnegative_float, "decay of the exported moving average of the generator's weights"),
    "disc_width": (positive_int, "channel width of the discriminator trained alongside"),
}
DESCRIPTION = """\
Train the default 64×64 face GAN (--recipe gan), fine-tune a generator so that its range covers
the training faces (recon), adapt a generator pretrained elsewhere to them (adapt: per-face
latents, an adversarial term with R1, an EMA of the weights), or train the encoder that starts
the latent search (encoder).
Every epoch replaces OUT/checkpoint.pt (--resume continues from it, exactly as an uninterrupted
run) and the GAN, recon and adapt recipes write OUT/samples/epoch_XXX.png; the end writes
OUT/face64.pt (OUT/encoder.pt; adapt: OUT/generator.pt in the pretrained file's layout). Each setting's help ends with the recipes that take it and their defaults;
a recipe refuses the others'."""


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or Parser(prog="invgen train", description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(parser, "the train split (ids 000001–009000) is used")
    parser.add_argument("--out", default="runs/face64", help="folder for checkpoints, samples and the export")
    parser.add_argument("--epochs", type=positive_int, default=40)
    parser.add_argument("--recipe", default="gan", choices=list(RECIPES),
                        help="gan: train from scratch; recon: fine-tune --init so its range covers the "
                             "training faces (GLO, one latent per face); adapt: bring the pretrained --init "
                             "(dcgan:FILE or face64) to the training faces; encoder: train the encoder that "
                             "starts the latent search, for the fixed generator --init")
    parser.add_argument("--init", default=None,
                        help="recon, encoder: the generator file (face64.pt); adapt: a generator spec (dcgan:FILE)")
    for name, (kind, text) in FLAGS.items():
        users = {recipe: field.default for recipe, settings in RECIPES.items()
                 for field in dataclasses.fields(settings) if field.name == name}
        defaults = ", ".join(recipe if default is None else f"{recipe}: {shown(default)}"
                             for recipe, default in users.items())
        choices = kind if isinstance(kind, tuple) else None
        parser.add_argument(flag(name), dest=name, default=None, type=None if choices else kind, choices=choices,
                            help=f"{text} ({defaults})")
    parser.add_argument("--seed", type=random_seed, default=0)
    parser.add_argument("--max-images", type=positive_int, default=None, help="use only the first N train images")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    add_device_argument(parser)
    return parser


def recipe_settings(args: argparse.Namespace):
    """The settings of ``--recipe`` from the flags given (the others keep their defaults);
    :class:`UsageError` for a flag the recipe does not use, naming those it does."""
    settings = RECIPES[args.recipe]
    own = [field.name for field in dataclasses.fields(settings)]
    given = {name: getattr(args, name) for name in FLAGS if getattr(args, name) is not None}
    for name in given:
        if name not in own:
            raise UsageError(f"{flag(name)} is not a setting of --recipe {args.recipe} (its settings: "
                             f"{', '.join(flag(n) for n in own)})")
    if args.recipe == "gan" and args.init is not None:
        raise UsageError("--init is the generator of --recipe recon or encoder; --recipe gan trains one from scratch")
    return settings(**given)


def check_run(args: argparse.Namespace):
    """Every check of ``invgen train`` that needs no training image: the recipe's flags and
    generator (``--init``, read once), ``--out``, the device, and how many images the split
    holds against ``--max-images`` and the batch size. Returns the recipe's settings;
    :class:`UsageError` (or the loaders' one-line errors) otherwise."""
    settings = recipe_settings(args)
    resolve_device(args.device)
    check_output_folder(args.out)
    if args.recipe != "gan":
        if args.init is None:
            raise UsageError(f"--recipe {args.recipe} needs a trained generator: pass --init PATH (face64.pt)")
        adaptable(args.init) if args.recipe == "adapt" else load_face64(args.init)
    try:
        available = len(celeba_paths(args.data, "train", args.max_images))
    except ValueError as err:
        raise UsageError(f"--max-images {args.max_images}: {err}") from None
    if available < settings.batch_size:
        raise UsageError(f"--batch-size {settings.batch_size} is larger than the {available} training images")
    return settings


def run(args: argparse.Namespace) -> None:
    """Train. Under ``torchrun`` every process loads the images and trains on its slice of each
    batch (``--batch-size`` is the global batch, a multiple of the processes); rank 0 writes."""
    settings = check_run(args)  # before loading 9,000 images
    team = join(None, args.device, gradients=True)
    if settings.batch_size % team.world:
        raise UsageError(f"--batch-size {settings.batch_size} is the global batch: it must be a multiple of the "
                         f"{team.world} processes")
    device = team.device(args.device)
    say = print if team.lead else (lambda *a, **k: None)
    say(f"loading CelebA train split from {args.data} ...", flush=True)
    images = load_celeba(args.data, "train", n=args.max_images)
    where = (f"{team.world} processes on " if team.joined else "") + (
        str(device) if device.type == "cuda" else f"{torch.get_num_threads()} CPU threads each")
    say(f"{images.shape[0]} images; {args.recipe}, {args.epochs} epochs on {where}: {settings}", flush=True)
    common = {"seed": args.seed, "resume": args.resume, "device": device, "team": team,
              **dataclasses.asdict(settings)}
    if args.recipe == "gan":
        train_gan(images, args.out, args.epochs, **common)
    elif args.recipe == "recon":
        finetune_reconstruction(images, args.out, args.init, args.epochs, **common)
    elif args.recipe == "adapt":
        adapt_pretrained(images, args.out, args.init, args.epochs, **common)
    else:
        train_encoder(images, args.out, args.init, args.epochs, **common)
    say(f"wrote {Path(args.out) / EXPORTS[args.recipe]}")
    team.close()


if __name__ == "__main__":
    run(build_parser().parse_args())
