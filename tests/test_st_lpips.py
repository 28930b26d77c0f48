"""ST-LPIPS built from the stlpips-pytorch wheel's weights: the properties of a distance, every
tensor of the weight file used, and agreement with the package's own forward pass."""
import sys
import types
from importlib import resources

import pytest
import torch

from invgen.data import read_image
from invgen.metrics import STLPIPS, st_lpips
from invgen.metrics.shift_tolerant import weights_file
from invgen.operators import Blur


@pytest.fixture(scope="module")
def face():
    with resources.as_file(resources.files("invgen") / "assets" / "astronaut_face_64.png") as path:
        return read_image(path).unsqueeze(0)


def test_zero_for_identical_images_and_symmetric(face):
    other = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    faces = face.expand(2, -1, -1, -1)
    assert st_lpips(faces, faces).abs().max() < 1e-6
    torch.testing.assert_close(st_lpips(faces, other), st_lpips(other, faces))
    assert (st_lpips(faces, other) > 0.3).all()


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_grows_with_blur_strength_on_the_built_in_face(face, net):
    blurred = torch.cat([Blur.gaussian((3, 64, 64), s)(face) for s in (0.5, 1.0, 2.0, 4.0)])
    d = st_lpips(blurred, face.expand(4, -1, -1, -1), net)
    assert (d[1:] > d[:-1]).all(), d


def test_batch_independent(face):
    g = torch.Generator().manual_seed(1)
    x = (face + 0.1 * torch.randn(5, 3, 64, 64, generator=g)).clamp(0, 1)
    together = st_lpips(x, face.expand(5, -1, -1, -1))
    alone = torch.cat([st_lpips(x[i:i + 1], face) for i in range(5)])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_every_tensor_of_the_weight_file_is_loaded(net):
    with resources.as_file(weights_file(net)) as path:
        published = torch.load(path, map_location="cpu", weights_only=True)
    model = STLPIPS(net)
    state = model.state_dict()
    assert len(state) == len(published)
    for key, value in published.items():
        assert torch.equal(state[STLPIPS._rename(key)], value), key


def test_a_weight_file_with_a_tensor_too_many_is_refused(monkeypatch):
    load = torch.load

    def with_extra(*args, **kwargs):
        return {**load(*args, **kwargs), "lin5.model.1.weight": torch.zeros(1, 8, 1, 1)}

    monkeypatch.setattr(torch, "load", with_extra)
    with pytest.raises(RuntimeError, match="heads.5"):
        STLPIPS("alex")


def test_differentiable_for_use_as_a_loss(face):
    x = torch.full_like(face, 0.5, requires_grad=True)
    STLPIPS("alex")(x, face).sum().backward()
    assert x.grad.abs().sum() > 0


@pytest.mark.parametrize("call, message", [
    (lambda: st_lpips(torch.rand(1, 3, 20, 64), torch.rand(1, 3, 20, 64)), "21×21"),
    (lambda: st_lpips(torch.rand(1, 1, 64, 64), torch.rand(1, 1, 64, 64)), "RGB"),
    (lambda: st_lpips(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 32, 32)), "same shape"),
    (lambda: st_lpips(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64), net="squeeze"), "net must be one of"),
    (lambda: st_lpips(torch.full((1, 3, 64, 64), float("nan")), torch.rand(1, 3, 64, 64)), "x"),
])
def test_bad_input_is_refused_naming_the_culprit(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def _package_lpips(monkeypatch):
    """The package's own LPIPS class. Its modules import torchvision (for the non-shift-tolerant
    trunks only), IPython and torchsummary (unused); where those are missing, empty stand-ins
    let the package's code run as published."""
    for name in ("torchvision", "IPython", "torchsummary"):
        try:
            __import__(name)
        except ImportError:
            stand_in = types.ModuleType(name)
            stand_in.models, stand_in.embed, stand_in.summary = types.ModuleType("models"), None, None
            monkeypatch.setitem(sys.modules, name, stand_in)
    try:
        from stlpips_pytorch import stlpips
    except Exception as error:  # any failure of a third party's import: nothing to compare against
        pytest.skip(f"stlpips_pytorch's code does not import here: {error}")
    return stlpips.LPIPS


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_agrees_with_the_package_forward_pass(monkeypatch, face, net):
    LPIPS = _package_lpips(monkeypatch)
    reference = LPIPS(net=net, variant="shift_tolerant", verbose=False)
    g = torch.Generator().manual_seed(2)
    x = torch.cat([(face + 0.1 * torch.randn(face.shape, generator=g)).clamp(0, 1),
                   torch.rand(1, 3, 64, 64, generator=g), Blur.gaussian((3, 64, 64), 1.5)(face)])
    with torch.no_grad():
        expected = reference(x, face.expand(3, -1, -1, -1), normalize=True).flatten()
    torch.testing.assert_close(st_lpips(x, face.expand(3, -1, -1, -1), net), expected, rtol=1e-5, atol=1e-6)
