"""Loaders of the public generator checkpoints (DCGAN-64, BEGAN, PGGAN).

No weights can be downloaded here, so each test writes a checkpoint with the key names
and shapes of the public format — listed explicitly below from the source repositories,
not taken from invgen's modules — fills it with random numbers, loads it, and compares
the generator with a functional re-implementation of the source network's forward pass.
"""
from __future__ import annotations

import math
import re
import sys
import types
from itertools import pairwise

import pytest
import torch
from torch.nn import functional as F

from invgen.app.training import export_generator
from invgen.generators import (
    CheckpointMismatchError,
    Generator,
    build_pggan,
    load_began,
    load_dcgan,
    load_generator,
    load_pggan,
)
from invgen.generators.face64 import FaceDCGAN
from invgen.generators.pggan import CELEBA_HQ_1024, _from_ptrblck


def random_state(shapes: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            state[key] = 0.5 + torch.rand(shape, generator=g)
        else:
            state[key] = 0.3 * torch.randn(shape, generator=g)
    return state


def latents(generator: Generator, n: int = 2) -> torch.Tensor:
    return generator.sample_latent(n, generator=torch.Generator().manual_seed(1))


def assert_matches(generator: Generator, z: torch.Tensor, reference: torch.Tensor) -> None:
    """The generator's [0, 1] image is the reference network's raw output, affinely mapped."""
    assert isinstance(generator, Generator) and not generator.training
    with torch.no_grad():
        x = generator(z)
    lo, hi = generator.output_range
    torch.testing.assert_close(x * (hi - lo) + lo, reference, rtol=1e-4, atol=1e-5)


# --- DCGAN: pytorch/examples dcgan/main.py, netG = main: Sequential(ConvT, BN, ReLU, ...) ---

def dcgan_shapes(nz: int, ngf: int, nc: int = 3) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {"main.0.weight": (nz, 8 * ngf, 4, 4)}
    for bn, conv, c_in, c_out in [(1, 3, 8, 4), (4, 6, 4, 2), (7, 9, 2, 1)]:
        shapes[f"main.{bn}.weight"] = shapes[f"main.{bn}.bias"] = (c_in * ngf,)
        shapes[f"main.{bn}.running_mean"] = shapes[f"main.{bn}.running_var"] = (c_in * ngf,)
        shapes[f"main.{bn}.num_batches_tracked"] = ()
        shapes[f"main.{conv}.weight"] = (c_in * ngf, c_out * ngf, 4, 4)
    for suffix in ["weight", "bias", "running_mean", "running_var"]:
        shapes[f"main.10.{suffix}"] = (ngf,)
    shapes["main.10.num_batches_tracked"] = ()
    shapes["main.12.weight"] = (ngf, nc, 4, 4)
    return shapes


def dcgan_reference(s: dict[str, torch.Tensor], z: torch.Tensor) -> torch.Tensor:
    x = z[:, :, None, None]
    for conv, bn in [(0, 1), (3, 4), (6, 7), (9, 10)]:
        x = F.conv_transpose2d(x, s[f"main.{conv}.weight"], stride=1 if conv == 0 else 2,
                               padding=0 if conv == 0 else 1)
        x = F.batch_norm(x, s[f"main.{bn}.running_mean"], s[f"main.{bn}.running_var"],
                         s[f"main.{bn}.weight"], s[f"main.{bn}.bias"], training=False)
        x = F.relu(x)
    return torch.tanh(F.conv_transpose2d(x, s["main.12.weight"], stride=2, padding=1))


def test_dcgan_loads_official_keys_and_matches_reference(tmp_path):
    state = random_state(dcgan_shapes(nz=100, ngf=8))
    torch.save(state, tmp_path / "netG_epoch_24.pth")
    G = load_dcgan(tmp_path / "netG_epoch_24.pth")
    assert G.latent_dim == 100 and G.latent == "gaussian"
    z = latents(G)
    assert_matches(G, z, dcgan_reference(state, z))
    with torch.no_grad():
        x = G(z)
    assert x.shape == (2, 3, 64, 64) and x.min() >= 0 and x.max() <= 1


def test_dcgan_accepts_dataparallel_prefix_and_pre_0_4_files(tmp_path):
    state = random_state(dcgan_shapes(nz=100, ngf=8))
    old = {f"module.{k}": v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    torch.save(old, tmp_path / "old.pth")
    G = load_dcgan(tmp_path / "old.pth")
    z = latents(G)
    assert_matches(G, z, dcgan_reference(state, z))


def test_dcgan_round_trips_and_full_size_has_official_keys(tmp_path):
    G = load_dcgan(_saved(tmp_path, random_state(dcgan_shapes(nz=100, ngf=8))))
    torch.save(G.network.state_dict(), tmp_path / "again.pth")
    G2 = load_dcgan(tmp_path / "again.pth")
    z = latents(G)
    with torch.no_grad():
        assert torch.equal(G(z), G2(z))
    from invgen.generators import build_dcgan

    full = {k: tuple(v.shape) for k, v in build_dcgan().network.state_dict().items()}
    assert full == dcgan_shapes(nz=100, ngf=64)


def _saved(tmp_path, obj, name="ckpt.pth"):
    torch.save(obj, tmp_path / name)
    return tmp_path / name


# --- BEGAN: anantzoid/BEGAN-pytorch models.py Decoder (l0 linear, l1..l8 [l10, l11], l9) ---

def began_shapes(resolution: int, h: int = 64, n: int = 8) -> dict[str, tuple[int, ...]]:
    convs = ["l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8"] + (["l10", "l11"] if resolution == 128 else [])
    shapes: dict[str, tuple[int, ...]] = {"l0.weight": (8 * 8 * n, h), "l0.bias": (8 * 8 * n,)}
    for name in convs:
        shapes[f"{name}.weight"], shapes[f"{name}.bias"] = (n, n, 3, 3), (n,)
    shapes["l9.weight"], shapes["l9.bias"] = (3, n, 3, 3), (3,)
    return shapes


def began_reference(s: dict[str, torch.Tensor], z: torch.Tensor, n: int, resolution: int, tanh: bool = True):
    def conv(x, name):
        return F.conv2d(x, s[f"{name}.weight"], s[f"{name}.bias"], padding=1)

    x = F.linear(z, s["l0.weight"], s["l0.bias"]).view(z.shape[0], n, 8, 8)
    pairs = [("l1", "l2"), ("l3", "l4"), ("l5", "l6"), ("l7", "l8")]
    pairs += [("l10", "l11")] if resolution == 128 else []
    for i, (a, b) in enumerate(pairs):
        if i > 0:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = F.elu(conv(F.elu(conv(x, a)), b))
    return torch.tanh(conv(x, "l9")) if tanh else conv(x, "l9")


@pytest.mark.parametrize("resolution", [64, 128])
def test_began_loads_official_keys_and_matches_reference(tmp_path, resolution):
    state = random_state(began_shapes(resolution, n=8), seed=resolution)
    path = _saved(tmp_path, state, f"gen_{resolution}.pth")
    G = load_began(path, resolution=resolution)
    assert G.latent_dim == 64 and G.latent == "uniform"
    z = latents(G)
    assert z.abs().max() <= 1
    assert_matches(G, z, began_reference(state, z, n=8, resolution=resolution))
    with torch.no_grad():
        x = G(z)
    assert x.shape == (2, 3, resolution, resolution) and x.min() >= 0 and x.max() <= 1
    assert load_began(path).image_shape() == (3, resolution, resolution)  # inferred


def test_began_resolution_mismatch_names_missing_keys(tmp_path):
    path = _saved(tmp_path, random_state(began_shapes(64, n=8)))
    with pytest.raises(CheckpointMismatchError, match=r"(?s)BEGAN-pytorch.*128.*l10\.weight"):
        load_began(path, resolution=128)


# --- PGGAN, ptrblck/prog_gans_pytorch_inference model.py (features / output) ---

def ptrblck_shapes(channels, latent_dim: int = 512) -> dict[str, tuple[int, ...]]:
    """features.i = NormConvBlock / NormUpscaleConvBlock: conv (no bias) + wscale."""
    layers = [(channels[0], latent_dim, 4), (channels[0], channels[0], 3)]
    for c_prev, c in pairwise(channels):
        layers += [(c, c_prev, 3), (c, c, 3)]
    shapes: dict[str, tuple[int, ...]] = {}
    for i, (c_out, c_in, k) in enumerate(layers):
        shapes[f"features.{i}.conv.weight"] = (c_out, c_in, k, k)
        shapes[f"features.{i}.wscale.scale"] = (1,)
        shapes[f"features.{i}.wscale.b"] = (c_out,)
    shapes["output.conv.weight"] = (3, channels[-1], 1, 1)
    shapes["output.wscale.scale"], shapes["output.wscale.b"] = (1,), (3,)
    return shapes


def ptrblck_reference(s: dict[str, torch.Tensor], z: torch.Tensor) -> torch.Tensor:
    def norm(x):
        return x / torch.sqrt(torch.mean(x**2, dim=1, keepdim=True) + 1e-8)

    def block(x, name, padding, act=True):
        x = F.conv2d(norm(x), s[f"{name}.conv.weight"], padding=padding)
        x = x * s[f"{name}.wscale.scale"] + s[f"{name}.wscale.b"].view(1, -1, 1, 1)
        return F.leaky_relu(x, 0.2) if act else x

    x = block(z[:, :, None, None], "features.0", padding=3)
    n = len([k for k in s if k.endswith(".conv.weight")]) - 1
    for i in range(1, n):
        if i >= 2 and i % 2 == 0:  # NormUpscaleConvBlock: norm, upsample, conv
            x = F.interpolate(norm(x), scale_factor=2, mode="nearest")
        x = block(x, f"features.{i}", padding=1)
    return block(x, "output", padding=0, act=False)


def ptrblck_state(channels, seed=0):
    state = random_state(ptrblck_shapes(channels), seed)
    for key in state:  # the stored wscale constants are small and positive
        if key.endswith("wscale.scale"):
            state[key] = 0.02 + 0.1 * state[key].abs()
    return state


def test_pggan_ptrblck_loads_official_keys_and_matches_reference(tmp_path):
    channels = (32, 16, 8)  # reduced CelebA-HQ widths, 16×16 output
    state = ptrblck_state(channels)
    G = load_pggan(_saved(tmp_path, state, "100_celeb_hq_network-snapshot-010403.pth"))
    assert G.latent_dim == 512 and G.latent == "gaussian"
    z = latents(G)
    assert_matches(G, z, ptrblck_reference(state, z))
    assert G.image_shape() == (3, 16, 16)


def test_pggan_ptrblck_reads_the_in_layer_layout(tmp_path):
    """model.py's other layout: in_layer = (PixelNorm, Conv, WScale), upsampling_layers, out_layer."""
    state = ptrblck_state((32, 16, 8), seed=3)
    renames = [
        (r"^features\.0\.conv\.", "in_layer.1."),
        (r"^features\.0\.wscale\.", "in_layer.2."),
        (r"^output\.conv\.", "out_layer.1."),
        (r"^output\.wscale\.", "out_layer.2."),
    ]
    other = {}
    for key, value in state.items():
        for pattern, replacement in renames:
            key = re.sub(pattern, replacement, key)
        key = re.sub(r"^features\.(\d+)\.", lambda m: f"upsampling_layers.{int(m[1]) - 1}.", key)
        other[key] = value
    assert "in_layer.1.weight" in other and "upsampling_layers.16.conv.weight" not in other
    G = load_pggan(_saved(tmp_path, other))
    z = latents(G)
    assert_matches(G, z, ptrblck_reference(state, z))


def test_pggan_ptrblck_full_1024_keys_map_onto_the_architecture():
    """The CelebA-HQ 1024 checkpoint (18 feature layers, 512 → 16 channels), shapes only."""
    with torch.device("meta"):
        state = {k: torch.empty(shape) for k, shape in ptrblck_shapes(CELEBA_HQ_1024).items()}
        network = build_pggan().network
    assert len(state) == 18 * 3 + 3
    assert state["features.17.conv.weight"].shape == (16, 16, 3, 3)
    mapped, channels, latent_dim, out_channels = _from_ptrblck(state)
    assert (tuple(channels), latent_dim, out_channels) == (CELEBA_HQ_1024, 512, 3)
    ours = network.state_dict()
    assert mapped.keys() == ours.keys()
    assert all(mapped[k].shape == ours[k].shape for k in ours)
    assert 22e6 < sum(p.numel() for p in network.parameters()) < 24e6


def test_pggan_ptrblck_mismatch_lists_keys_and_shapes(tmp_path):
    state = ptrblck_state((32, 16, 8))
    del state["features.3.wscale.b"]
    state["features.2.conv.weight"] = torch.zeros(16, 32, 5, 5)
    state["features.2.extra"] = torch.zeros(1)
    with pytest.raises(CheckpointMismatchError) as info:
        load_pggan(_saved(tmp_path, state))
    message = str(info.value)
    assert "prog_gans_pytorch_inference" in message
    assert "missing keys (1):\n  features.3.wscale.b" in message
    assert "unexpected keys (1):\n  features.2.extra" in message
    assert "features.2.conv.weight: checkpoint (16, 32, 5, 5), expected (16, 32, 3, 3)" in message


# --- PGGAN, facebookresearch/pytorch_GAN_zoo (GNet; ConstrainedLayer computes (Wx + b)·He) ---

def gan_zoo_shapes(channels, latent_dim=512, wrapped=True) -> dict[str, tuple[int, ...]]:
    m = "module." if wrapped else ""
    shapes: dict[str, tuple[int, ...]] = {}

    def layer(name, weight):
        shapes[f"{name}.{m}weight"], shapes[f"{name}.{m}bias"] = weight, weight[:1]

    layer("formatLayer", (16 * channels[0], latent_dim))
    layer("groupScale0.0", (channels[0], channels[0], 3, 3))
    for k in range(1, len(channels)):
        layer(f"scaleLayers.{k - 1}.0", (channels[k], channels[k - 1], 3, 3))
        layer(f"scaleLayers.{k - 1}.1", (channels[k], channels[k], 3, 3))
    for k, c in enumerate(channels):
        layer(f"toRGBLayers.{k}", (3, c, 1, 1))
    return shapes


def gan_zoo_reference(s: dict[str, torch.Tensor], z: torch.Tensor, n_scales: int) -> torch.Tensor:
    s = {k.replace(".module.", "."): v for k, v in s.items()}

    def norm(x):
        return x * (((x**2).mean(dim=1, keepdim=True) + 1e-8).rsqrt())

    def he(w):
        return math.sqrt(2.0 / w[0].numel())

    def conv(x, name, padding=1):
        w = s[f"{name}.weight"]
        return F.conv2d(x, w, s[f"{name}.bias"], padding=padding) * he(w)

    w = s["formatLayer.weight"]
    x = F.leaky_relu(F.linear(norm(z), w, s["formatLayer.bias"]) * he(w), 0.2)
    x = norm(x.view(z.shape[0], -1, 4, 4))
    x = norm(F.leaky_relu(conv(x, "groupScale0.0"), 0.2))
    for k in range(n_scales - 1):
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        for j in (0, 1):
            x = norm(F.leaky_relu(conv(x, f"scaleLayers.{k}.{j}"), 0.2))
    return conv(x, f"toRGBLayers.{n_scales - 1}", padding=0)


def gan_zoo_checkpoint(channels, config, wrapped=True):
    shapes = gan_zoo_shapes(channels, wrapped=wrapped)
    return {"config": config, "netG": random_state(shapes, 1), "avgG": random_state(shapes, 2),
            "netD": {"decisionLayer.module.weight": torch.zeros(1, channels[0])}}


@pytest.mark.parametrize("wrapped", [True, False])
def test_pggan_gan_zoo_loads_the_average_generator(tmp_path, wrapped):
    channels = (32, 16, 8)
    config = {"depthScale0": 32, "depthOtherScales": [16, 8], "latentVectorDim": 512,
              "dimOutput": 3, "equalizedlR": True, "perChannelNormalization": True,
              "leakyReluLeak": 0.2, "alpha": 0.0, "lossCriterion": "WGANGP"}
    ckpt = gan_zoo_checkpoint(channels, config, wrapped)
    G = load_pggan(_saved(tmp_path, ckpt, "celebaHQ_s6_i80000.pth"), format="gan_zoo")
    z = latents(G)
    assert_matches(G, z, gan_zoo_reference(ckpt["avgG"], z, len(channels)))
    assert G.image_shape() == (3, 16, 16)


def test_pggan_gan_zoo_reads_a_pickled_baseconfig(tmp_path, monkeypatch):
    """Zoo files store config as models.utils.config.BaseConfig, read without running code."""
    module = types.ModuleType("models.utils.config")

    class BaseConfig:
        pass

    BaseConfig.__module__, BaseConfig.__qualname__ = module.__name__, "BaseConfig"
    module.BaseConfig = BaseConfig
    for name in ["models", "models.utils", "models.utils.config"]:
        monkeypatch.setitem(sys.modules, name, module if name.endswith("config") else types.ModuleType(name))
    config = BaseConfig()
    config.equalizedlR, config.alpha, config.depthScale0 = True, 0, 16
    ckpt = gan_zoo_checkpoint((16, 8), config)
    del ckpt["avgG"]
    path = _saved(tmp_path, ckpt)
    monkeypatch.delitem(sys.modules, "models.utils.config")
    G = load_pggan(path, format="gan_zoo")
    z = latents(G)
    assert_matches(G, z, gan_zoo_reference(ckpt["netG"], z, 2))


def test_pggan_gan_zoo_rejects_transition_checkpoints_and_wrong_format(tmp_path):
    ckpt = gan_zoo_checkpoint((16, 8), {"alpha": 0.5})
    with pytest.raises(CheckpointMismatchError, match="alpha"):
        load_pggan(_saved(tmp_path, ckpt), format="gan_zoo")
    ptrblck_file = _saved(tmp_path, ptrblck_state((16, 8)), "ptrblck.pth")
    with pytest.raises(CheckpointMismatchError, match="pytorch_GAN_zoo"):
        load_pggan(ptrblck_file, format="gan_zoo")
    zoo_file = _saved(tmp_path, gan_zoo_checkpoint((16, 8), {}), "zoo.pth")
    with pytest.raises(CheckpointMismatchError, match="prog_gans_pytorch_inference"):
        load_pggan(zoo_file, format="ptrblck")
    with pytest.raises(ValueError, match="format"):
        load_pggan(zoo_file, format="stylegan")


# --- wrong files in the other loaders ---

def test_loaders_name_their_format_on_a_foreign_checkpoint(tmp_path):
    began_file = _saved(tmp_path, random_state(began_shapes(64, n=8)), "began.pth")
    dcgan_file = _saved(tmp_path, random_state(dcgan_shapes(100, 8)), "dcgan.pth")
    with pytest.raises(CheckpointMismatchError, match=r"(?s)DCGAN example netG.*main\.0\.weight"):
        load_dcgan(began_file)
    with pytest.raises(CheckpointMismatchError, match=r"(?s)BEGAN-pytorch.*l0\.weight"):
        load_began(dcgan_file)
    broken = random_state(dcgan_shapes(100, 8))
    broken["main.4.bias"] = torch.zeros(5)
    with pytest.raises(CheckpointMismatchError, match=r"main\.4\.bias: checkpoint \(5,\), expected \(32,\)"):
        load_dcgan(_saved(tmp_path, broken, "broken.pth"))


# --- load_generator: one string for the CLI's and the experiments' --generator ---

def test_load_generator_reads_kind_prefixed_specs(tmp_path):
    dcgan_file = _saved(tmp_path, random_state(dcgan_shapes(nz=100, ngf=8)), "netG.pth")
    G = load_generator(f"dcgan:{dcgan_file}")
    z = latents(G)
    assert_matches(G, z, dcgan_reference(torch.load(dcgan_file), z))
    began_file = _saved(tmp_path, random_state(began_shapes(64)), "gen.pth")
    assert load_generator(f"began:{began_file}").latent == "uniform"


def test_load_generator_takes_a_bare_path_as_an_invgen_train_file(tmp_path):
    path = tmp_path / "face64.pt"
    export_generator(FaceDCGAN(latent_dim=8, width=4), path)
    assert load_generator(path).latent_dim == 8
    assert load_generator(str(path)).latent_dim == 8
    with pytest.raises(CheckpointMismatchError, match="face64"):  # a DCGAN file is not an invgen one
        load_generator(_saved(tmp_path, random_state(dcgan_shapes(nz=100, ngf=8))))


@pytest.mark.parametrize("spec", ["missing.pt", "began:missing.pth"])
def test_load_generator_missing_file_lists_the_accepted_specs(spec):
    with pytest.raises(FileNotFoundError, match="KIND:PATH with KIND in face64, dcgan, began, pggan, pggan-zoo"):
        load_generator(spec)


# --- state dicts wrapped by training scripts ---

@pytest.mark.parametrize("wrap", [
    lambda s: {"netG_state_dict": s, "optimizerG_state_dict": {"state": {}, "param_groups": []}, "epoch": 24},
    lambda s: {"generator": s, "discriminator": {"main.0.weight": torch.zeros(8, 3, 4, 4)}},
    lambda s: {"state_dict": s, "epoch": 3},
    lambda s: {"state_dict": {**{f"generator.{k}": v for k, v in s.items()},
                              "discriminator.main.0.weight": torch.zeros(8, 3, 4, 4)}},  # Lightning
], ids=["netG_state_dict", "generator", "state_dict", "lightning"])
def test_dcgan_and_began_read_wrapped_state_dicts(tmp_path, wrap):
    dcgan = random_state(dcgan_shapes(nz=100, ngf=8))
    G = load_dcgan(_saved(tmp_path, wrap(dcgan), "dcgan.pth"))
    z = latents(G)
    assert_matches(G, z, dcgan_reference(dcgan, z))
    began = random_state(began_shapes(64, n=8))
    G = load_began(_saved(tmp_path, wrap(began), "began.pth"))
    z = latents(G)
    assert_matches(G, z, began_reference(began, z, n=8, resolution=64))


def test_a_wrapper_without_a_generator_names_its_format(tmp_path):
    with pytest.raises(CheckpointMismatchError, match="DCGAN example netG"):
        load_dcgan(_saved(tmp_path, {"netD_state_dict": random_state(dcgan_shapes(100, 8)), "epoch": 1}))


def test_began_without_the_final_tanh_says_its_output_range(tmp_path):
    state = random_state(began_shapes(64, n=8))
    path = _saved(tmp_path, state)
    G = load_began(path, tanh=False, output_range=(0.0, 1.0))
    assert G.output_range == (0.0, 1.0)
    z = latents(G)
    with torch.no_grad():
        x = G(z)
    # Without the tanh, and trained on [0, 1], the image is the last convolution's output.
    torch.testing.assert_close(x, began_reference(state, z, n=8, resolution=64, tanh=False), rtol=1e-4, atol=1e-5)
    assert load_began(path).output_range == (-1.0, 1.0)
