"""NVIDIA's stylegan2-ada-pytorch network pickles, read without running their code.

No NVIDIA weights can be downloaded here, so the tests make their own pickles: random weights
in invgen's (rosinality's) StyleGAN2 layout, converted here to NVIDIA's names and shapes — the
inverse of the loader's mapping, written from stylegan2-ada-pytorch's ``training/networks.py``,
not from the loader — and pickled as ``torch_utils.persistence`` does (each module a call of
``torch_utils.persistence._reconstruct_persistent_obj(meta)`` whose ``meta['state']`` is the
module's ``__dict__``), with fake ``torch_utils`` and ``dnnlib`` modules registered only while
pickling. The loaded generator is compared with the same weights loaded from a rosinality
checkpoint and with a functional forward pass written from ``networks.py`` (non-fused modulated
convolution, ``conv2d_resample``'s padding arithmetic, ``bias_act`` with clamping).
"""
from __future__ import annotations

import math
import os
import pickle
import sys
import types

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from invgen.generators import (
    CheckpointMismatchError,
    StyleGAN2Network,
    UnsafePickleError,
    load_generator,
    load_stylegan2,
    load_stylegan2_ada,
)
from invgen.generators.stylegan2 import channels_for
from invgen.generators.stylegan2_ada import PersistentModule, _architecture, _nvidia_shapes, _to_rosinality

CHANNELS = (16, 16, 8, 4)  # 4, 8, 16, 32 px: min(channel_base // r, channel_max) for 128, 16
CHANNEL_BASE, CHANNEL_MAX = 128, 16
STYLE_DIM, N_MLP = 12, 4
N_LATENT = 8  # 2·log2(32) − 2


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    pass


# --- what NVIDIA's pickles reference, present only while the tests write a pickle ---

def _reconstruct_persistent_obj(meta):
    raise AssertionError("the reader must never call NVIDIA's reconstruct function")


_reconstruct_persistent_obj.__module__ = "torch_utils.persistence"


class EasyDict(dict):
    pass


EasyDict.__module__ = "dnnlib.util"


def module_src(marker) -> str:
    """The "source of networks.py" carried in every record: running it would leave a file."""
    return f"open({str(marker)!r}, 'w').write('module_src ran')\nraise SystemExit('module_src was executed')\n"


class Persistent(nn.Module):
    """A module pickled the way ``@persistence.persistent_class`` pickles one."""

    def __init__(self, class_name: str, **init_kwargs) -> None:
        super().__init__()
        self._nv_class_name, self._nv_src = class_name, ""
        self._init_args, self._init_kwargs = (), init_kwargs

    def __reduce__(self):
        state = dict(self.__dict__)
        class_name, src = state.pop("_nv_class_name"), state.pop("_nv_src")
        meta = dict(type="class", version=6, module_src=src, class_name=class_name, state=state)
        return _reconstruct_persistent_obj, (meta,)


def write_nvidia_pickle(path, content, marker, monkeypatch, protocol=3):
    """``pickle.dump(content)`` with NVIDIA's modules faked (Python 3.7's default protocol is 3)."""
    for module in (m for m in _walk(content) if isinstance(m, Persistent)):
        module._nv_src = module_src(marker)
    persistence = types.ModuleType("torch_utils.persistence")
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
    util = types.ModuleType("dnnlib.util")
    util.EasyDict = EasyDict
    with monkeypatch.context() as m:
        for name, module in [("torch_utils", types.ModuleType("torch_utils")), ("torch_utils.persistence", persistence),
                             ("dnnlib", types.ModuleType("dnnlib")), ("dnnlib.util", util)]:
            m.setitem(sys.modules, name, module)
        with open(path, "wb") as f:
            pickle.dump(content, f, protocol=protocol)
    assert not {"torch_utils", "torch_utils.persistence", "dnnlib", "dnnlib.util"} & set(sys.modules)
    return path


def _walk(content):
    for value in content.values():
        if isinstance(value, nn.Module):
            yield from value.modules()


