"""The ``adapt`` recipe of ``invgen train``: a generator pretrained elsewhere (e.g. a DCGAN
``netG`` trained on a million synthetic faces) brought to the training faces.

Objective, jointly over the weights θ of the pretrained network and one latent ``z_i`` per
training face (GLO, Bojanowski et al. 2018; ``z_i`` kept on the sphere of radius √d where
``N(0, I)`` draws concentrate; each starts at the nearest of ``init_samples`` samples of the
pretrained network, by the squared distance at 16×16, so that the generator is not first
taught to map random latents to faces):

    min_{θ, z}  Σ_i ℓ(G_θ(z_i), x_i) / n  +  adv_weight · E_z̃ softplus(−D(G_θ(z̃)))

with ``ℓ`` GLO's :func:`~invgen.app.train_parts.laplacian_pyramid_l1` (or the squared error),
``z̃ ~ N(0, I)``, and a spectrally normalised discriminator trained alongside with the
non-saturating logistic loss on real faces against reconstructions and samples, plus the R1
penalty ``r1_weight/2 · E‖∇ₓD(x)‖²`` on real faces (Mescheder et al. 2018). The
reconstruction term makes the range cover real faces (what the solvers search); the
adversarial term keeps samples and reconstructions sharp. What is exported is an
exponential moving average of θ (``ema_decay``), the network run in eval mode throughout
(as the solvers run it: batch-norm statistics frozen).

The export keeps the pretrained file's layout, so the same loader reads it: a DCGAN
``netG`` is written as ``{"netG_state_dict": …}`` (``dcgan:OUT/generator.pt``), the
default architecture as an ``invgen train`` export (``OUT/generator.pt``).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from invgen.app.parallel import Team
from invgen.app.train_loop import CHECKPOINT, Batch, fit
from invgen.app.train_parts import PIXEL_LOSSES, export_generator, half_state, laplacian_pyramid_l1, sampler, start
from invgen.generators import load_generator
from invgen.generators.dcgan import DCGANGenerator
from invgen.generators.face64 import FaceDCGAN, FaceDiscriminator

EXPORT = "generator.pt"


@dataclass(frozen=True)
class AdaptSettings:
    batch_size: int = 64
    lr: float = 5e-5  # the pretrained generator's: small, so that what it knows is kept
    lr_latent: float = 3e-2  # the per-face latents'
    adv_weight: float = 0.02
    r1_weight: float = 1.0
    ema_decay: float = 0.998
    pixel_loss: str = "laplacian-l1"
    disc_width: int = 64
    init_samples: int = 16384

    def __post_init__(self) -> None:
        if self.pixel_loss not in PIXEL_LOSSES:
            raise ValueError(f"pixel_loss must be one of {PIXEL_LOSSES}, got {self.pixel_loss!r}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must lie in [0, 1), got {self.ema_decay}")


def export_network(network: torch.nn.Module, path: Path) -> str:
    """Write ``network`` in its loader's layout (float16); returns the spec that loads it."""
    if isinstance(network, FaceDCGAN):
        export_generator(network, path)
        return str(path)
    torch.save({"netG_state_dict": half_state(network)}, path)
    return f"dcgan:{path}"


def adaptable(spec: str) -> torch.nn.Module:
    """The network of the generator ``spec``, checked to be one :func:`adapt_pretrained` can export."""
    generator = load_generator(spec)
    if not isinstance(generator.network, (DCGANGenerator, FaceDCGAN)) or generator.image_shape() != (3, 64, 64):
        raise ValueError(f"--recipe adapt takes a 64×64 DCGAN netG (dcgan:FILE) or a face64 generator; "
                         f"{spec!r} is a {type(generator.network).__name__} of images {generator.image_shape()}")
    return generator.network


@torch.no_grad()
def nearest_latents(network: torch.nn.Module, faces: torch.Tensor, n_samples: int, seed: int,
                    chunk: int = 256) -> torch.Tensor:
    """For each face ``(N, 3, 64, 64)`` as uint8, the latent among ``n_samples``
    Gaussian draws whose image is nearest at 16×16; ``(N, d)`` on the sphere of radius √d."""
    d = network.latent_dim
    device = next(network.parameters()).device
    pool = torch.randn(n_samples, d, generator=torch.Generator().manual_seed(seed + 1))
    small = torch.cat([F.avg_pool2d(network(pool[i : i + chunk].to(device)), 4).flatten(1)
                       for i in range(0, n_samples, chunk)])
    nearest = torch.cat([torch.cdist(F.avg_pool2d(faces[i : i + chunk].float() / 127.5 - 1, 4).flatten(1), small)
                         .argmin(1) for i in range(0, len(faces), chunk)])
    return F.normalize(pool[nearest.cpu()], dim=1) * d**0.5


