"""StyleGAN2 (rosinality/stylegan2-pytorch checkpoints) as an invgen generator.

No StyleGAN2 weights can be downloaded here, so the tests write checkpoints with the key
names and shapes of rosinality's ``Generator`` — listed below from its ``model.py``, not
taken from invgen's module — at 64×64 with narrow widths, fill them with random numbers,
and compare the loaded generator with a functional re-implementation of the reference
forward pass (its per-sample "fused" modulated weights and grouped convolutions, which
invgen does not use).
"""
from __future__ import annotations

import argparse
import copy
import math
from dataclasses import replace

import pytest
import torch
from torch.nn import functional as F

from invgen.generators import (
    CheckpointMismatchError,
    StyleGAN2Network,
    load_generator,
    load_stylegan2,
)
from invgen.generators.stylegan2 import _architecture, channels_for
from invgen.operators import SuperResolution
from invgen.solvers import PAPER_CSGM, PAPER_IAGAN, Estimates, csgm, iagan

CHANNELS = (16, 16, 8, 8, 4)  # 4, 8, 16, 32, 64 px
STYLE_DIM, N_MLP = 24, 8


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    pass


def official_shapes(channels, style_dim: int, n_mlp: int) -> dict[str, tuple[int, ...]]:
    """rosinality model.py: Generator(size, style_dim, n_mlp) state dict, widths per resolution."""
    shapes: dict[str, tuple[int, ...]] = {}
    for i in range(1, n_mlp + 1):  # style.0 is PixelNorm
        shapes[f"style.{i}.weight"], shapes[f"style.{i}.bias"] = (style_dim, style_dim), (style_dim,)
    c0 = channels[0]
    shapes["input.input"] = (1, c0, 4, 4)

    def styled_conv(name, c_in, c_out, up):
        shapes[f"{name}.conv.weight"] = (1, c_out, c_in, 3, 3)
        shapes[f"{name}.conv.modulation.weight"] = (c_in, style_dim)
        shapes[f"{name}.conv.modulation.bias"] = (c_in,)
        if up:
            shapes[f"{name}.conv.blur.kernel"] = (4, 4)
        shapes[f"{name}.noise.weight"] = (1,)
        shapes[f"{name}.activate.bias"] = (c_out,)

    def to_rgb(name, c_in, up):
        shapes[f"{name}.bias"] = (1, 3, 1, 1)
        if up:
            shapes[f"{name}.upsample.kernel"] = (4, 4)
        shapes[f"{name}.conv.weight"] = (1, 3, c_in, 1, 1)
        shapes[f"{name}.conv.modulation.weight"] = (c_in, style_dim)
        shapes[f"{name}.conv.modulation.bias"] = (c_in,)

    styled_conv("conv1", c0, c0, up=False)
    to_rgb("to_rgb1", c0, up=False)
    for j in range(len(channels) - 1):
        styled_conv(f"convs.{2 * j}", channels[j], channels[j + 1], up=True)
        styled_conv(f"convs.{2 * j + 1}", channels[j + 1], channels[j + 1], up=False)
        to_rgb(f"to_rgbs.{j}", channels[j + 1], up=True)
    for layer in range(2 * len(channels) - 1):
        r = 2 ** ((layer + 5) // 2)
        shapes[f"noises.noise_{layer}"] = (1, 1, r, r)
    return shapes


def make_kernel(gain: float) -> torch.Tensor:
    k = torch.tensor([1.0, 3.0, 3.0, 1.0])
    k = k[None, :] * k[:, None]
    return k / k.sum() * gain


def official_state(channels=CHANNELS, style_dim=STYLE_DIM, n_mlp=N_MLP, seed=0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in official_shapes(channels, style_dim, n_mlp).items():
        if key.endswith(".kernel"):
            state[key] = make_kernel(4.0)
        elif key.startswith("style.") and key.endswith("weight"):
            state[key] = torch.randn(shape, generator=g) * 100  # randn / lr_mul, as initialised
        elif key.endswith("modulation.bias"):
            state[key] = 1 + 0.1 * torch.randn(shape, generator=g)
        elif key.endswith("noise.weight"):
            state[key] = 0.1 * torch.rand(shape, generator=g)
        else:
            state[key] = torch.randn(shape, generator=g) * (0.1 if key.endswith("bias") else 1.0)
    return state


# --- the reference forward pass, functional, in the reference's own (fused) formulation ---

def ref_upfirdn(x, kernel, up, pad):
    b, c, h, w = x.shape
    if up > 1:
        z = x.new_zeros(b, c, h * up, w * up)
        z[..., ::up, ::up] = x
        x = z
    x = F.pad(x, (pad[0], pad[1], pad[0], pad[1]))
    k = torch.flip(kernel, [0, 1])[None, None].repeat(c, 1, 1, 1)
    return F.conv2d(x, k, groups=c)


def ref_linear(s, name, x, lr_mul=1.0, act=False):
    w = s[f"{name}.weight"]
    out = F.linear(x, w * lr_mul / math.sqrt(w.shape[1]))
    out = out + s[f"{name}.bias"] * lr_mul
    return F.leaky_relu(out, 0.2) * 2**0.5 if act else out


def ref_modconv(s, name, x, style, demodulate=True, upsample=False):
    batch, c_in, h, w = x.shape
    weight = s[f"{name}.weight"]
    _, c_out, _, k, _ = weight.shape
    st = ref_linear(s, f"{name}.modulation", style).view(batch, 1, c_in, 1, 1)
    weight = weight / math.sqrt(c_in * k * k) * st
    if demodulate:
        weight = weight * torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8).view(batch, c_out, 1, 1, 1)
    x = x.reshape(1, batch * c_in, h, w)
    if upsample:
        weight = weight.transpose(1, 2).reshape(batch * c_in, c_out, k, k)
        out = F.conv_transpose2d(x, weight, stride=2, groups=batch)
        out = out.view(batch, c_out, *out.shape[-2:])
        return ref_upfirdn(out, s[f"{name}.blur.kernel"], 1, (1, 1))
    out = F.conv2d(x, weight.reshape(batch * c_out, c_in, k, k), padding=k // 2, groups=batch)
    return out.view(batch, c_out, h, w)


def ref_styled(s, name, x, style, noise, upsample=False):
    out = ref_modconv(s, f"{name}.conv", x, style, upsample=upsample)
    out = out + s[f"{name}.noise.weight"] * noise
    return F.leaky_relu(out + s[f"{name}.activate.bias"].view(1, -1, 1, 1), 0.2) * 2**0.5


def ref_to_rgb(s, name, x, style, skip=None):
    out = ref_modconv(s, f"{name}.conv", x, style, demodulate=False) + s[f"{name}.bias"]
    if skip is not None:
        out = out + ref_upfirdn(skip, s[f"{name}.upsample.kernel"], 2, (2, 1))
    return out


def ref_mapping(s, z, n_mlp):
    x = z * torch.rsqrt(torch.mean(z**2, dim=1, keepdim=True) + 1e-8)
    for i in range(1, n_mlp + 1):
        x = ref_linear(s, f"style.{i}", x, lr_mul=0.01, act=True)
    return x


def ref_synthesis(s, latent):
    """latent: (B, n_latent, style_dim), the reference's `latent` after input_is_latent."""
    n_blocks = len([k for k in s if k.startswith("to_rgbs.") and k.endswith("conv.weight")])
    noise = [s[f"noises.noise_{i}"] for i in range(2 * n_blocks + 1)]
    out = s["input.input"].repeat(latent.shape[0], 1, 1, 1)
    out = ref_styled(s, "conv1", out, latent[:, 0], noise[0])
    skip = ref_to_rgb(s, "to_rgb1", out, latent[:, 1])
    i = 1
    for j in range(n_blocks):
        out = ref_styled(s, f"convs.{2 * j}", out, latent[:, i], noise[i], upsample=True)
        out = ref_styled(s, f"convs.{2 * j + 1}", out, latent[:, i + 1], noise[i + 1])
        skip = ref_to_rgb(s, f"to_rgbs.{j}", out, latent[:, i + 2], skip)
        i += 2
    return skip


def saved(tmp_path, obj, name="550000.pt"):
    torch.save(obj, tmp_path / name)
    return tmp_path / name


def unit(G, latents):
    """The generator's [0, 1] images mapped back to the raw output."""
    lo, hi = G.output_range
    with torch.no_grad():
        return G(latents) * (hi - lo) + lo


# --- loading and the forward pass ---

@pytest.mark.parametrize("space", ["z", "w", "w+"])
def test_loads_official_keys_and_matches_the_reference_in_every_space(tmp_path, space):
    state = official_state()
    path = saved(tmp_path, {"g_ema": state, "latent_avg": torch.zeros(STYLE_DIM)})
    G = load_stylegan2(path, space=space)
    n_latent = 10  # 2·log2(64) − 2
    assert G.latent_dim == {"z": STYLE_DIM, "w": STYLE_DIM, "w+": n_latent * STYLE_DIM}[space]
    assert not G.training and G.image_shape() == (3, 64, 64)
    g = torch.Generator().manual_seed(3)
    if space == "w+":
        ws = torch.randn(2, n_latent, STYLE_DIM, generator=g)
        latents = ws.flatten(1)
    else:
        latents = torch.randn(2, STYLE_DIM, generator=g)
        w = ref_mapping(state, latents, N_MLP) if space == "z" else latents
        ws = w[:, None].repeat(1, n_latent, 1)
    torch.testing.assert_close(unit(G, latents), ref_synthesis(state, ws), rtol=1e-4, atol=1e-4)


def test_reads_train_py_checkpoints_with_args_and_prefers_g_ema(tmp_path):
    g_ema, g = official_state(seed=1), official_state(seed=2)
    args = argparse.Namespace(size=64, channel_multiplier=2, n_mlp=N_MLP, latent=STYLE_DIM, path="lmdb")
    ckpt = {"g": g, "d": {"convs.0.0.weight": torch.zeros(4, 3, 1, 1)}, "g_ema": g_ema,
            "g_optim": torch.optim.Adam([torch.zeros(2, requires_grad=True)]).state_dict(),
            "args": args, "ada_aug_p": 0.0}
    G = load_stylegan2(saved(tmp_path, ckpt), space="w")
    w = torch.randn(2, STYLE_DIM, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(unit(G, w), ref_synthesis(g_ema, w[:, None].repeat(1, 10, 1)),
                               rtol=1e-4, atol=1e-4)
    bare = load_stylegan2(saved(tmp_path, {f"module.{k}": v for k, v in g.items()}, "bare.pt"))
    torch.testing.assert_close(unit(bare, w), ref_synthesis(g, w[:, None].repeat(1, 10, 1)),
                               rtol=1e-4, atol=1e-4)


def test_state_dict_round_trips_in_the_official_format(tmp_path):
    G = load_stylegan2(saved(tmp_path, {"g_ema": official_state()}))
    ours = {k: tuple(v.shape) for k, v in G.network.state_dict().items()}
    assert ours == official_shapes(CHANNELS, STYLE_DIM, N_MLP)


def test_latent_starts_mean_w_first_then_mapped_random_z(tmp_path):
    state = official_state()
    w_avg = torch.randn(STYLE_DIM)
    path = saved(tmp_path, {"g_ema": state, "latent_avg": w_avg})
    g = torch.Generator().manual_seed(5)
    w = load_stylegan2(path, space="w").sample_latent(3, generator=g)
    torch.testing.assert_close(w[0], w_avg)
    z = torch.randn(3, STYLE_DIM, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(w[1:], ref_mapping(state, z, N_MLP)[1:], rtol=1e-4, atol=1e-4)
    wplus = load_stylegan2(path, space="w+").sample_latent(3, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(wplus.view(3, 10, STYLE_DIM), w[:, None].expand(3, 10, STYLE_DIM))
    rand = load_stylegan2(path, space="w", start="random").sample_latent(3, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(rand, ref_mapping(state, z, N_MLP), rtol=1e-4, atol=1e-4)
    zs = load_stylegan2(path, space="z").sample_latent(3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(zs, z)


def test_mean_w_is_estimated_when_the_file_has_none(tmp_path):
    state = official_state()
    G = load_stylegan2(saved(tmp_path, {"g_ema": state}), space="w")
    z = torch.randn(4096, STYLE_DIM, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(G.network.w_avg, ref_mapping(state, z, N_MLP).mean(0), rtol=1e-4, atol=1e-4)


def test_a_latent_avg_that_requires_grad_is_stored_detached(tmp_path):
    """A file saved from a training script may hold ``latent_avg`` still attached to autograd;
    a generator holding it cannot be deep-copied, which IAGAN does for its per-image weights."""
    w_avg = torch.randn(STYLE_DIM, requires_grad=True)
    G = load_stylegan2(saved(tmp_path, {"g_ema": official_state(), "latent_avg": w_avg}), space="w")
    copy.deepcopy(G)
    assert not G.network.w_avg.requires_grad
    torch.testing.assert_close(G.network.w_avg, w_avg.detach())
    A = SuperResolution((3, 64, 64), 8)
    y = A(torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0)))
    start = Estimates(x=torch.zeros(1, 1, 3, 64, 64), z=G.sample_latent(1).unsqueeze(1))
    result = iagan(A, y, G, start, replace(PAPER_IAGAN, steps=2, lr_z=1e-3, lr_theta=1e-3), progress=False)
    assert result.x.shape == (1, 1, 3, 64, 64) and torch.isfinite(result.x).all()


def test_full_size_config_f_keys_map_onto_the_architecture():
    """FFHQ 1024, channel multiplier 2, n_mlp 8, d = 512 (shapes only, on the meta device)."""
    channels = channels_for(1024, 2)
    assert channels == (512, 512, 512, 512, 512, 256, 128, 64, 32)
    shapes = official_shapes(channels, 512, 8)
    with torch.device("meta"):
        state = {k: torch.empty(s) for k, s in shapes.items()}
        arch = _architecture(state)
        network = StyleGAN2Network(*arch, space="w+")
    assert arch == (list(channels), 512, 8, 3)
    assert network.n_latent == 18 and network.latent_dim == 18 * 512
    assert {k: tuple(v.shape) for k, v in network.state_dict().items()} == shapes
    # The published config-f generator (mapping + synthesis) has about 30.0 M parameters.
    assert 29.5e6 < sum(p.numel() for p in network.parameters()) < 30.5e6


# --- wrong files ---

def test_wrong_layout_names_the_missing_keys(tmp_path):
    dcgan_like = {"main.0.weight": torch.zeros(100, 64, 4, 4)}
    with pytest.raises(CheckpointMismatchError) as info:
        load_stylegan2(saved(tmp_path, {"g_ema": dcgan_like}))
    message = str(info.value)
    assert "stylegan2-pytorch" in message and "input.input" in message and "main.0.weight" in message

    state = official_state()
    del state["convs.3.noise.weight"], state["noises.noise_4"]
    state["convs.2.conv.weight"] = torch.zeros(1, 8, 16, 5, 5)
    with pytest.raises(CheckpointMismatchError) as info:
        load_stylegan2(saved(tmp_path, {"g_ema": state}, "broken.pt"))
    message = str(info.value)
    assert "missing keys (2):\n  convs.3.noise.weight\n  noises.noise_4" in message
    assert "convs.2.conv.weight: checkpoint (1, 8, 16, 5, 5), expected (1, 8, 16, 3, 3)" in message

    with pytest.raises(CheckpointMismatchError, match="latent_avg"):
        load_stylegan2(saved(tmp_path, {"g_ema": official_state(), "latent_avg": torch.zeros(7)}, "avg.pt"))
    with pytest.raises(ValueError, match="space"):
        load_stylegan2(path=saved(tmp_path, {"g_ema": official_state()}, "ok.pt"), space="s")


# --- solvers on a StyleGAN2 prior ---

@pytest.fixture(scope="module")
def sg2_file(tmp_path_factory):
    return saved(tmp_path_factory.mktemp("sg2"), {"g_ema": official_state(seed=7)})


def test_csgm_in_w_plus_reduces_the_objective_and_iagan_goes_further(sg2_file):
    G = load_generator(f"stylegan2-w+:{sg2_file}")
    assert G.space == "w+" and G.latent_dim == 10 * STYLE_DIM
    A = SuperResolution((3, 64, 64), 4)
    target = load_stylegan2(sg2_file, space="w", start="random")
    with torch.no_grad():
        x = target(target.sample_latent(3, generator=torch.Generator().manual_seed(11))[1:])
    y = A(x)
    start = csgm(A, y, G, replace(PAPER_CSGM, steps=25, lr=0.05), progress=False)
    assert start.z.shape == (2, 1, 10 * STYLE_DIM)
    first = start.solve.history[0]
    assert (start.objective[:, 0] < 0.5 * first).all(), (first, start.objective)
    adapted = iagan(A, y, G, start, replace(PAPER_IAGAN, steps=10, lr_z=1e-3, lr_theta=1e-3), progress=False)
    assert adapted.x.shape == (2, 1, 3, 64, 64)
    assert (adapted.objective < start.objective).all(), (start.objective, adapted.objective)
