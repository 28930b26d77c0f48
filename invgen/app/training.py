"""Train the default 64×64 face GAN (``invgen train``, or ``python -m invgen.app.training``).

Recipe: non-saturating logistic GAN loss (Goodfellow et al. 2014), spectrally normalised
discriminator, Adam (lr 2e-4, β = (0.5, 0.999)) for both networks, random horizontal
flips, and an exponential moving average of the generator weights (decay 0.999), which
is what is exported. One discriminator step per generator step.

Every epoch writes ``checkpoint.pt`` (everything needed by ``--resume``) and
``samples/epoch_XXX.png`` (64 samples of the EMA generator at fixed latents); the end of
training (also of a ``--resume`` of a finished run) writes ``face64.pt``, the float16 EMA generator that
:func:`invgen.generators.face64.load_face64` reads.
"""
from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from invgen.app.arguments import (
    Parser,
    UsageError,
    check_output_folder,
    nonnegative_float,
    positive_float,
    positive_int,
    random_seed,
)
from invgen.app.celeba import add_data_argument, celeba_paths, load_celeba
from invgen.app.device import add_device_argument, resolve_device
from invgen.data import save_grid
from invgen.generators.encoder import FaceEncoder, export_encoder
from invgen.generators.face64 import FaceDCGAN, FaceDiscriminator, load_face64
from invgen.metrics import STLPIPS
from invgen.operators import SuperResolution
from invgen.progress import progress_bar

EMA_DECAY = 0.999
# The ST-LPIPS term of the reconstruction fine-tune sees this many faces of each batch: its
# stride-1 11×11 first layer costs about 2 s per 64 faces on one core, 10× the generator's step.
PERCEPTUAL_FACES = 16


def export_generator(network: FaceDCGAN, path: str | Path) -> None:
    """Write a generator network as float16 weights plus its config (a few MB)."""
    state = {k: v.cpu().half() if v.is_floating_point() else v.cpu() for k, v in network.state_dict().items()}
    config = {"latent_dim": network.latent_dim, "width": network.width}
    torch.save({"config": config, "state_dict": state}, path)


@torch.no_grad()
def _update_ema(ema: torch.nn.Module, net: torch.nn.Module, decay: float) -> None:
    for p_ema, p in zip(ema.parameters(), net.parameters()):
        p_ema.lerp_(p, 1.0 - decay)