# --- random weights in rosinality's layout, and their NVIDIA counterpart ---

def rosinality_state(seed=0) -> dict[str, torch.Tensor]:
    """invgen's StyleGAN2 with every parameter random (biases and noise strengths included)."""
    g = torch.Generator().manual_seed(seed)
    net = StyleGAN2Network(CHANNELS, STYLE_DIM, N_MLP)
    state = net.state_dict()
    for key, value in state.items():
        if key.endswith(".kernel"):
            continue
        noise = torch.randn(value.shape, generator=g)
        if key.endswith("modulation.bias"):
            value = 1 + 0.2 * noise
        elif key.endswith("noise.weight") or key.endswith("bias"):
            value = 0.3 * noise
        elif key.startswith("style."):
            value = noise * 100  # randn / lr_multiplier, as both implementations initialise it
        else:
            value = noise
        state[key] = value
    return state


def setup_filter() -> torch.Tensor:
    """``upfirdn2d.setup_filter([1, 3, 3, 1])``: the outer product, normalised to sum 1."""
    f = torch.tensor([1.0, 3.0, 3.0, 1.0])
    f = torch.outer(f, f)
    return f / f.sum()


def fc(weight, bias, lr_multiplier=1.0, activation="linear") -> Persistent:
    layer = Persistent("FullyConnectedLayer", in_features=weight.shape[1], out_features=weight.shape[0],
                       activation=activation, lr_multiplier=lr_multiplier)
    layer.activation = activation
    layer.weight, layer.bias = nn.Parameter(weight.clone()), nn.Parameter(bias.clone())
    layer.weight_gain = np.float64(lr_multiplier / np.sqrt(weight.shape[1]))  # pickled as numpy scalars
    layer.bias_gain = lr_multiplier
    return layer


def synthesis_layer(ros, name, noise, resolution, up) -> Persistent:
    """networks.py ``SynthesisLayer``: weight (out, in, 3, 3), noise_const (r, r), noise_strength ()."""
    weight = ros[f"{name}.conv.weight"][0]
    layer = Persistent("SynthesisLayer", in_channels=weight.shape[1], out_channels=weight.shape[0],
                       w_dim=STYLE_DIM, resolution=resolution, up=up)
    layer.resolution, layer.up, layer.use_noise, layer.activation = resolution, up, True, "lrelu"
    layer.register_buffer("resample_filter", setup_filter())
    layer.padding, layer.act_gain = 1, np.float64(np.sqrt(2))
    layer.affine = fc(ros[f"{name}.conv.modulation.weight"], ros[f"{name}.conv.modulation.bias"])
    layer.weight = nn.Parameter(weight.clone())
    layer.register_buffer("noise_const", ros[f"noises.noise_{noise}"][0, 0].clone())
    layer.noise_strength = nn.Parameter(ros[f"{name}.noise.weight"][0].clone())
    layer.bias = nn.Parameter(ros[f"{name}.activate.bias"].clone())
    return layer


def torgb_layer(ros, name) -> Persistent:
    weight = ros[f"{name}.conv.weight"][0]
    layer = Persistent("ToRGBLayer", in_channels=weight.shape[1], out_channels=weight.shape[0], w_dim=STYLE_DIM)
    layer.conv_clamp = None
    layer.affine = fc(ros[f"{name}.conv.modulation.weight"], ros[f"{name}.conv.modulation.bias"])
    layer.weight = nn.Parameter(weight.clone())
    layer.bias = nn.Parameter(ros[f"{name}.bias"].flatten().clone())
    layer.weight_gain = np.float64(1 / np.sqrt(weight.shape[1]))
    return layer


