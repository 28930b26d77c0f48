"""HaarPSI and MS-GMSD: the values of an outside implementation (piq), the properties of a
similarity index, and the one scorer (`invgen.metrics.scores`) every report uses."""
from __future__ import annotations

import importlib.util
import math
import sys
import types
from importlib import resources

import pytest
import torch
import torch.nn.functional as F

from invgen.data import read_image
from invgen.metrics import haarpsi, ms_gmsd, scores


def astronaut() -> torch.Tensor:
    with resources.as_file(resources.files("invgen") / "assets" / "astronaut_face_64.png") as path:
        return read_image(path).double()


def distorted(face: torch.Tensor) -> torch.Tensor:
    """Four distortions of one image: a 3×3 box blur, sine stripes, a shift by (1, 2) pixels, darkening."""
    blurred = F.avg_pool2d(face[None], 3, stride=1, padding=1, count_include_pad=False)[0]
    i = torch.arange(face.shape[-1], dtype=torch.float64)
    stripes = (face + 0.08 * torch.sin(i[:, None] * 1.3 + i[None, :] * 0.7)).clamp(0, 1)
    shifted = torch.roll(face, shifts=(1, 2), dims=(1, 2))
    return torch.stack([blurred, stripes, shifted, 0.8 * face])


# Computed once with piq 0.8.0 (piq.haarpsi.haarpsi and piq.gmsd.multi_scale_gmsd, default
# arguments, reduction="none", float64), loading the two modules without piq's package
# __init__ (which imports torchvision): `distorted(astronaut())` against the astronaut face, and
# for grey, odd-sized images a box blur and an affine change of `astronaut().mean(0)[5:50, 3:60]`.
PIQ_HAARPSI_RGB = [0.931889, 0.822947, 0.538799, 0.963030]
PIQ_MS_GMSD_RGB = [0.038849, 0.070153, 0.194724, 0.007322]
PIQ_HAARPSI_GREY = [0.909653, 0.985655]
PIQ_MS_GMSD_GREY = [0.036865, 0.010276]


def grey_pair() -> tuple[torch.Tensor, torch.Tensor]:
    grey = astronaut().mean(0, keepdim=True)[:, 5:50, 3:60]
    x = torch.stack([F.avg_pool2d(grey[None], 3, stride=1, padding=1, count_include_pad=False)[0], 0.9 * grey + 0.05])
    return x, grey.expand_as(x)


def test_haarpsi_and_ms_gmsd_give_piqs_values_on_colour_and_odd_sized_grey_images():
    x = distorted(astronaut())
    ref = astronaut().expand_as(x)
    torch.testing.assert_close(haarpsi(x, ref), torch.tensor(PIQ_HAARPSI_RGB, dtype=torch.float64), atol=2e-6, rtol=0)
    torch.testing.assert_close(ms_gmsd(x, ref), torch.tensor(PIQ_MS_GMSD_RGB, dtype=torch.float64), atol=2e-6, rtol=0)
    x, ref = grey_pair()
    torch.testing.assert_close(haarpsi(x, ref), torch.tensor(PIQ_HAARPSI_GREY, dtype=torch.float64), atol=2e-6, rtol=0)
    torch.testing.assert_close(ms_gmsd(x, ref), torch.tensor(PIQ_MS_GMSD_GREY, dtype=torch.float64), atol=2e-6,
                               rtol=0)


@pytest.fixture
def piq_indices():
    """piq's two functions where piq is installed (without running its package __init__, which
    imports torchvision); the test is skipped otherwise."""
    spec = importlib.util.find_spec("piq")
    if spec is None or spec.submodule_search_locations is None:
        pytest.skip("piq is not installed")
    before = set(sys.modules)
    package = types.ModuleType("piq")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["piq"] = package
    try:
        haar = importlib.import_module("piq.haarpsi").haarpsi
        gmsd = importlib.import_module("piq.gmsd").multi_scale_gmsd
    except ImportError as err:
        pytest.skip(f"piq's metric modules do not import: {err}")
    finally:
        for name in set(sys.modules) - before:
            del sys.modules[name]
    return haar, gmsd


