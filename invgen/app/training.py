"""The recipes of ``invgen train``, each a step of the one epoch loop (:mod:`invgen.app.train_loop`)
with its settings, defaults included, in one dataclass.

- ``gan`` (:func:`train_gan`, :class:`GANSettings`): the default 64×64 face GAN from scratch.
  Non-saturating logistic loss (Goodfellow et al. 2014), spectrally normalised
  discriminator, Adam (β = (0.5, 0.999)) for both networks, random horizontal flips, one
  discriminator step per generator step, and an exponential moving average of the
  generator's weights (decay 0.999), which is what is exported (``face64.pt``).
- ``recon`` (:func:`finetune_reconstruction`, :class:`ReconSettings`): GLO-style fine-tuning
  of a trained generator so that its range covers the training faces.
- ``encoder``: the encoder that starts the latent search, for a fixed generator, is
  :mod:`invgen.app.train_encoder`'s.

Every epoch writes ``checkpoint.pt`` (everything ``resume`` needs); the GAN and recon recipes
also write ``samples/epoch_XXX.png`` (64 samples at fixed latents). The end of training
(also of a resumed finished run) writes the export. With a ``team`` of ``torchrun`` processes
the networks train as ``DistributedDataParallel`` replicas on slices of each batch
(:mod:`~invgen.app.train_loop`): the same updates as one process on the whole batch, except
for the GAN generator's batch norm on CPUs, whose statistics are then each process's own
(on CUDA they are synchronised, ``SyncBatchNorm``).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from invgen.app.parallel import Team
from invgen.app.train_loop import Batch, fit
from invgen.app.train_parts import (
    PERCEPTUAL_FACES,
    PIXEL_LOSSES,
    degradations,
    degrade,
    export_generator,
    laplacian_pyramid_l1,
    recalibrate_batchnorm,
    sampler,
    start,
)
from invgen.generators.encoder import FaceEncoder, export_encoder
from invgen.generators.face64 import FaceDCGAN, FaceDiscriminator, load_face64
from invgen.metrics import STLPIPS

EMA_DECAY = 0.999
LATENT_LRS = {"per-face": 3e-2, "encoder": 5e-4}  # recon's lr_latent by latents, when not given


@dataclass(frozen=True)
class GANSettings:
    batch_size: int = 64
    latent_dim: int = 128
    width: int = 32  # channel width w of both networks
    lr: float = 2e-4


@dataclass(frozen=True)
class ReconSettings:
    batch_size: int = 64
    lr: float = 1e-4
    latents: str = "per-face"  # or "encoder": one trained jointly
    lr_latent: float | None = None  # None: LATENT_LRS[latents]
    adv_weight: float = 0.0
    pixel_loss: str = "mse"  # or "laplacian-l1"
    perceptual_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.latents not in LATENT_LRS:
            raise ValueError(f"latents must be 'per-face' or 'encoder', got {self.latents!r}")
        if self.pixel_loss not in PIXEL_LOSSES:
            raise ValueError(f"pixel_loss must be one of {PIXEL_LOSSES}, got {self.pixel_loss!r}")


def train_gan(images: torch.Tensor, out_dir: str | Path, epochs: int, *, seed: int = 0, resume: bool = False,
              max_steps: int | None = None, device: str | torch.device = "cpu", team: Team = Team(),
              **settings) -> FaceDCGAN:
    """Train on ``images`` ``(N, 3, 64, 64)`` in [0, 1] with :class:`GANSettings` (``settings``:
    any of its fields); returns the EMA generator network. ``max_steps`` stops early;
    ``resume`` continues from ``out_dir/checkpoint.pt``; ``device``: where the networks and
    the images (as uint8) live; checkpoints and the export load on any device."""
    s = GANSettings(**settings)
    data, out = start(images, out_dir, device, s.batch_size, seed)
    G, D = FaceDCGAN(s.latent_dim, s.width).to(device), FaceDiscriminator(s.width).to(device)
    G_ema = copy.deepcopy(G).eval()
    if team.joined and torch.device(device).type == "cuda":  # batch statistics of the global batch
        G = torch.nn.SyncBatchNorm.convert_sync_batchnorm(G)
    G_run, D_run = team.replicate(G), team.replicate(D)
    opt_G = torch.optim.Adam(G.parameters(), lr=s.lr, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), lr=s.lr, betas=(0.5, 0.999))

    def step(batch: Batch) -> dict[str, float]:
        real = data[batch.indices.to(device)].float() / 127.5 - 1
        flip = batch.local(torch.rand(batch.size) < 0.5).to(device)
        real[flip] = real[flip].flip(-1)
        fake = G_run(batch.local(torch.randn(batch.size, s.latent_dim)).to(device))
        loss_D = F.softplus(-D_run(real)).mean() + F.softplus(D_run(fake.detach())).mean()
        opt_D.zero_grad(set_to_none=True)
        loss_D.backward()
        opt_D.step()
        loss_G = F.softplus(-D(fake)).mean()  # D itself: its gradients here are dropped
        opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
        opt_G.step()
        with torch.no_grad():
            for p_ema, p in zip(G_ema.parameters(), G.parameters()):
                p_ema.lerp_(p, 1.0 - EMA_DECAY)
        return {"loss_D": loss_D.item(), "loss_G": loss_G.item()}

    samples = sampler(G_ema, out, seed, device)

    def end_epoch(epoch: int) -> None:
        recalibrate_batchnorm(G_ema)
        samples(epoch)

    fit(out, {"G": G, "D": D, "G_ema": G_ema, "opt_G": opt_G, "opt_D": opt_D}, step, len(data), epochs,
        s.batch_size, resume=resume, max_steps=max_steps, device=device, end_epoch=end_epoch, team=team)
    if team.lead:
        recalibrate_batchnorm(G_ema)
        export_generator(G_ema, out / "face64.pt")
    return G_ema


def finetune_reconstruction(images: torch.Tensor, out_dir: str | Path, init: str | Path, epochs: int, *,
                            seed: int = 0, resume: bool = False, max_steps: int | None = None,
                            device: str | torch.device = "cpu", team: Team = Team(), **settings) -> FaceDCGAN:
    """Make the range of a trained generator cover the data, GLO-style (Bojanowski et al. 2018,
    "Optimizing the latent space of generative networks"), with :class:`ReconSettings`.

    Each training face ``x_i`` gets a latent ``z_i`` on the sphere of radius √d (where
    ``N(0, I)`` draws concentrate, so random CSGM starts stay typical), fitted jointly with the
    weights θ of the generator ``init`` (an ``invgen train`` export, run in eval mode as the
    solvers run it): ``min_{θ,z} Σ_i ℓ(G_θ(z_i), x_i)/n + adv_weight·softplus(−D(G_θ(z̃)))``, with
    ``ℓ`` the pixel loss (``"mse"``, or GLO's :func:`laplacian_pyramid_l1`, which blurs less)
    plus ``perceptual_weight`` × ST-LPIPS (:class:`invgen.metrics.STLPIPS`, on the first
    :data:`PERCEPTUAL_FACES` faces of each batch: an unbiased estimate of the mean), and the
    optional adversarial term against a spectrally normalised discriminator trained alongside
    on real faces, reconstructions and samples ``z̃ ~ N(0, I)``, which keeps them sharp.
    ``latents="encoder"`` replaces the per-face latents by an encoder trained jointly,
    ``z_i = E(A⁺A x_i)`` with ``A`` drawn per batch as in :func:`~invgen.app.train_encoder.train_encoder` (``lr_latent``
    is its learning rate); it is written as ``encoder.pt`` and starts the latent search
    (:func:`invgen.solvers.encoder_starts`). Checkpoints, samples and the export as
    :func:`train_gan`; returns the fine-tuned network.
    """
    s = ReconSettings(**settings)
    perceptual = STLPIPS("alex").to(device) if s.perceptual_weight > 0 else None
    data, out = start(images, out_dir, device, s.batch_size, seed)
    G = load_face64(init).network.to(device).eval()
    d = G.latent_dim
    lr_latent = s.lr_latent if s.lr_latent is not None else LATENT_LRS[s.latents]
    if s.latents == "encoder":
        codes = FaceEncoder(d, G.width).to(device)
        opt_z = torch.optim.Adam(codes.parameters(), lr=lr_latent)
        operators = degradations(tuple(images.shape[1:]), device=device)
    else:
        first = torch.randn(len(data), d, generator=torch.Generator().manual_seed(seed))
        codes = torch.nn.Embedding(len(data), d, sparse=True).to(device)
        with torch.no_grad():
            codes.weight.copy_(F.normalize(first, dim=1) * d**0.5)
        opt_z = torch.optim.SparseAdam(codes.parameters(), lr=lr_latent)
    opt_G = torch.optim.Adam(G.parameters(), lr=s.lr)
    parts = {"G": G, "latents": codes, "opt_G": opt_G, "opt_z": opt_z}
    D = None
    if s.adv_weight > 0:
        D = FaceDiscriminator(G.width).to(device)
        opt_D = torch.optim.Adam(D.parameters(), lr=GANSettings.lr, betas=(0.5, 0.999))
        parts.update(D=D, opt_D=opt_D)
        D_run = team.replicate(D)
    G_run, encoder = team.replicate(G), team.replicate(codes) if s.latents == "encoder" else None
    seen = min(PERCEPTUAL_FACES, s.batch_size)  # the faces of each batch the ST-LPIPS term sees

    def step(batch: Batch) -> dict[str, float]:
        idx = batch.indices.to(device)
        real = data[idx].float() / 127.5 - 1
        recon = G_run(encoder(degrade((real + 1) / 2, operators)) if encoder is not None else codes(idx))
        mse = (recon - real).square().mean()
        terms = {"mse": mse.item()}
        loss = mse
        if s.pixel_loss == "laplacian-l1":
            loss = laplacian_pyramid_l1(recon, real)
            terms["laplacian_l1"] = loss.item()
        if perceptual is not None:  # the mean over the global batch's first faces, this process's share of it
            k = min(max(seen - batch.offset, 0), len(idx))
            distance = (perceptual((recon[:k] + 1) / 2, (real[:k] + 1) / 2).sum() * batch.world / seen if k
                        else recon.new_zeros(()))
            loss = loss + s.perceptual_weight * distance
            terms["st_lpips"] = distance.item()
        if D is not None:
            fake = torch.cat([recon, G_run(batch.local(torch.randn(batch.size, d)).to(device))])
            loss_D = F.softplus(-D_run(real)).mean() + F.softplus(D_run(fake.detach())).mean()
            opt_D.zero_grad(set_to_none=True)
            loss_D.backward()
            opt_D.step()
            loss_adv = F.softplus(-D(fake)).mean()
            loss = loss + s.adv_weight * loss_adv
            terms.update(loss_D=loss_D.item(), loss_adv=loss_adv.item())
        opt_G.zero_grad(set_to_none=True)
        opt_z.zero_grad(set_to_none=True)
        loss.backward()
        if encoder is None:  # every process updates every face of the global batch, as one process would
            team.average_sparse_grad(codes.weight)
        opt_G.step()
        opt_z.step()
        if encoder is None:
            with torch.no_grad():  # back onto the sphere of radius √d
                rows = batch.all.to(device)
                codes.weight[rows] = F.normalize(codes.weight[rows], dim=1) * d**0.5
        return terms

    fit(out, parts, step, len(data), epochs, s.batch_size, resume=resume, max_steps=max_steps, device=device,
        end_epoch=sampler(G, out, seed, device), team=team)
    if team.lead:
        export_generator(G, out / "face64.pt")
        if encoder is not None:
            export_encoder(codes, out / "encoder.pt")
    return G