def nvidia_generator(ros, w_avg, lr_multiplier=0.01, conv_clamp=None, c_dim=0, architecture="skip",
                     **synthesis_kwargs) -> Persistent:
    """networks.py ``Generator(z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs,
    synthesis_kwargs)`` holding the weights of ``ros``, built module by module."""
    resolution = 4 * 2 ** (len(CHANNELS) - 1)
    G = Persistent("Generator", z_dim=STYLE_DIM, c_dim=c_dim, w_dim=STYLE_DIM, img_resolution=resolution,
                   img_channels=3,
                   mapping_kwargs=EasyDict(num_layers=N_MLP, lr_multiplier=lr_multiplier),
                   synthesis_kwargs=EasyDict(channel_base=CHANNEL_BASE, channel_max=CHANNEL_MAX, num_fp16_res=0,
                                             conv_clamp=conv_clamp, architecture=architecture, **synthesis_kwargs))
    G.z_dim, G.c_dim, G.w_dim, G.img_resolution, G.img_channels = STYLE_DIM, c_dim, STYLE_DIM, resolution, 3
    synthesis = Persistent("SynthesisNetwork", w_dim=STYLE_DIM, img_resolution=resolution, img_channels=3)
    synthesis.block_resolutions = [4 * 2**k for k in range(len(CHANNELS))]
    for k, res in enumerate(synthesis.block_resolutions):
        block = Persistent("SynthesisBlock", in_channels=CHANNELS[k - 1] if k else 0, out_channels=CHANNELS[k],
                           resolution=res, architecture=architecture)
        block.register_buffer("resample_filter", setup_filter())
        if k == 0:
            block.const = nn.Parameter(ros["input.input"][0].clone())
            block.conv1 = synthesis_layer(ros, "conv1", 0, 4, up=1)
            block.torgb = torgb_layer(ros, "to_rgb1")
        else:
            j = k - 1
            block.conv0 = synthesis_layer(ros, f"convs.{2 * j}", 2 * j + 1, res, up=2)
            block.conv1 = synthesis_layer(ros, f"convs.{2 * j + 1}", 2 * j + 2, res, up=1)
            block.torgb = torgb_layer(ros, f"to_rgbs.{j}")
        setattr(synthesis, f"b{res}", block)
    G.synthesis = synthesis
    mapping = Persistent("MappingNetwork", z_dim=STYLE_DIM, c_dim=c_dim, w_dim=STYLE_DIM, num_ws=N_LATENT,
                         num_layers=N_MLP, lr_multiplier=lr_multiplier)
    for i in range(N_MLP):
        setattr(mapping, f"fc{i}", fc(ros[f"style.{i + 1}.weight"], ros[f"style.{i + 1}.bias"], lr_multiplier, "lrelu"))
    mapping.register_buffer("w_avg", w_avg.clone())
    G.mapping = mapping
    return G.eval().requires_grad_(False)


def snapshot(G_ema, **extra) -> dict:
    """What training_loop.py pickles: training_set_kwargs, G, D, G_ema, augment_pipe."""
    D = Persistent("Discriminator", c_dim=0, img_resolution=32, img_channels=3, architecture="resnet")
    D.b32 = Persistent("DiscriminatorBlock", in_channels=0, tmp_channels=4, out_channels=8, resolution=32)
    D.b32.fromrgb = Persistent("Conv2dLayer", in_channels=3, out_channels=4, kernel_size=1)
    D.b32.fromrgb.weight = nn.Parameter(torch.randn(4, 3, 1, 1))
    D.b32.fromrgb.weight_gain = np.float32(1 / np.sqrt(3))
    augment_pipe = Persistent("AugmentPipe", xflip=1, rotate90=1)
    augment_pipe.register_buffer("p", torch.zeros([]))
    training_set_kwargs = dict(class_name="training.dataset.ImageFolderDataset", path="ffhq.zip", use_labels=False,
                               max_size=None, xflip=False, resolution=32)
    return dict(training_set_kwargs=training_set_kwargs, G=G_ema, D=D.eval(), G_ema=G_ema, augment_pipe=augment_pipe,
                **extra)


@pytest.fixture
def files(tmp_path, monkeypatch):
    """(rosinality .pt, NVIDIA .pkl, marker that module_src would write) for the same weights."""
    ros, w_avg = rosinality_state(), torch.randn(STYLE_DIM)
    torch.save({"g_ema": ros, "latent_avg": w_avg}, tmp_path / "ros.pt")
    marker = tmp_path / "module_src_ran"
    pkl = write_nvidia_pickle(tmp_path / "network-snapshot.pkl", snapshot(nvidia_generator(ros, w_avg)), marker,
                              monkeypatch)
    return tmp_path / "ros.pt", pkl, marker


