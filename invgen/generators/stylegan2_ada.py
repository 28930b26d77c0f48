"""NVIDIA's StyleGAN2-ADA network pickles as invgen StyleGAN2 generators, read without running code.

Source format: the ``.pkl`` files of NVlabs/stylegan2-ada-pytorch (``training/training_loop.py``
writes ``pickle.dump(dict(training_set_kwargs=..., G=..., D=..., G_ema=..., augment_pipe=...))``;
most published FFHQ, CelebA-HQ, AFHQ and MetFaces weights are such files, and so are the
StyleGAN2 pickles of NVlabs/stylegan3). Only ``G_ema`` is used: a ``training/networks.py``
``Generator``, config F, ``architecture='skip'``, unconditional (``c_dim = 0``). Each of its
modules is pickled by ``torch_utils.persistence`` as a call of
``torch_utils.persistence._reconstruct_persistent_obj(meta)`` with ``meta = {'type': 'class',
'version', 'module_src': <the source of networks.py>, 'class_name', 'state': <the module's
__dict__>}``; NVIDIA's loader ``exec``-s ``module_src``. This reader never does: a restricted
unpickler turns each such call into an inert :class:`PersistentModule` (class name and state,
the source dropped unread) and allows no other global than those that rebuild tensors and plain
data — ``torch._utils._rebuild_tensor_v2`` and ``_rebuild_parameter[_with_state]`` (read as the
bare tensor: no ``Parameter``, hooks or state), ``torch.storage._load_from_bytes``
(its bytes are a legacy ``torch.save`` of one storage, read with ``torch.load(...,
weights_only=True)``), ``collections.OrderedDict``, ``builtins.set``, ``dnnlib.util.EasyDict``
(read as a ``dict``) and numpy's ``dtype`` and ``scalar`` (read as Python numbers). Any other
global raises :class:`UnsafePickleError` (a ``pickle.UnpicklingError``) naming it, before
anything is imported. Pickle protocols 3 to 5 are read (``pickle.dump``'s default since Python 3.0).

The tensors are the modules' ``_parameters`` and ``_buffers`` under their dotted names; the
hyper-parameters are ``G_ema``'s ``init_kwargs`` (``z_dim``, ``c_dim``, ``w_dim``,
``img_resolution``, ``img_channels``, ``mapping_kwargs`` — ``num_layers`` (8), ``lr_multiplier``
(0.01), ``layer_features``, ``activation`` — and ``synthesis_kwargs`` — ``channel_base`` (32768),
``channel_max`` (512), ``architecture``, ``conv_clamp``, ``use_noise``, ``activation``; NVIDIA's
defaults in brackets). Widths are ``c_r = min(channel_base // r, channel_max)``.

Mapping onto :class:`~invgen.generators.stylegan2.StyleGAN2Network` (rosinality's names; both
implementations keep weights unscaled and multiply by ``1/sqrt(fan_in)`` (times the learning-rate
multiplier) at run time, affine biases include their initial 1, conv weights are stored
``(out, in, k, k)`` in the same orientation — NVIDIA's upsampling layer runs a transposed
convolution with the unflipped weight, then the ``[1, 3, 3, 1]`` filter padded ``(1, 1)`` with
gain 4, as rosinality's does — so every tensor is copied, only reshaped):

========================================================  ================================================
stylegan2-ada-pytorch ``G_ema``                           invgen / rosinality
========================================================  ================================================
``mapping.fc{i}.weight (w, w)``, ``.bias (w,)``           ``style.{i+1}.weight``, ``.bias``
``mapping.w_avg (w,)``                                    the mean ``w`` (``latent_avg``)
``synthesis.b4.const (c₄, 4, 4)``                         ``input.input (1, c₄, 4, 4)``
``synthesis.b4.conv1``                                    ``conv1``
``synthesis.b{r}.conv0`` (r = 8·2^j, upsampling)          ``convs.{2j}``
``synthesis.b{r}.conv1``                                  ``convs.{2j+1}``
``synthesis.b4.torgb``, ``synthesis.b{r}.torgb``          ``to_rgb1``, ``to_rgbs.{j}``
``….weight (o, i, k, k)``                                 ``….conv.weight (1, o, i, k, k)``
``….affine.weight``, ``….affine.bias``                    ``….conv.modulation.weight``, ``.bias``
``conv*.bias (o,)``                                       ``….activate.bias``
``torgb.bias (3,)``                                       ``….bias (1, 3, 1, 1)``
``conv*.noise_strength ()``                               ``….noise.weight (1,)``
``b4.conv1.noise_const``, ``b{r}.conv{0,1}.noise_const``  ``noises.noise_0``, ``noise_{2j+1}``, ``{2j+2}``
``*.resample_filter (4, 4)``, sum 1                       checked; rosinality's kernels are 4× it
========================================================  ================================================

The per-layer styles line up: NVIDIA's block at 4² uses ``w_0`` (conv1), ``w_1`` (torgb), the
block at ``8·2^j`` uses ``w_{2j+1}``, ``w_{2j+2}``, ``w_{2j+3}``, as ``n_latent = 2·log2(size) − 2``
styles in invgen. ``lr_multiplier`` becomes the mapping's ``lr_mlp`` and ``conv_clamp`` the
network's ``conv_clamp`` (NVIDIA clips every layer's activations and every ToRGB output to
±``conv_clamp``). The noise images are ``noise_const``: the output equals NVIDIA's
``G(z, None, noise_mode='const')`` (``generate.py``'s default; ``G.forward``'s default draws fresh
noise) up to rounding: it is computed in float32 where NVIDIA runs the ``num_fp16_res`` highest
resolutions in float16 on a GPU, without truncation, and NVIDIA adds the demodulation's 1e-8 to
``Σ (W s)²`` of the unscaled weight where rosinality adds it to that of the scaled one
(``W/sqrt(fan_in)``), a relative difference of about ``1e-8 / mean((W s)²)``, below float32's
resolution for trained weights. Refused with :class:`CheckpointMismatchError` saying what is
read: conditional networks (``c_dim > 0``), ``architecture`` ``'resnet'`` or ``'orig'``,
activations other than ``'lrelu'``, ``z_dim ≠ w_dim`` or mapping widths other than ``w_dim``, a
resampling filter other than ``[1, 3, 3, 1]``, networks without noise inputs, and any tensor set
other than the one listed above (e.g. StyleGAN3 generators).
"""
from __future__ import annotations