@torch.no_grad()
def recalibrate_batchnorm(network: FaceDCGAN, batches: int = 16, batch_size: int = 256, seed: int = 0) -> None:
    """Re-estimate the batch-norm statistics of ``network`` for its current weights.

    The EMA weights never ran in training mode, so the running statistics tracked for
    the raw weights do not fit them (washed-out samples); an exact average over
    ``batches × batch_size`` fresh latents does. Leaves the network in eval mode.
    """
    norms = [m for m in network.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration batches
    latents = torch.Generator().manual_seed(seed)
    device = next(network.parameters()).device
    network.train()
    for _ in range(batches):
        network(torch.randn(batch_size, network.latent_dim, generator=latents).to(device))
    network.eval()
    for m in norms:
        m.momentum = 0.1


def _save_atomic(obj: dict, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def _resume(path: Path, parts: dict, device: str | torch.device) -> tuple[int, list[dict]]:
    """Load ``parts`` (name → module or optimiser) and the random state from the run's
    checkpoint at ``path``; returns the epochs done and their history (``0, []`` without one)."""
    if not path.is_file():
        return 0, []
    ckpt = torch.load(path, map_location=device, weights_only=False)
    for key, obj in parts.items():
        obj.load_state_dict(ckpt[key])
    torch.set_rng_state(ckpt["rng"].cpu())
    print(f"resumed from {path} after epoch {ckpt['epoch']}")
    return ckpt["epoch"], ckpt["history"]


def _end_epoch(path: Path, parts: dict, history: list[dict], epoch: int, seconds: float, means: dict) -> None:
    """Log epoch ``epoch`` (one JSON line, appended to ``history``) and replace the run's one
    checkpoint at ``path`` with ``parts``, the history and the random state."""
    record = {"epoch": epoch, "seconds": round(seconds, 1), **means}
    history.append(record)
    print(json.dumps(record), flush=True)
    _save_atomic({**{key: obj.state_dict() for key, obj in parts.items()}, "epoch": epoch, "history": history,
                  "rng": torch.get_rng_state()}, path)


PIXEL_LOSSES = ("mse", "laplacian-l1")


def laplacian_pyramid_l1(x: torch.Tensor, ref: torch.Tensor, levels: int = 4) -> torch.Tensor:
    """Mean over levels of the mean absolute difference of the Laplacian pyramids of ``x`` and
    ``ref`` ``(B, C, H, W)``: Bojanowski et al.'s (2018) Lap₁ loss, each level weighted so that
    it counts equally (their 2^{2j}), which keeps fine detail where a squared error blurs.
    Level j is ``g_j − up(g_{j+1})`` with ``g_{j+1}`` a 2×2 average of ``g_j``; the last level
    is the coarsest ``g``."""
    total = x.new_zeros(())
    for level in range(levels):
        if level == levels - 1:
            return (total + (x - ref).abs().mean()) / levels
        coarse_x, coarse_ref = F.avg_pool2d(x, 2), F.avg_pool2d(ref, 2)
        detail_x = x - F.interpolate(coarse_x, scale_factor=2, mode="bilinear", align_corners=False)
        detail_ref = ref - F.interpolate(coarse_ref, scale_factor=2, mode="bilinear", align_corners=False)
        total = total + (detail_x - detail_ref).abs().mean()
        x, ref = coarse_x, coarse_ref
    return total


def train_gan(
    images: torch.Tensor,
    out_dir: str | Path,
    epochs: int,
    batch_size: int = 64,
    latent_dim: int = 128,
    width: int = 32,
    lr: float = 2e-4,
    seed: int = 0,
    resume: bool = False,
    max_steps: int | None = None,
    device: str | torch.device = "cpu",
) -> FaceDCGAN:
    """Train on ``images`` ``(N, 3, 64, 64)`` in [0, 1]; returns the EMA generator network.

    ``max_steps`` stops early (for smoke tests); ``resume`` continues from
    ``out_dir/checkpoint.pt``. ``device``: where the networks and the images (as uint8)
    live; checkpoints and the export load on any device.
    """
    if images.dim() != 4 or images.shape[1:] != (3, 64, 64):
        raise ValueError(f"expected images of shape (N, 3, 64, 64), got {tuple(images.shape)}")
    if images.shape[0] < batch_size:
        raise ValueError(f"need at least batch_size={batch_size} images, got {images.shape[0]}")
    out = Path(out_dir)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    data = (images * 255).round().to(torch.uint8).to(device)  # compact in memory

    G, D = FaceDCGAN(latent_dim, width).to(device), FaceDiscriminator(width).to(device)
    G_ema = copy.deepcopy(G).eval()
    opt_G = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    fixed_z = torch.randn(64, latent_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    ckpt_path = out / "checkpoint.pt"
    parts = {"G": G, "D": D, "G_ema": G_ema, "opt_G": opt_G, "opt_D": opt_D}
    start_epoch, history = _resume(ckpt_path, parts, device) if resume else (0, [])

    steps_per_epoch = data.shape[0] // batch_size
    step = start_epoch * steps_per_epoch
    for epoch in range(start_epoch, epochs):
        t0 = time.time()
        order = torch.randperm(data.shape[0]).to(device)
        bar = progress_bar(range(steps_per_epoch), f"epoch {epoch + 1}/{epochs}")
        sums = {"loss_D": 0.0, "loss_G": 0.0}
        for i in bar:
            real = data[order[i * batch_size : (i + 1) * batch_size]].float() / 127.5 - 1
            flip = torch.rand(batch_size, device=device) < 0.5
            real[flip] = real[flip].flip(-1)

            fake = G(torch.randn(batch_size, latent_dim, device=device))
            loss_D = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
            opt_D.zero_grad(set_to_none=True)
            loss_D.backward()
            opt_D.step()

            loss_G = F.softplus(-D(fake)).mean()
            opt_G.zero_grad(set_to_none=True)
            loss_G.backward()
            opt_G.step()
            _update_ema(G_ema, G, EMA_DECAY)

            sums["loss_D"] += loss_D.item()
            sums["loss_G"] += loss_G.item()
            bar.set_postfix(D=f"{loss_D.item():.3f}", G=f"{loss_G.item():.3f}")
            step += 1
            if max_steps is not None and step >= max_steps:
                break
        seconds = time.time() - t0
        recalibrate_batchnorm(G_ema)
        with torch.no_grad():
            save_grid((G_ema(fixed_z) + 1) / 2, out / "samples" / f"epoch_{epoch + 1:03d}.png", nrow=8)
        _end_epoch(ckpt_path, parts, history, epoch + 1, seconds, {k: v / (i + 1) for k, v in sums.items()})
        if max_steps is not None and step >= max_steps:
            break
    recalibrate_batchnorm(G_ema)
    export_generator(G_ema, out / "face64.pt")
    return G_ema


def finetune_reconstruction(
    images: torch.Tensor,
    out_dir: str | Path,
    init: str | Path,
    epochs: int,
    batch_size: int = 64,
    lr: float = 1e-4,
    lr_latent: float = 3e-2,
    adv_weight: float = 0.0,
    pixel_loss: str = "mse",
    perceptual_weight: float = 0.0,
    latents: str = "per-face",
    seed: int = 0,
    resume: bool = False,
    max_steps: int | None = None,
    device: str | torch.device = "cpu",
) -> FaceDCGAN:
    """Make the range of a trained generator cover the data: GLO-style fine-tuning.

    Bojanowski et al. (2018), "Optimizing the latent space of generative networks": every
    training face ``x_i`` gets its own latent ``z_i`` on the sphere of radius √d (where
    ``N(0, I)`` draws concentrate, so random CSGM starts stay typical), and the weights θ of
    the generator ``init`` (an ``invgen train`` export) and the latents are fitted jointly,

        min_{θ, z}  Σ_i ℓ(G_θ(z_i), x_i) / n  +  adv_weight · softplus(−D(G_θ(z̃)))

    with ``ℓ`` the pixel loss (``"mse"``, or ``"laplacian-l1"``: :func:`laplacian_pyramid_l1`,
    GLO's own choice, which blurs less) plus ``perceptual_weight`` times the ST-LPIPS distance
    of the images in [0, 1] (:class:`invgen.metrics.STLPIPS`, a frozen feature network, on
    the first :data:`PERCEPTUAL_FACES` faces of each batch: an unbiased estimate of the mean), and
    where the optional adversarial term (``adv_weight`` > 0; the non-saturating loss
    against a spectrally normalised discriminator trained alongside on real faces, on
    reconstructions and on samples ``z̃ ~ N(0, I)``) keeps samples and reconstructions
    sharp. The generator runs in eval mode (batch norm from its fixed running statistics),
    exactly as the solvers use it.

    ``latents="encoder"`` replaces the per-face latents (each moved once per epoch) by an
    encoder trained jointly, ``z_i = E(A⁺A x_i)`` with ``A`` drawn per batch as in
    :func:`train_encoder` (``lr_latent`` is then the encoder's learning rate): every step
    improves the codes of all faces, and the encoder that comes out starts the latent
    search (:func:`invgen.solvers.encoder_starts`); it is written as ``encoder.pt``.
    Checkpoints, samples and the export as :func:`train_gan`; returns the fine-tuned network.
    """
    if latents not in ("per-face", "encoder"):
        raise ValueError(f"latents must be 'per-face' or 'encoder', got {latents!r}")
    if pixel_loss not in PIXEL_LOSSES:
        raise ValueError(f"pixel_loss must be one of {PIXEL_LOSSES}, got {pixel_loss!r}")
    perceptual = STLPIPS("alex").to(device) if perceptual_weight > 0 else None
    out = Path(out_dir)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    data = (images * 255).round().to(torch.uint8).to(device)
    G = load_face64(init).network.to(device).eval()
    d = G.latent_dim
    if latents == "encoder":
        codes = FaceEncoder(d, G.width).to(device)
        opt_z = torch.optim.Adam(codes.parameters(), lr=lr_latent)
        operators = degradations(tuple(images.shape[1:]), device=device)
    else:
        start = torch.randn(len(data), d, generator=torch.Generator().manual_seed(seed))
        codes = torch.nn.Embedding(len(data), d, sparse=True).to(device)
        with torch.no_grad():
            codes.weight.copy_(F.normalize(start, dim=1) * d**0.5)
        opt_z = torch.optim.SparseAdam(codes.parameters(), lr=lr_latent)
    opt_G = torch.optim.Adam(G.parameters(), lr=lr)
    D = FaceDiscriminator(G.width).to(device) if adv_weight > 0 else None
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999)) if D is not None else None
    fixed_z = torch.randn(64, d, generator=torch.Generator().manual_seed(seed)).to(device)

    ckpt_path = out / "checkpoint.pt"
    parts = {"G": G, "latents": codes, "opt_G": opt_G, "opt_z": opt_z}
    if D is not None:
        parts.update(D=D, opt_D=opt_D)
    start_epoch, history = _resume(ckpt_path, parts, device) if resume else (0, [])

    steps_per_epoch = len(data) // batch_size
    step = start_epoch * steps_per_epoch
    for epoch in range(start_epoch, epochs):
        t0 = time.time()
        order = torch.randperm(len(data)).to(device)
        sums = {"mse": 0.0, "loss_D": 0.0, "loss_adv": 0.0, "laplacian_l1": 0.0, "st_lpips": 0.0}
        bar = progress_bar(range(steps_per_epoch), f"epoch {epoch + 1}/{epochs}")
        for i in bar:
            idx = order[i * batch_size : (i + 1) * batch_size]
            real = data[idx].float() / 127.5 - 1
            recon = G(codes(degrade((real + 1) / 2, operators)) if latents == "encoder" else codes(idx))
            mse = (recon - real).square().mean()
            loss = mse
            if pixel_loss == "laplacian-l1":
                loss = laplacian_pyramid_l1(recon, real)
                sums["laplacian_l1"] += loss.item()
            if perceptual is not None:
                part = slice(0, PERCEPTUAL_FACES)
                distance = perceptual((recon[part] + 1) / 2, (real[part] + 1) / 2).mean()
                loss = loss + perceptual_weight * distance
                sums["st_lpips"] += distance.item()
            if D is not None:
                fake = torch.cat([recon, G(torch.randn(batch_size, d, device=device))])
                loss_D = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
                opt_D.zero_grad(set_to_none=True)
                loss_D.backward()
                opt_D.step()
                loss_adv = F.softplus(-D(fake)).mean()
                loss = loss + adv_weight * loss_adv
                sums["loss_D"] += loss_D.item()
                sums["loss_adv"] += loss_adv.item()
            opt_G.zero_grad(set_to_none=True)
            opt_z.zero_grad(set_to_none=True)
            loss.backward()
            opt_G.step()
            opt_z.step()
            if latents == "per-face":
                with torch.no_grad():  # back onto the sphere of radius √d
                    codes.weight[idx] = F.normalize(codes.weight[idx], dim=1) * d**0.5
            sums["mse"] += mse.item()
            bar.set_postfix(mse=f"{mse.item():.4f}")
            step += 1
            if max_steps is not None and step >= max_steps:
                break
        seconds = time.time() - t0
        with torch.no_grad():
            save_grid((G(fixed_z) + 1) / 2, out / "samples" / f"epoch_{epoch + 1:03d}.png", nrow=8)
        _end_epoch(ckpt_path, parts, history, epoch + 1, seconds, {k: v / (i + 1) for k, v in sums.items()})
        if max_steps is not None and step >= max_steps:
            break
    export_generator(G, out / "face64.pt")
    if latents == "encoder":
        export_encoder(codes, out / "encoder.pt")
    return G


def degradations(shape: tuple[int, int, int], factors: tuple[int, ...] = (1, 2, 4, 8),
                 device: str | torch.device = "cpu") -> list[SuperResolution | None]:
    """What an encoder learns to see through: identity (``None``, factor 1) and
    super-resolution by the other ``factors``."""
    return [None if f == 1 else SuperResolution(shape, f).to(device) for f in factors]


def degrade(x: torch.Tensor, operators: list[SuperResolution | None]) -> torch.Tensor:
    """``clip(A⁺A x)`` for one operator ``A`` drawn from ``operators`` (``x`` itself for ``None``)."""
    A = operators[int(torch.randint(len(operators), ()))]
    return x if A is None else A.pinv(A(x)).clamp(0, 1)


def train_encoder(
    images: torch.Tensor,
    out_dir: str | Path,
    generator: str | Path,
    epochs: int,
    batch_size: int = 64,
    lr: float = 2e-4,
    factors: tuple[int, ...] = (1, 2, 4, 8),
    seed: int = 0,
    resume: bool = False,
    max_steps: int | None = None,
    device: str | torch.device = "cpu",
) -> FaceEncoder:
    """Train a :class:`~invgen.generators.encoder.FaceEncoder` for the fixed ``generator``
    (an ``invgen train`` export): ``min_E Σ ‖G(E(A⁺A x)) − x‖²`` over the training faces,
    with ``A`` drawn per batch among identity (factor 1) and ``SuperResolution`` by the
    other ``factors``. Writes ``checkpoint.pt`` every epoch and ``encoder.pt`` at the end.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    data = (images * 255).round().to(torch.uint8).to(device)
    G = load_face64(generator).to(device).eval().requires_grad_(False)
    E = FaceEncoder(G.latent_dim, G.network.width).to(device)
    opt = torch.optim.Adam(E.parameters(), lr=lr)
    operators = degradations(tuple(images.shape[1:]), factors, device)
    ckpt_path = out / "checkpoint.pt"
    parts = {"E": E, "opt": opt}
    start_epoch, history = _resume(ckpt_path, parts, device) if resume else (0, [])

    steps_per_epoch = len(data) // batch_size
    step = start_epoch * steps_per_epoch
    for epoch in range(start_epoch, epochs):
        t0 = time.time()
        order = torch.randperm(len(data)).to(device)
        total = 0.0
        bar = progress_bar(range(steps_per_epoch), f"epoch {epoch + 1}/{epochs}")
        for i in bar:
            x = data[order[i * batch_size : (i + 1) * batch_size]].float() / 255
            loss = (G(E(degrade(x, operators))) - x).square().mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
            bar.set_postfix(mse=f"{loss.item():.4f}")
            step += 1
            if max_steps is not None and step >= max_steps:
                break
        _end_epoch(ckpt_path, parts, history, epoch + 1, time.time() - t0, {"mse": total / (i + 1)})
        if max_steps is not None and step >= max_steps:
            break
    export_encoder(E, out / "encoder.pt")
    return E.eval()


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or Parser(prog="invgen train", description=__doc__,
                                               formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(parser, "the train split (ids 000001–009000) is used")
    parser.add_argument("--out", default="runs/face64", help="folder for checkpoints, samples and face64.pt")
    parser.add_argument("--epochs", type=positive_int, default=40)
    parser.add_argument("--batch-size", type=positive_int, default=64)
    parser.add_argument("--latent-dim", type=positive_int, default=128)
    parser.add_argument("--width", type=positive_int, default=32, help="channel width w of both networks")
    parser.add_argument("--lr", type=positive_float, default=None,
                        help="generator learning rate (default 2e-4 for --recipe gan, 1e-4 for recon)")
    parser.add_argument("--recipe", default="gan", choices=["gan", "recon", "encoder"],
                        help="gan: train from scratch; recon: fine-tune --init so its range covers the "
                             "training faces (GLO, one latent per face); encoder: train the encoder that "
                             "starts the latent search, for the fixed generator --init")
    parser.add_argument("--init", default=None, help="recon, encoder: the generator file (face64.pt)")
    parser.add_argument("--latents", default="per-face", choices=["per-face", "encoder"],
                        help="recon: one free latent per face (GLO), or an encoder trained jointly")
    parser.add_argument("--lr-latent", type=positive_float, default=None,
                        help="recon: learning rate of the per-face latents (default 3e-2) or of the encoder (5e-4)")
    parser.add_argument("--adv-weight", type=nonnegative_float, default=0.0,
                        help="recon: weight of an adversarial term that keeps images sharp (0 = none)")
    parser.add_argument("--pixel-loss", default="mse", choices=PIXEL_LOSSES,
                        help="recon: the pixel term, mean squared error or GLO's Laplacian-pyramid L1")
    parser.add_argument("--perceptual-weight", type=nonnegative_float, default=0.0,
                        help="recon: weight of an ST-LPIPS term between reconstruction and face (0 = none)")
    parser.add_argument("--seed", type=random_seed, default=0)
    parser.add_argument("--max-images", type=positive_int, default=None, help="use only the first N train images")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    add_device_argument(parser)
    return parser


def check_run(args: argparse.Namespace) -> None:
    """Every check of ``invgen train`` that needs no training image: the recipe's generator
    (``--init``, read once), ``--out``, the device, and how many images the split holds
    against ``--max-images`` and ``--batch-size``. :class:`UsageError` (or the loaders'
    one-line errors) otherwise."""
    resolve_device(args.device)
    check_output_folder(args.out)
    if args.recipe != "gan":
        if args.init is None:
            raise UsageError(f"--recipe {args.recipe} needs a trained generator: pass --init PATH (face64.pt)")
        load_face64(args.init)
    try:
        available = len(celeba_paths(args.data, "train", args.max_images))
    except ValueError as err:
        raise UsageError(f"--max-images {args.max_images}: {err}") from None
    if available < args.batch_size:
        raise UsageError(f"--batch-size {args.batch_size} is larger than the {available} training images")


def run(args: argparse.Namespace) -> None:
    check_run(args)  # before loading 9,000 images
    print(f"loading CelebA train split from {args.data} ...", flush=True)
    images = load_celeba(args.data, "train", n=args.max_images)
    where = "cuda" if args.device == "cuda" else f"{torch.get_num_threads()} CPU threads"
    print(f"{images.shape[0]} images; training {args.epochs} epochs on {where}", flush=True)
    if args.recipe == "encoder":
        train_encoder(images, args.out, args.init, args.epochs, batch_size=args.batch_size, lr=args.lr or 2e-4,
                      seed=args.seed, resume=args.resume, device=args.device)
        print(f"wrote {Path(args.out) / 'encoder.pt'}")
        return
    if args.recipe == "recon":
        finetune_reconstruction(images, args.out, args.init, args.epochs, batch_size=args.batch_size,
                                lr=args.lr or 1e-4, adv_weight=args.adv_weight, latents=args.latents,
                                pixel_loss=args.pixel_loss, perceptual_weight=args.perceptual_weight,
                                lr_latent=args.lr_latent or (5e-4 if args.latents == "encoder" else 3e-2),
                                seed=args.seed, resume=args.resume, device=args.device)
    else:
        train_gan(images, args.out, args.epochs, batch_size=args.batch_size, latent_dim=args.latent_dim,
                  width=args.width, lr=args.lr or 2e-4, seed=args.seed, resume=args.resume, device=args.device)
    print(f"wrote {Path(args.out) / 'face64.pt'}")


if __name__ == "__main__":
    run(build_parser().parse_args())