def raw(G, latents):
    """The generator's [0, 1] images mapped back to its raw output."""
    lo, hi = G.output_range
    with torch.no_grad():
        return G(latents) * (hi - lo) + lo


# --- the functional forward pass of networks.py (noise_mode='const', fused_modconv=False) ---

def nv_fc(t, name, x, lr_multiplier=1.0, act=False):
    w = t[f"{name}.weight"] * (lr_multiplier / math.sqrt(t[f"{name}.weight"].shape[1]))
    x = x @ w.T + t[f"{name}.bias"] * lr_multiplier
    return F.leaky_relu(x, 0.2) * math.sqrt(2) if act else x


def nv_upfirdn2d(x, f, up, pad, gain):
    """``_upfirdn2d_ref``: insert zeros, pad [x0, x1, y0, y1], convolve with the flipped filter × gain."""
    b, c, h, w = x.shape
    x = F.pad(x.reshape(b, c, h, 1, w, 1), [0, up - 1, 0, 0, 0, up - 1]).reshape(b, c, h * up, w * up)
    x = F.pad(x, pad)
    f = (f * gain).flip([0, 1])[None, None].repeat(c, 1, 1, 1)
    return F.conv2d(x, f, groups=c)


def nv_layer(t, name, x, w, up, clamp):
    weight = t[f"{name}.weight"]  # modulated_conv2d takes the weight without its 1/sqrt(fan_in) gain
    styles = nv_fc(t, f"{name}.affine", w)
    dcoefs = ((weight[None] * styles[:, None, :, None, None]).square().sum([2, 3, 4]) + 1e-8).rsqrt()
    x = x * styles[:, :, None, None]
    if up == 1:
        x = F.conv2d(x, weight, padding=1)
    else:  # conv2d_resample, up = 2, padding = 1, 4-tap filter: transposed conv, then the filter
        kw, fw = weight.shape[-1], 4
        p0 = 1 + (fw + up - 1) // 2 - (kw - 1)
        p1 = 1 + (fw - up) // 2 - (kw - up)
        x = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2)
        x = nv_upfirdn2d(x, t[f"{name}.resample_filter"], 1, [p0, p1, p0, p1], up**2)
    x = x * dcoefs[:, :, None, None] + t[f"{name}.noise_strength"] * t[f"{name}.noise_const"]
    x = F.leaky_relu(x + t[f"{name}.bias"][None, :, None, None], 0.2) * math.sqrt(2)
    return x if clamp is None else x.clamp(-clamp, clamp)


def nv_torgb(t, name, x, w, clamp):
    weight = t[f"{name}.weight"]
    styles = nv_fc(t, f"{name}.affine", w) / math.sqrt(weight.shape[1])
    x = F.conv2d(x * styles[:, :, None, None], weight) + t[f"{name}.bias"][None, :, None, None]
    return x if clamp is None else x.clamp(-clamp, clamp)


def nv_generator(t, z, lr_multiplier, clamp):
    x = z * (z.square().mean(1, keepdim=True) + 1e-8).rsqrt()
    for i in range(N_MLP):
        x = nv_fc(t, f"mapping.fc{i}", x, lr_multiplier, act=True)
    ws = x[:, None].repeat(1, N_LATENT, 1)
    img, w_idx = None, 0
    for k in range(len(CHANNELS)):
        b = f"synthesis.b{4 * 2**k}"
        block_ws = ws[:, w_idx:w_idx + (2 if k == 0 else 3)]  # num_conv + num_torgb
        w_idx += 1 if k == 0 else 2  # num_conv
        if k == 0:
            h = nv_layer(t, f"{b}.conv1", t[f"{b}.const"][None].repeat(z.shape[0], 1, 1, 1), block_ws[:, 0], 1, clamp)
        else:
            h = nv_layer(t, f"{b}.conv0", h, block_ws[:, 0], 2, clamp)
            h = nv_layer(t, f"{b}.conv1", h, block_ws[:, 1], 1, clamp)
            img = nv_upfirdn2d(img, t[f"{b}.resample_filter"], 2, [2, 1, 2, 1], 4)  # upsample2d
        y = nv_torgb(t, f"{b}.torgb", h, block_ws[:, -1], clamp)
        img = y if img is None else img + y
    return img