import io
import pickle
import struct
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import torch

from invgen.generators.checkpoint import CheckpointMismatchError, check_state
from invgen.generators.stylegan2 import (
    SPACES,
    LatentSpace,
    Start,
    StyleGAN2Generator,
    StyleGAN2Network,
    blur_kernel,
)

FORMAT = (
    "stylegan2-ada-pytorch network pickle: a dict with 'G_ema', a training/networks.py Generator "
    "pickled by torch_utils.persistence, architecture 'skip', c_dim = 0"
)


class UnsafePickleError(pickle.UnpicklingError, CheckpointMismatchError):
    """A network pickle references a global that the reader does not allow; nothing was imported."""


@dataclass(frozen=True, slots=True)  # no __dict__: a pickle's BUILD cannot add attributes
class PersistentModule:
    """What ``torch_utils.persistence`` pickled for one module, as inert data: its class name
    and its ``__dict__`` (``_parameters``, ``_buffers``, ``_modules``, ``_init_kwargs``, ...)."""

    class_name: str
    state: dict

    @property
    def init_kwargs(self) -> dict:
        kwargs = self.state.get("_init_kwargs")
        return dict(kwargs) if isinstance(kwargs, Mapping) else {}

    def tensors(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """Parameters and buffers of this module and its submodules, by dotted name
        (the keys of NVIDIA's ``state_dict()``)."""
        found: dict[str, torch.Tensor] = {}
        for group in ("_parameters", "_buffers"):
            for name, value in (self.state.get(group) or {}).items():
                if value is None:  # e.g. a layer built with bias=False
                    continue
                if not isinstance(value, torch.Tensor):
                    raise CheckpointMismatchError(f"{prefix}{name} is a {type(value).__name__}, not a tensor")
                found[prefix + name] = value
        for name, child in (self.state.get("_modules") or {}).items():
            if child is None:
                continue
            if not isinstance(child, PersistentModule):
                raise CheckpointMismatchError(f"{prefix}{name} is a {type(child).__name__}, not a persistent module")
            found.update(child.tensors(f"{prefix}{name}."))
        return found


def _persistent_module(meta: object) -> PersistentModule:
    """Stands for ``torch_utils.persistence._reconstruct_persistent_obj``; ``module_src`` is never read."""
    if not (isinstance(meta, Mapping) and meta.get("type") == "class" and isinstance(meta.get("class_name"), str)
            and isinstance(meta.get("state"), Mapping)):
        raise CheckpointMismatchError("a torch_utils.persistence object without the {'type': 'class', "
                                      "'class_name', 'state'} record of stylegan2-ada-pytorch")
    return PersistentModule(meta["class_name"], dict(meta["state"]))


def _storage_from_bytes(data: bytes) -> object:
    """Stands for ``torch.storage._load_from_bytes``: the bytes are ``torch.save`` of one storage."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="TypedStorage is deprecated")
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def _tensor(storage: object, offset: int, size: tuple, stride: tuple, *_: object) -> torch.Tensor:
    """Stands for ``torch._utils._rebuild_tensor_v2``: the tensor, without ``requires_grad``, hooks
    or metadata."""
    return torch._utils._rebuild_tensor(storage, offset, size, stride)


def _parameter_data(data: torch.Tensor, *_: object) -> torch.Tensor:
    """Stands for ``torch._utils._rebuild_parameter[_with_state]``: the tensor, without hooks or state."""
    return data


class _NumpyDtype:
    """Stands for ``numpy.dtype`` as pickled (``dtype('f8', False, True)`` then its state)."""

    def __init__(self, code: object, align: object = False, copy: object = False) -> None:
        self.code, self.order = str(code), "<"

    def __setstate__(self, state: object) -> None:
        if isinstance(state, tuple) and len(state) > 1 and state[1] in ("<", ">"):
            self.order = state[1]


_STRUCT_CODES = {"f2": "e", "f4": "f", "f8": "d", "i1": "b", "i2": "h", "i4": "i", "i8": "q",
                 "u1": "B", "u2": "H", "u4": "I", "u8": "Q", "b1": "?"}


def _numpy_scalar(dtype: object, data: object = None) -> object:
    """Stands for ``numpy.core.multiarray.scalar``: a Python number (NVIDIA's layers keep gains
    such as ``np.sqrt(2)`` as attributes); an unknown dtype keeps its raw bytes."""
    code = _STRUCT_CODES.get(getattr(dtype, "code", ""))
    if code is None or not isinstance(data, bytes) or len(data) != struct.calcsize(code):
        return data
    return struct.unpack(dtype.order + code, data)[0]


ALLOWED_GLOBALS = {
    ("torch._utils", "_rebuild_tensor_v2"): _tensor,
    ("torch._utils", "_rebuild_parameter"): _parameter_data,
    ("torch._utils", "_rebuild_parameter_with_state"): _parameter_data,
    ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set,
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _persistent_module,
    ("dnnlib.util", "EasyDict"): dict,
    ("numpy", "dtype"): _NumpyDtype,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles only the globals of :data:`ALLOWED_GLOBALS` (their stand-ins, never an import)."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"the pickle references the global {module}.{name}, which invgen does not load (it could run "
                f"code); only tensors, plain containers and torch_utils.persistence modules are read "
                f"({FORMAT})") from None


def read_network_pickle(path: str | PathLike) -> object:
    """The content of a stylegan2-ada-pytorch pickle, every persistent module as a
    :class:`PersistentModule`. Raises ``FileNotFoundError``, :class:`UnsafePickleError` for a
    global outside :data:`ALLOWED_GLOBALS`, and :class:`CheckpointMismatchError` for a file that
    is not a pickle or is truncated."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such network pickle: {path}")
    with open(path, "rb") as f:
        head = f.read(2)
        if head == b"PK":
            raise CheckpointMismatchError(
                f"{path} is a zip archive (a torch.save checkpoint), not a {FORMAT}; rosinality's "
                "stylegan2-pytorch checkpoints load with the stylegan2 kind (load_stylegan2)")
        if head[:1] != b"\x80":
            raise CheckpointMismatchError(f"{path} is not a pickle; expected a {FORMAT}")
        f.seek(0)
        try:
            return RestrictedUnpickler(f).load()
        except UnsafePickleError as err:
            raise UnsafePickleError(f"{path}: {err}") from None
        except CheckpointMismatchError as err:
            raise CheckpointMismatchError(f"{path}: {err}") from None
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
                KeyError, RuntimeError, struct.error) as err:
            raise CheckpointMismatchError(f"{path} is truncated or corrupt ({str(err)[:100]}); "
                                          f"expected a {FORMAT}") from None


