"""What the training recipes share: the images as bytes, GLO's Laplacian-pyramid loss, the
degradations an encoder learns to see through, sample grids, batch-norm recalibration and
the generator's export."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from invgen.data import save_grid
from invgen.generators.face64 import FaceDCGAN
from invgen.operators import SuperResolution

PIXEL_LOSSES = ("mse", "laplacian-l1")
# The ST-LPIPS term of the reconstruction fine-tune sees this many faces of each batch: its
# stride-1 11×11 first layer costs about 2 s per 64 faces on one core, 10× the generator's step.
PERCEPTUAL_FACES = 16
# The factors of the degradations: identity (1) and super-resolution by the others.
FACTORS = (1, 2, 4, 8)


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


def degradations(shape: tuple[int, int, int], factors: tuple[int, ...] = FACTORS,
                 device: str | torch.device = "cpu") -> list[SuperResolution | None]:
    """What an encoder learns to see through: identity (``None``, factor 1) and
    super-resolution by the other ``factors``."""
    return [None if f == 1 else SuperResolution(shape, f).to(device) for f in factors]


def degrade(x: torch.Tensor, operators: list[SuperResolution | None]) -> torch.Tensor:
    """``clip(A⁺A x)`` for one operator ``A`` drawn from ``operators`` (``x`` itself for ``None``)."""
    A = operators[int(torch.randint(len(operators), ()))]
    return x if A is None else A.pinv(A(x)).clamp(0, 1)


def start(images: torch.Tensor, out_dir: str | Path, device: str | torch.device, batch_size: int,
          seed: int) -> tuple[torch.Tensor, Path]:
    """A recipe's start: ``images`` (N, 3, 64, 64) in [0, 1], checked, as uint8 on ``device``
    (compact in memory), the output folder (created), and torch's generator seeded."""
    if images.dim() != 4 or images.shape[1:] != (3, 64, 64):
        raise ValueError(f"expected images of shape (N, 3, 64, 64), got {tuple(images.shape)}")
    if images.shape[0] < batch_size:
        raise ValueError(f"need at least batch_size={batch_size} images, got {images.shape[0]}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    return (images * 255).round().to(torch.uint8).to(device), out


def sampler(G: torch.nn.Module, out: Path, seed: int, device: str | torch.device):
    """An ``end_epoch`` that writes ``samples/epoch_XXX.png``: 64 samples of ``G`` at latents fixed by ``seed``."""
    fixed_z = torch.randn(64, G.latent_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    (out / "samples").mkdir(parents=True, exist_ok=True)

    @torch.no_grad()
    def write(epoch: int) -> None:
        save_grid((G(fixed_z) + 1) / 2, out / "samples" / f"epoch_{epoch:03d}.png", nrow=8)

    return write


def half_state(network: torch.nn.Module) -> dict[str, torch.Tensor]:
    """``network``'s state dict on the CPU, floating-point tensors in float16 (exports of a few MB)."""
    return {k: v.cpu().half() if v.is_floating_point() else v.cpu() for k, v in network.state_dict().items()}


def export_generator(network: FaceDCGAN, path: str | Path) -> None:
    """Write a generator network as float16 weights plus its config (a few MB)."""
    torch.save({"config": {"latent_dim": network.latent_dim, "width": network.width},
                "state_dict": half_state(network)}, path)


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