def adapt_pretrained(images: torch.Tensor, out_dir: str | Path, init: str, epochs: int, *, seed: int = 0,
                     resume: bool = False, max_steps: int | None = None, device: str | torch.device = "cpu",
                     team: Team = Team(), **settings) -> torch.nn.Module:
    """Adapt the generator ``init`` (a spec of :func:`invgen.generators.load_generator`) to
    ``images`` ``(N, 3, 64, 64)`` in [0, 1] with :class:`AdaptSettings` (see the module
    docstring); every epoch replaces ``OUT/checkpoint.pt`` and writes a sample grid of the
    EMA network; the end writes ``OUT/generator.pt``. Returns the EMA network (eval mode)."""
    s = AdaptSettings(**settings)
    data, out = start(images, out_dir, device, s.batch_size, seed)
    G = adaptable(init).to(device).eval()
    G_ema = copy.deepcopy(G).requires_grad_(False)
    d = G.latent_dim
    codes = torch.nn.Embedding(len(data), d, sparse=True).to(device)
    if not (resume and (out / CHECKPOINT).is_file()):  # a resumed run reads them from the checkpoint
        codes.weight.data.copy_(nearest_latents(G, data, s.init_samples, seed))
    D = FaceDiscriminator(s.disc_width).to(device)
    opt_G = torch.optim.Adam(G.parameters(), lr=s.lr, betas=(0.5, 0.999))
    opt_z = torch.optim.SparseAdam(codes.parameters(), lr=s.lr_latent)
    opt_D = torch.optim.Adam(D.parameters(), lr=4 * s.lr, betas=(0.5, 0.999))
    G_run, D_run = team.replicate(G), team.replicate(D)

    def step(batch: Batch) -> dict[str, float]:
        idx = batch.indices.to(device)
        real = data[idx].float() / 127.5 - 1
        recon = G_run(codes(idx))
        pixel = laplacian_pyramid_l1(recon, real) if s.pixel_loss == "laplacian-l1" else (recon - real).square().mean()
        fake = torch.cat([recon, G_run(batch.local(torch.randn(batch.size, d)).to(device))])
        real.requires_grad_(s.r1_weight > 0)  # one pass of D on the real faces serves its loss and R1
        on_real = D_run(real)
        loss_D = F.softplus(-on_real).mean() + F.softplus(D_run(fake.detach())).mean()
        terms = {"pixel": pixel.item(), "mse": (recon - real).square().mean().item(), "loss_D": loss_D.item()}
        if s.r1_weight > 0:
            (grad,) = torch.autograd.grad(on_real.sum(), real, create_graph=True)
            r1 = grad.square().flatten(1).sum(1).mean()
            loss_D = loss_D + s.r1_weight / 2 * r1
            terms["r1"] = r1.item()
        opt_D.zero_grad(set_to_none=True)
        loss_D.backward()
        opt_D.step()
        loss_adv = F.softplus(-D(fake)).mean()  # D itself: its gradients here are dropped
        loss = pixel + s.adv_weight * loss_adv
        terms["loss_adv"] = loss_adv.item()
        opt_G.zero_grad(set_to_none=True)
        opt_z.zero_grad(set_to_none=True)
        loss.backward()
        team.average_sparse_grad(codes.weight)
        opt_G.step()
        opt_z.step()
        with torch.no_grad():
            rows = batch.all.to(device)
            codes.weight[rows] = F.normalize(codes.weight[rows], dim=1) * d**0.5
            for p_ema, p in zip(G_ema.parameters(), G.parameters()):
                p_ema.lerp_(p, 1.0 - s.ema_decay)
        return terms

    fit(out, {"G": G, "G_ema": G_ema, "D": D, "latents": codes, "opt_G": opt_G, "opt_z": opt_z, "opt_D": opt_D},
        step, len(data), epochs, s.batch_size, resume=resume, max_steps=max_steps, device=device,
        end_epoch=sampler(G_ema, out, seed, device), team=team)
    if team.lead:
        export_network(G_ema, out / EXPORT)
    return G_ema