@pytest.mark.parametrize("shape", [(3, 3, 64, 64), (2, 1, 33, 47), (2, 3, 17, 20)])
def test_haarpsi_and_ms_gmsd_agree_with_piq_on_random_images(piq_indices, shape):
    piq_haarpsi, piq_ms_gmsd = piq_indices
    g = torch.Generator().manual_seed(sum(shape))
    ref = torch.rand(shape, generator=g, dtype=torch.float64)
    x = (ref + 0.1 * torch.randn(shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    torch.testing.assert_close(haarpsi(x, ref), piq_haarpsi(x, ref, reduction="none"), atol=1e-12, rtol=0)
    torch.testing.assert_close(ms_gmsd(x, ref), piq_ms_gmsd(x, ref, reduction="none"), atol=1e-12, rtol=0)


def test_the_indices_are_similarities_that_fall_with_the_noise_and_ignore_the_batch():
    face = astronaut()
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(face.shape, generator=g, dtype=torch.float64)
    x = torch.stack([(face + s * noise).clamp(0, 1) for s in (0.0, 0.02, 0.05, 0.1, 0.2)])
    ref = face.expand_as(x)
    h, d = haarpsi(x, ref), ms_gmsd(x, ref)
    assert h[0] == pytest.approx(1.0, abs=1e-12) and d[0] == pytest.approx(0.0, abs=1e-12)
    assert (h.diff() < 0).all() and (d.diff() > 0).all(), (h, d)
    torch.testing.assert_close(haarpsi(ref, x), h)  # symmetric
    torch.testing.assert_close(ms_gmsd(ref, x), d)
    torch.testing.assert_close(torch.cat([haarpsi(x[i:i + 1], ref[i:i + 1]) for i in range(5)]), h)
    torch.testing.assert_close(haarpsi(255 * x, 255 * ref, data_range=255), h)
    assert haarpsi(x.float(), ref.float()).dtype == torch.float32


@pytest.mark.parametrize("call, match", [
    (lambda: haarpsi(torch.rand(1, 3, 15, 64), torch.rand(1, 3, 15, 64)), "16×16"),
    (lambda: haarpsi(torch.rand(1, 2, 64, 64), torch.rand(1, 2, 64, 64)), "grey or RGB"),
    (lambda: haarpsi(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 32, 32)), "same shape"),
    (lambda: haarpsi(torch.full((1, 3, 64, 64), float("nan")), torch.rand(1, 3, 64, 64)), "x"),
    (lambda: ms_gmsd(torch.rand(1, 3, 64, 16), torch.rand(1, 3, 64, 16)), "17×17"),
    (lambda: ms_gmsd(torch.rand(1, 4, 64, 64), torch.rand(1, 4, 64, 64)), "grey or RGB"),
    (lambda: ms_gmsd(torch.rand(1, 3, 64, 64), torch.full((1, 3, 64, 64), float("inf"))), "ref"),
])
def test_bad_images_are_refused_naming_the_problem(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_the_one_scorer_gives_every_judge_and_nan_where_one_is_undefined():
    x = distorted(astronaut()).float()
    ref = astronaut().float().expand_as(x)
    values = scores(x, ref)
    assert list(values) == ["mse", "psnr", "ssim", "st_lpips", "haarpsi", "ms_gmsd"]
    assert all(v.shape == (4,) and torch.isfinite(v).all() for v in values.values())
    torch.testing.assert_close(values["haarpsi"], haarpsi(x, ref))
    torch.testing.assert_close(values["mse"], (x - ref).square().flatten(1).mean(1))
    small = scores(torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16))  # grey, under ST-LPIPS' and MS-GMSD's size
    assert math.isnan(small["st_lpips"][0]) and math.isnan(small["ms_gmsd"][0])
    assert torch.isfinite(small["haarpsi"]).all() and torch.isfinite(small["psnr"]).all()


def test_the_library_and_the_application_score_with_the_same_function():
    from invgen.app import scoring
    from invgen.app.experiments import runner
    from invgen.solvers import comparison

    assert comparison.scores is scores and runner.scores is scores
    x = distorted(astronaut()).float()
    ref = astronaut().float().expand_as(x)
    table = scoring.evaluate({"m": x}, ref)["m"]
    expected = {k: v.mean().item() for k, v in scores(x, ref).items() if k != "mse"}
    assert table == pytest.approx(expected)
    assert scoring.evaluate({"m": torch.rand(1, 1, 16, 16)}, torch.rand(1, 1, 16, 16))["m"]["st_lpips"] is None
    line = scoring.score_line("m", table)
    assert f"{table['haarpsi']:.3f}" in line and "HaarPSI" in scoring.SCORE_HEAD and "MS-GMSD" in scoring.SCORE_HEAD
