"""PSNR, SSIM (against a direct implementation of Wang et al.'s formula) and LPIPS's offline errors."""
import importlib.util
import math
from typing import ClassVar

import numpy as np
import pytest
import torch
from torch import nn

from invgen.metrics import lpips_package
from invgen.metrics import backbone_checkpoint, lpips, psnr, ssim


def test_psnr_per_image():
    ref = torch.zeros(3, 1, 8, 8)
    x = ref.clone()
    x[0] += 0.1  # MSE 1e-2 → 20 dB
    x[1] += 0.01  # MSE 1e-4 → 40 dB
    value = psnr(x, ref)
    assert value.shape == (3,)
    torch.testing.assert_close(value[:2], torch.tensor([20.0, 40.0]))
    assert value[2] == math.inf
    torch.testing.assert_close(psnr(255 * x[:2], 255 * ref[:2], data_range=255.0), value[:2])


def reference_ssim(x: np.ndarray, ref: np.ndarray, data_range: float = 1.0) -> float:
    """Wang et al. 2004, eq. (13) window by window: 11×11 Gaussian (σ 1.5), valid positions."""
    t = np.arange(11) - 5
    w = np.exp(-(t[:, None] ** 2 + t[None, :] ** 2) / (2 * 1.5**2))
    w /= w.sum()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    values = []
    for a, b in zip(x, ref):  # channels
        for i in range(a.shape[0] - 10):
            for j in range(a.shape[1] - 10):
                pa, pb = a[i : i + 11, j : j + 11], b[i : i + 11, j : j + 11]
                mu_a, mu_b = (w * pa).sum(), (w * pb).sum()
                var_a, var_b = (w * (pa - mu_a) ** 2).sum(), (w * (pb - mu_b) ** 2).sum()
                cov = (w * (pa - mu_a) * (pb - mu_b)).sum()
                values.append((2 * mu_a * mu_b + c1) * (2 * cov + c2) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)))
    return float(np.mean(values))


def test_ssim_matches_the_formula_window_by_window():
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(2, 2, 14, 13, generator=g)
    x = (ref + 0.2 * torch.randn(2, 2, 14, 13, generator=g)).clamp(0, 1)
    value = ssim(x, ref)
    expected = [reference_ssim(x[i].double().numpy(), ref[i].double().numpy()) for i in range(2)]
    torch.testing.assert_close(value, torch.tensor(expected, dtype=torch.float32), atol=1e-5, rtol=0)


def test_ssim_is_one_for_identical_images_and_falls_with_noise():
    g = torch.Generator().manual_seed(1)
    ref = torch.rand(1, 3, 16, 16, generator=g)
    noise = torch.randn(1, 3, 16, 16, generator=g)
    scores = [ssim(ref + s * noise, ref).item() for s in (0.0, 0.05, 0.2)]
    assert scores[0] == pytest.approx(1.0, abs=1e-6)
    assert scores[0] > scores[1] > scores[2]
    with pytest.raises(ValueError, match="11×11"):
        ssim(ref[..., :10, :10], ref[..., :10, :10])
    with pytest.raises(ValueError, match="same shape"):
        ssim(ref, ref[:, :1])


@pytest.mark.skipif(
    importlib.util.find_spec("lpips") is not None and importlib.util.find_spec("torchvision") is not None,
    reason="lpips and torchvision are installed",
)
def test_lpips_without_the_packages_says_how_to_install_them():
    with pytest.raises(ImportError, match=r'pip install "invgen\[lpips\]".*alexnet-owt-7be5be79\.pth'):
        lpips(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32))


class FakeLPIPS(nn.Module):
    """Stands in for lpips.LPIPS: records how it was built, never touches the network."""

    built: ClassVar[list] = []

    def __init__(self, net, verbose):
        super().__init__()
        FakeLPIPS.built.append(net)

    def forward(self, x, ref, normalize):
        assert normalize  # invgen's images are in [0, 1]
        return (x - ref).abs().mean((1, 2, 3), keepdim=True)


@pytest.fixture
def fake_lpips(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    monkeypatch.setattr(lpips_package, "_import_lpips", lambda checkpoint: type("lpips", (), {"LPIPS": FakeLPIPS}))
    monkeypatch.setattr(lpips_package, "_lpips_models", {})
    FakeLPIPS.built.clear()
    return tmp_path


def test_lpips_without_the_backbone_weights_fails_fast_saying_where_to_put_them(fake_lpips):
    path = fake_lpips / "hub" / "checkpoints" / "vgg16-397923af.pth"
    assert backbone_checkpoint("vgg") == path
    with pytest.raises(FileNotFoundError, match="vgg16-397923af.pth") as error:
        lpips(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32), net="vgg")
    assert str(path) in str(error.value)
    assert FakeLPIPS.built == []  # nothing was constructed (which would try to download)
    with pytest.raises(ValueError, match="net must be one of"):
        lpips(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32), net="resnet")


def test_lpips_with_the_weights_in_the_cache_gives_one_distance_per_image(fake_lpips):
    path = backbone_checkpoint("alex")
    path.parent.mkdir(parents=True)
    path.touch()
    x, ref = torch.rand(3, 3, 32, 32), torch.rand(3, 3, 32, 32)
    value = lpips(x, ref)
    lpips(x, ref)
    assert value.shape == (3,)
    assert FakeLPIPS.built == ["alex"]  # built once, then reused
