"""The original LPIPS (Zhang et al., CVPR 2018) through the ``lpips`` package, for users whose
torch hub cache holds torchvision's ImageNet backbone. invgen never downloads it; the
distance that always runs offline is :func:`invgen.metrics.st_lpips`."""
from __future__ import annotations

import importlib
from pathlib import Path

import torch

from invgen.metrics.distortion import check_pair

# torchvision's ImageNet checkpoints that lpips' backbones load (torchvision ≥ 0.13 names).
BACKBONE_CHECKPOINTS = {
    "alex": "alexnet-owt-7be5be79.pth",
    "vgg": "vgg16-397923af.pth",
    "squeeze": "squeezenet1_1-b8a52dc0.pth",
}
_lpips_models: dict[tuple[str, str], torch.nn.Module] = {}


def backbone_checkpoint(net: str) -> Path:
    """Where torchvision looks for the ``net`` backbone's weights (``torch.hub`` cache)."""
    if net not in BACKBONE_CHECKPOINTS:
        raise ValueError(f"net must be one of {sorted(BACKBONE_CHECKPOINTS)}, got {net!r}")
    return Path(torch.hub.get_dir()) / "checkpoints" / BACKBONE_CHECKPOINTS[net]


def _import_lpips(checkpoint: Path):
    try:
        importlib.import_module("torchvision")
        return importlib.import_module("lpips")
    except ImportError as error:
        raise ImportError(
            f"LPIPS needs the lpips and torchvision packages ({error.name} is missing): "
            f'pip install "invgen[lpips]", then put torchvision\'s {checkpoint.name} at {checkpoint} '
            "(invgen never downloads it)"
        ) from error


def lpips_available(net: str = "alex") -> bool:
    """Whether :func:`lpips` can run here without downloading anything.

    True when the backbone's weights are at :func:`backbone_checkpoint` and the ``lpips``
    and ``torchvision`` packages import.
    """
    checkpoint = backbone_checkpoint(net)
    if not checkpoint.is_file():
        return False
    try:
        _import_lpips(checkpoint)
    except ImportError:
        return False
    return True


def lpips(x: torch.Tensor, ref: torch.Tensor, net: str = "alex") -> torch.Tensor:
    """Learned perceptual distance (Zhang et al., CVPR 2018) per image; lower is closer.

    Uses the ``lpips`` package (v0.1 linear heads, shipped with it) on a torchvision
    ``net`` backbone (``"alex"``, ``"vgg"`` or ``"squeeze"``). Nothing is ever downloaded:
    the backbone's ImageNet weights must already be in the torch hub cache,
    :func:`backbone_checkpoint` (``$TORCH_HOME/hub/checkpoints/…``); otherwise this raises
    ``FileNotFoundError`` saying which file to put there. ``x`` and ``ref`` are in [0, 1].
    """
    check_pair(x, ref)
    checkpoint = backbone_checkpoint(net)
    lpips_package = _import_lpips(checkpoint)
    if not checkpoint.is_file():
        raise FileNotFoundError(
            f"LPIPS(net={net!r}) needs torchvision's ImageNet weights at {checkpoint}, and invgen never "
            f"downloads them. On a machine with internet, get "
            f"https://download.pytorch.org/models/{checkpoint.name} and copy it to that path "
            "(or set TORCH_HOME to a folder whose hub/checkpoints/ holds it)."
        )
    key = (net, str(x.device))
    if key not in _lpips_models:
        _lpips_models[key] = lpips_package.LPIPS(net=net, verbose=False).eval().to(x.device)
    with torch.no_grad():
        return _lpips_models[key](x.float(), ref.float(), normalize=True).flatten()