# --- loading ---

@pytest.mark.parametrize("space", ["z", "w", "w+"])
def test_the_pickle_gives_the_images_of_the_same_weights_in_rosinality_layout(files, space):
    ros_path, pkl, marker = files
    ours, theirs = load_stylegan2_ada(pkl, space=space), load_stylegan2(ros_path, space=space)
    assert ours.space == space and ours.latent_dim == theirs.latent_dim
    assert not ours.training and ours.image_shape() == (3, 32, 32)
    g = torch.Generator().manual_seed(1)
    latents = torch.randn(3, theirs.latent_dim, generator=g)
    expected = raw(theirs, latents)
    torch.testing.assert_close(raw(ours, latents), expected, rtol=1e-6, atol=1e-6)
    assert expected.abs().mean() > 0.1  # the images are not trivially equal
    # the mean w is mapping.w_avg, as latent_avg in the rosinality file
    torch.testing.assert_close(ours.network.w_avg, theirs.network.w_avg, rtol=0, atol=0)
    assert torch.equal(ours.sample_latent(2, generator=torch.Generator().manual_seed(4)),
                       theirs.sample_latent(2, generator=torch.Generator().manual_seed(4)))
    assert not marker.exists()


def test_matches_networks_py_forward_with_a_mapping_lr_and_conv_clamp(tmp_path, monkeypatch):
    """lr_multiplier ≠ 0.01 and a conv_clamp small enough to clip many activations."""
    ros = rosinality_state(seed=2)
    for lr, clamp in [(0.05, None), (0.01, 0.7)]:
        G_ema = nvidia_generator(ros, torch.zeros(STYLE_DIM), lr_multiplier=lr, conv_clamp=clamp)
        pkl = write_nvidia_pickle(tmp_path / f"g{lr}-{clamp}.pkl", snapshot(G_ema), tmp_path / "ran", monkeypatch)
        G = load_stylegan2_ada(pkl, space="z").double()  # float64: a tight tolerance for two formulations
        z = torch.randn(2, STYLE_DIM, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
        with torch.no_grad():
            expected = nv_generator({k: v.double() for k, v in G_ema.state_dict().items()}, z, lr, clamp)
        # Not 1e-12: NVIDIA adds the demodulation's 1e-8 to Σ(W s)² of the unscaled weight, rosinality
        # (invgen) to that of the scaled one, which moves these outputs by ~1e-8.
        torch.testing.assert_close(raw(G, z), expected, rtol=1e-6, atol=1e-6)
        unclipped = load_stylegan2(_saved(tmp_path, ros), space="z").double()  # lr 0.01, no clamp
        assert (raw(unclipped, z) - expected).abs().max() > 1e-2  # the setting mattered


def _saved(tmp_path, ros):
    torch.save({"g_ema": ros}, tmp_path / "plain.pt")
    return tmp_path / "plain.pt"


@pytest.mark.parametrize("protocol", [3, 4, 5])
def test_reads_pickle_protocols_3_to_5_and_imports_no_nvidia_module(tmp_path, monkeypatch, protocol):
    ros, w_avg = rosinality_state(seed=5), torch.randn(STYLE_DIM)
    marker = tmp_path / "ran"
    pkl = write_nvidia_pickle(tmp_path / "g.pkl", snapshot(nvidia_generator(ros, w_avg)), marker, monkeypatch,
                              protocol=protocol)
    before = set(sys.modules)
    G = load_stylegan2_ada(pkl, space="w")
    w = torch.randn(2, STYLE_DIM, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(raw(G, w), raw(load_stylegan2(_saved(tmp_path, ros)), w), rtol=1e-6, atol=1e-6)
    assert not marker.exists()
    new = set(sys.modules) - before
    assert not {m for m in new if m.startswith(("torch_utils", "dnnlib", "_imported_module_", "training"))}


def test_the_spec_kinds_load_through_load_generator(files):
    _, pkl, _ = files
    for kind, space, latent_dim in [("stylegan2-ada", "w", STYLE_DIM), ("stylegan2-ada-z", "z", STYLE_DIM),
                                    ("stylegan2-ada-w+", "w+", N_LATENT * STYLE_DIM)]:
        G = load_generator(f"{kind}:{pkl}")
        assert (G.space, G.latent_dim, G.image_shape()) == (space, latent_dim, (3, 32, 32))


def test_ffhq_config_f_hyper_parameters_map_every_tensor_onto_the_architecture():
    """FFHQ 1024 as train.py's 'paper1024' config writes it (shapes only, on the meta device)."""
    kwargs = dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=1024, img_channels=3,
                  mapping_kwargs=dict(num_layers=8),
                  synthesis_kwargs=dict(channel_base=32768, channel_max=512, num_fp16_res=4, conv_clamp=256))
    arch = _architecture(PersistentModule("Generator", {"_init_kwargs": kwargs}), "ffhq.pkl")
    assert arch.channels == channels_for(1024, 2) and (arch.n_mlp, arch.lr_mlp, arch.conv_clamp) == (8, 0.01, 256.0)
    shapes = _nvidia_shapes(arch)
    with torch.device("meta"):
        nvidia = {k: torch.empty(s) for k, s in shapes.items()}
        network = StyleGAN2Network(arch.channels, 512, 8, space="w+", conv_clamp=arch.conv_clamp)
    ours = _to_rosinality(nvidia, arch.n_mlp, len(arch.channels) - 1)
    assert {k: tuple(v.shape) for k, v in ours.items()} == {
        k: tuple(v.shape) for k, v in network.state_dict().items() if not k.endswith(".kernel")}
    # every NVIDIA number but the filters and the mean w is used once; G has 30.0 M parameters
    used = {k: math.prod(s) for k, s in shapes.items() if not k.endswith((".resample_filter", ".w_avg"))}
    assert sum(v.numel() for v in ours.values()) == sum(used.values())
    assert 29.5e6 < sum(n for k, n in used.items() if not k.endswith(".noise_const")) < 30.5e6


# --- refusals ---

class Evil:
    """Pickles as a call of ``func(*args)``."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.mark.parametrize("global_name", ["os.system", "builtins.exec", "torch.nn.modules.linear.Linear"])
def test_a_pickle_with_another_global_is_refused_naming_it_without_running_it(files, tmp_path, monkeypatch,
                                                                              global_name):
    ros_path, _, marker = files
    evil_marker = tmp_path / "evil_ran"
    payload = {
        "os.system": Evil(os.system, f"touch {evil_marker}"),
        "builtins.exec": Evil(exec, f"open({str(evil_marker)!r}, 'w')"),
        # what a module pickled without NVIDIA's persistence decorator references
        "torch.nn.modules.linear.Linear": nn.Linear(2, 2),
    }[global_name]
    ros = torch.load(ros_path, weights_only=True)
    content = snapshot(nvidia_generator(ros["g_ema"], ros["latent_avg"]), extra=payload)
    pkl = write_nvidia_pickle(tmp_path / "evil.pkl", content, marker, monkeypatch)
    if global_name == "os.system":  # pickle names os.system by its defining module, posix: name it os
        data = pkl.read_bytes()
        assert data.count(b"cposix\nsystem\n") == 1
        pkl.write_bytes(data.replace(b"cposix\nsystem\n", b"cos\nsystem\n"))
    with pytest.raises(pickle.UnpicklingError, match=global_name.replace(".", r"\.")) as info:
        load_stylegan2_ada(pkl)
    assert isinstance(info.value, UnsafePickleError) and isinstance(info.value, CheckpointMismatchError)
    assert str(pkl) in str(info.value)
    assert not evil_marker.exists() and not marker.exists()
    with pytest.raises(UnsafePickleError, match=global_name.replace(".", r"\.")):
        load_generator(f"stylegan2-ada:{pkl}")


@pytest.mark.parametrize("change, culprit", [
    (dict(c_dim=10), "c_dim = 10"),
    (dict(architecture="resnet"), "architecture = 'resnet'"),
    (dict(architecture="orig"), "architecture = 'orig'"),
    (dict(activation="relu"), "synthesis_kwargs.activation = 'relu'"),
])
def test_unsupported_generators_are_refused_saying_what_is_supported(tmp_path, monkeypatch, change, culprit):
    ros = rosinality_state()
    pkl = write_nvidia_pickle(tmp_path / "g.pkl", snapshot(nvidia_generator(ros, torch.zeros(STYLE_DIM), **change)),
                              tmp_path / "ran", monkeypatch)
    with pytest.raises(CheckpointMismatchError) as info:
        load_stylegan2_ada(pkl)
    message = str(info.value)
    assert culprit in message and "Supported: unconditional (c_dim = 0)" in message and "'skip'" in message
    assert str(pkl) in message


def test_wrong_tensors_and_filters_are_named(files, tmp_path, monkeypatch):
    ros_path, _, marker = files
    ros = torch.load(ros_path, weights_only=True)
    G = nvidia_generator(ros["g_ema"], ros["latent_avg"])
    G.synthesis.b16.skip = Persistent("Conv2dLayer")  # a resnet block's extra layer
    G.synthesis.b16.skip.weight = nn.Parameter(torch.zeros(8, 16, 1, 1))
    del G.synthesis.b8.conv1.noise_const
    pkl = write_nvidia_pickle(tmp_path / "odd.pkl", snapshot(G), marker, monkeypatch)
    with pytest.raises(CheckpointMismatchError) as info:
        load_stylegan2_ada(pkl)
    message = str(info.value)
    assert "missing keys (1):\n  synthesis.b8.conv1.noise_const" in message
    assert "unexpected keys (1):\n  synthesis.b16.skip.weight" in message

    G = nvidia_generator(ros["g_ema"], ros["latent_avg"])
    G.synthesis.b8.conv0.resample_filter = torch.ones(4, 4) / 16
    pkl = write_nvidia_pickle(tmp_path / "box.pkl", snapshot(G), marker, monkeypatch)
    with pytest.raises(CheckpointMismatchError, match=r"b8\.conv0\.resample_filter is not the \[1, 3, 3, 1\]"):
        load_stylegan2_ada(pkl)


def test_files_of_other_formats_are_refused(files, tmp_path, monkeypatch):
    ros_path, pkl, marker = files
    with pytest.raises(CheckpointMismatchError, match="zip archive.*stylegan2 kind"):
        load_stylegan2_ada(ros_path)
    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes(pkl.read_bytes()[: pkl.stat().st_size // 2])
    with pytest.raises(CheckpointMismatchError, match="truncated or corrupt"):
        load_stylegan2_ada(truncated)
    text = tmp_path / "notes.pkl"
    text.write_text("not a pickle")
    with pytest.raises(CheckpointMismatchError, match="not a pickle"):
        load_stylegan2_ada(text)
    no_g_ema = write_nvidia_pickle(tmp_path / "d.pkl", {"D": snapshot(Persistent("Generator"))["D"]}, marker,
                                   monkeypatch)
    with pytest.raises(CheckpointMismatchError, match=r"no persistent G_ema module \(found: \['D'\]\)"):
        load_stylegan2_ada(no_g_ema)
    with pytest.raises(FileNotFoundError):
        load_stylegan2_ada(tmp_path / "missing.pkl")
    with pytest.raises(ValueError, match="space"):
        load_stylegan2_ada(pkl, space="s")
    assert not marker.exists()