@dataclass(frozen=True)
class _Architecture:
    channels: tuple[int, ...]
    style_dim: int
    n_mlp: int
    out_channels: int
    lr_mlp: float
    conv_clamp: float | None


def _architecture(g_ema: PersistentModule, where: str) -> _Architecture:
    """The invgen architecture of ``G_ema`` from its ``init_kwargs``; refuses what it cannot run."""
    kwargs = g_ema.init_kwargs
    needed = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")
    missing = [k for k in needed if k not in kwargs]
    if missing:
        raise CheckpointMismatchError(f"{where}: G_ema's init_kwargs lack {', '.join(missing)}; expected a {FORMAT}")
    mapping = dict(kwargs.get("mapping_kwargs") or {})
    synthesis = dict(kwargs.get("synthesis_kwargs") or {})
    z_dim, w_dim, resolution = int(kwargs["z_dim"]), int(kwargs["w_dim"]), int(kwargs["img_resolution"])
    layer_features = mapping.get("layer_features") or w_dim
    # (setting, what the file says, what invgen's StyleGAN2 runs); absent settings take NVIDIA's defaults
    settings = [
        ("c_dim", kwargs["c_dim"], 0),
        ("synthesis_kwargs.architecture", synthesis.get("architecture", "skip"), "skip"),
        ("synthesis_kwargs.activation", synthesis.get("activation", "lrelu"), "lrelu"),
        ("synthesis_kwargs.use_noise", synthesis.get("use_noise", True), True),
        ("mapping_kwargs.activation", mapping.get("activation", "lrelu"), "lrelu"),
        ("z_dim", z_dim, w_dim),
        ("mapping_kwargs.layer_features", layer_features, w_dim),
    ]
    unsupported = [f"{name} = {found!r} (supported: {wanted!r})" for name, found, wanted in settings if found != wanted]
    if unsupported:
        raise CheckpointMismatchError(
            f"{where}: this StyleGAN2-ADA generator is not one invgen can run: {'; '.join(unsupported)}. "
            "Supported: unconditional (c_dim = 0) config-F generators of the 'skip' architecture with "
            "leaky-ReLU activations, noise inputs and z_dim = w_dim = the mapping width")
    if resolution < 4 or resolution & (resolution - 1):
        raise CheckpointMismatchError(f"{where}: img_resolution = {resolution} is not a power of 2 ≥ 4")
    base, most = int(synthesis.get("channel_base", 32768)), int(synthesis.get("channel_max", 512))
    sides = [2**k for k in range(2, resolution.bit_length())]
    clamp = synthesis.get("conv_clamp")
    return _Architecture(
        channels=tuple(min(base // r, most) for r in sides),
        style_dim=w_dim,
        n_mlp=int(mapping.get("num_layers", 8)),
        out_channels=int(kwargs["img_channels"]),
        lr_mlp=float(mapping.get("lr_multiplier", 0.01)),
        conv_clamp=None if clamp is None else float(clamp),
    )


def _nvidia_shapes(arch: _Architecture) -> dict[str, tuple[int, ...]]:
    """The parameters and buffers of a stylegan2-ada-pytorch ``Generator`` of ``arch``
    (``c_dim = 0``, 'skip'), by name, as its ``state_dict()`` lists them (``mapping.w_avg`` included)."""
    d, rgb = arch.style_dim, arch.out_channels
    shapes: dict[str, tuple[int, ...]] = {}
    for i in range(arch.n_mlp):
        shapes[f"mapping.fc{i}.weight"], shapes[f"mapping.fc{i}.bias"] = (d, d), (d,)
    shapes["mapping.w_avg"] = (d,)

    def layer(name: str, c_in: int, c_out: int, side: int) -> None:
        shapes.update({f"{name}.resample_filter": (4, 4), f"{name}.affine.weight": (c_in, d),
                       f"{name}.affine.bias": (c_in,), f"{name}.weight": (c_out, c_in, 3, 3),
                       f"{name}.noise_const": (side, side), f"{name}.noise_strength": (),
                       f"{name}.bias": (c_out,)})

    def torgb(name: str, c_in: int) -> None:
        shapes.update({f"{name}.affine.weight": (c_in, d), f"{name}.affine.bias": (c_in,),
                       f"{name}.weight": (rgb, c_in, 1, 1), f"{name}.bias": (rgb,)})

    c4 = arch.channels[0]
    shapes["synthesis.b4.resample_filter"] = (4, 4)
    shapes["synthesis.b4.const"] = (c4, 4, 4)
    layer("synthesis.b4.conv1", c4, c4, 4)
    torgb("synthesis.b4.torgb", c4)
    for j, (c_in, c_out) in enumerate(zip(arch.channels, arch.channels[1:])):
        side = 8 * 2**j
        block = f"synthesis.b{side}"
        shapes[f"{block}.resample_filter"] = (4, 4)
        layer(f"{block}.conv0", c_in, c_out, side)
        layer(f"{block}.conv1", c_out, c_out, side)
        torgb(f"{block}.torgb", c_out)
    return shapes


def _to_rosinality(nv: Mapping[str, torch.Tensor], n_mlp: int, n_blocks: int) -> dict[str, torch.Tensor]:
    """NVIDIA's ``G_ema`` tensors under rosinality's names (the table in the module docstring);
    the blur kernels and the mean ``w`` are left to the caller."""
    state = {}
    for i in range(n_mlp):
        state[f"style.{i + 1}.weight"] = nv[f"mapping.fc{i}.weight"]
        state[f"style.{i + 1}.bias"] = nv[f"mapping.fc{i}.bias"]
    state["input.input"] = nv["synthesis.b4.const"][None]

    def layer(ours: str, theirs: str, noise: int) -> None:
        state[f"{ours}.conv.weight"] = nv[f"{theirs}.weight"][None]
        state[f"{ours}.conv.modulation.weight"] = nv[f"{theirs}.affine.weight"]
        state[f"{ours}.conv.modulation.bias"] = nv[f"{theirs}.affine.bias"]
        state[f"{ours}.noise.weight"] = nv[f"{theirs}.noise_strength"].reshape(1)
        state[f"{ours}.activate.bias"] = nv[f"{theirs}.bias"]
        state[f"noises.noise_{noise}"] = nv[f"{theirs}.noise_const"][None, None]

    def torgb(ours: str, theirs: str) -> None:
        state[f"{ours}.conv.weight"] = nv[f"{theirs}.weight"][None]
        state[f"{ours}.conv.modulation.weight"] = nv[f"{theirs}.affine.weight"]
        state[f"{ours}.conv.modulation.bias"] = nv[f"{theirs}.affine.bias"]
        state[f"{ours}.bias"] = nv[f"{theirs}.bias"].reshape(1, -1, 1, 1)

    layer("conv1", "synthesis.b4.conv1", 0)
    torgb("to_rgb1", "synthesis.b4.torgb")
    for j in range(n_blocks):
        block = f"synthesis.b{8 * 2**j}"
        layer(f"convs.{2 * j}", f"{block}.conv0", 2 * j + 1)
        layer(f"convs.{2 * j + 1}", f"{block}.conv1", 2 * j + 2)
        torgb(f"to_rgbs.{j}", f"{block}.torgb")
    return state


def load_stylegan2_ada(
    path: str | PathLike, space: LatentSpace = "w", start: Start = "mean"
) -> StyleGAN2Generator:
    """Load ``G_ema`` of a stylegan2-ada-pytorch network pickle (format and mapping in the module
    docstring) without running any code from the file.

    Returns the :class:`StyleGAN2Generator` that :func:`~invgen.generators.load_stylegan2` returns
    for the same weights in rosinality's format: eval mode, searching in ``space`` (``"z"``,
    ``"w"`` or ``"w+"``) from ``start``, images in [0, 1]; the mean ``w`` is ``mapping.w_avg``
    (estimated from 4096 mapped draws if the file has none). Raises :class:`UnsafePickleError`
    for a pickle that references other code, and :class:`CheckpointMismatchError` for a file of
    another format or a generator invgen cannot run, saying what is supported.
    """
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    content = read_network_pickle(path)
    if not isinstance(content, Mapping) or not isinstance(content.get("G_ema"), PersistentModule):
        found = sorted(map(str, content)) if isinstance(content, Mapping) else type(content).__name__
        raise CheckpointMismatchError(f"{path} holds no persistent G_ema module (found: {found}); expected a {FORMAT}")
    g_ema = content["G_ema"]
    arch = _architecture(g_ema, str(path))
    try:
        tensors = g_ema.tensors()
    except CheckpointMismatchError as err:
        raise CheckpointMismatchError(f"{path}: in G_ema, {err}; expected a {FORMAT}") from None
    expected = _nvidia_shapes(arch)
    if "mapping.w_avg" not in tensors:  # w_avg_beta=None: no running mean of w was kept
        del expected["mapping.w_avg"]
    check_state(tensors, expected, f"{FORMAT} ({path})")
    reference = blur_kernel()
    for key in (k for k in expected if k.endswith(".resample_filter")):
        if not torch.allclose(tensors[key].float(), reference, atol=1e-6):
            raise CheckpointMismatchError(
                f"{path}: {key} is not the [1, 3, 3, 1] filter (normalised to sum 1), the only one "
                "invgen's StyleGAN2 resamples with")
    network = StyleGAN2Network(arch.channels, arch.style_dim, arch.n_mlp, arch.out_channels, space,
                               lr_mlp=arch.lr_mlp, conv_clamp=arch.conv_clamp)
    state = _to_rosinality({k: v.float() for k, v in tensors.items()}, arch.n_mlp, len(arch.channels) - 1)
    state.update({k: v for k, v in network.state_dict().items() if k.endswith(".kernel")})
    network.load_state_dict(state)
    w_avg = tensors.get("mapping.w_avg")
    network.w_avg.copy_(network.mean_w() if w_avg is None else w_avg.detach().float())
    return StyleGAN2Generator(network, start).eval()
