"""The generator contract: latents ``(B, latent_dim)`` → images ``(B, C, H, W)`` in [0, 1].

Every generator in invgen — the embedded default, the public architectures and any
network a user brings — is a :class:`Generator`. Priors and solvers rely on nothing else.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import torch
from torch import nn

from invgen.validation import check_tensor, count

LatentDistribution = Literal["gaussian", "uniform"]


class Generator(nn.Module):
    """A network ``G`` that maps latents to images, with the latent law it was trained on.

    ``forward(z)``: ``z`` of shape ``(B, latent_dim)`` → ``x = (G(z) − lo) / (hi − lo)`` of
    shape ``(B, *image_shape)``, where ``(lo, hi) = output_range`` is the range of the raw
    network output (``(-1, 1)`` for a tanh output). The affine map puts images in [0, 1];
    nothing is clamped, so gradients reach every latent.

    ``sample_latent(n)``: ``N(0, I)`` for ``latent="gaussian"``, ``U(-1, 1)`` for
    ``latent="uniform"`` (BEGAN), shape ``(n, latent_dim)``.

    The wrapped network receives ``(B, latent_dim)``; a network that wants
    ``(B, latent_dim, 1, 1)`` (DCGAN-style) reshapes inside, e.g. with ``nn.Unflatten``.

    **A chain of blocks.** A network whose forward applies its parts one after another says
    so (an ``nn.Sequential``, or a module with ``blocks()``; see :mod:`invgen.generators.layers`):
    IAGAN's per-image weights then run it as one grouped network call, and the methods that
    act between layers (ILO, DGP, mGANprior) split it there. Every loader's network is one.
    """

    def __init__(
        self,
        network: nn.Module,
        latent_dim: int,
        latent: LatentDistribution = "gaussian",
        output_range: tuple[float, float] = (-1.0, 1.0),
    ) -> None:
        super().__init__()
        count("latent_dim", latent_dim)
        if latent not in ("gaussian", "uniform"):
            raise ValueError(f"latent must be 'gaussian' or 'uniform', got {latent!r}")
        lo, hi = output_range
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            raise ValueError(f"output_range must be finite (lo, hi) with hi > lo, got {output_range}")
        self.network = network
        self.latent_dim = int(latent_dim)
        self.latent = latent
        self.output_range = (float(lo), float(hi))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        self.check_latents(z)
        return self.to_unit(self.network(z))

    def to_unit(self, raw: torch.Tensor) -> torch.Tensor:
        """The network's raw output mapped to [0, 1]: ``(raw − lo) / (hi − lo)``."""
        lo, hi = self.output_range
        return (raw - lo) / (hi - lo)

    def check_latents(self, z: torch.Tensor) -> None:
        """Raise unless ``z`` is a tensor ``(B, latent_dim)`` of the weights' dtype."""
        check_tensor("the latents z", z, finite=False)
        if z.dim() != 2 or z.shape[-1] != self.latent_dim:
            raise ValueError(
                f"expected latents of shape (B, {self.latent_dim}), got {tuple(z.shape)}"
            )
        param = next(self.parameters(), None)
        if param is not None and z.dtype != param.dtype:
            raise TypeError(f"the latents z are {z.dtype} but the generator's weights are {param.dtype}; "
                            f"convert one of them (z.to({param.dtype}) or generator.to({z.dtype}))")

    def sample_latent(
        self, n: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``n`` latents from the training distribution, on the generator's device."""
        param = next(self.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        dtype = param.dtype if param is not None else torch.get_default_dtype()
        # Draw where the random generator lives, so a seeded CPU generator gives the
        # same latents whatever device the network is on.
        where = generator.device if generator is not None else device
        shape = (n, self.latent_dim)
        if self.latent == "gaussian":
            z = torch.randn(shape, generator=generator, device=where)
        else:
            z = 2 * torch.rand(shape, generator=generator, device=where) - 1
        return z.to(device=device, dtype=dtype)

    @torch.no_grad()
    def image_shape(self) -> tuple[int, ...]:
        """``(C, H, W)`` of the images, found by one forward pass in eval mode."""
        with evaluating(self):
            return tuple(self(self.sample_latent(1)).shape[1:])


@contextmanager
def evaluating(module: nn.Module) -> Iterator[None]:
    """``module`` in eval mode for the block, then back in the mode it was in."""
    if not module.training:
        yield
        return
    module.eval()
    try:
        yield
    finally:
        module.train()


def describe(generator: Generator) -> str:
    """A short name for messages: the network's class and the latent size."""
    return f"{type(generator.network).__name__}, latent_dim={generator.latent_dim}"


def check_image_shape(generator: Generator, shape: tuple[int, ...]) -> None:
    """Raise ``ValueError`` naming the generator unless it makes images of ``shape`` ``(C, H, W)``
    (e.g. the input shape of the operator it is fitted through)."""
    made = generator.image_shape()
    if made != tuple(shape):
        raise ValueError(f"the generator ({describe(generator)}) makes images of shape {made}, but the "
                         f"operator takes images of shape {tuple(shape)}; build the operator for "
                         f"{made} or use a generator of that resolution")


PROBE_LATENTS = 4


def wrap(
    module: nn.Module,
    latent_dim: int,
    latent: LatentDistribution = "gaussian",
    output_range: tuple[float, float] = (-1.0, 1.0),
) -> Generator:
    """Make any network a :class:`Generator` (see its docstring for the contract).

    ``wrap`` runs the network once, in eval mode and without gradients, on
    ``PROBE_LATENTS`` seeded latents of its law, and checks what that can show:

    - a network that does not take ``(B, latent_dim)`` latents, or does not return
      ``(B, C, H, W)``, or returns NaN/inf, raises ``ValueError`` (naming the size its first
      layer expects when it has a linear or convolutional one);
    - raw outputs outside ``output_range``, or all within one half of it (a sigmoid
      network, range (0, 1), under the default ``(-1, 1)`` would give images in [0.5, 1]),
      give a ``UserWarning`` with the range seen. Only a warning: four random latents
      cannot prove a range wrong, and nothing is rescaled on the caller's behalf — pass the
      network's true ``output_range``.
    """
    generator = Generator(module, latent_dim, latent=latent, output_range=output_range)
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            z = generator.sample_latent(PROBE_LATENTS, generator=torch.Generator().manual_seed(0))
            raw = module(z)
    except RuntimeError as err:
        # torch's own message ("mat1 and mat2 ...") stays in the chained exception.
        raise ValueError(f"the network does not accept latents of shape (B, {latent_dim})"
                         f"{_first_layer_hint(module)}; pass the latent_dim it was built for") from err
    finally:
        module.train(was_training)
    if not isinstance(raw, torch.Tensor) or raw.dim() != 4 or raw.shape[0] != PROBE_LATENTS:
        got = tuple(raw.shape) if isinstance(raw, torch.Tensor) else type(raw).__name__
        raise ValueError(f"the network must map (B, {latent_dim}) latents to (B, C, H, W) images; "
                         f"for B = {PROBE_LATENTS} it returned {got}")
    if not bool(torch.isfinite(raw).all()):
        raise ValueError(f"the network returns NaN or infinite values on random latents of size {latent_dim}")
    lo, hi = generator.output_range
    seen_lo, seen_hi = raw.min().item(), raw.max().item()
    mid = (lo + hi) / 2
    if seen_lo < lo or seen_hi > hi or seen_lo >= mid or seen_hi <= mid:
        warnings.warn(f"wrap: on random latents the network outputs values in [{seen_lo:.3g}, {seen_hi:.3g}], "
                      f"which does not span output_range={generator.output_range}; images will lie in "
                      f"[{(seen_lo - lo) / (hi - lo):.3g}, {(seen_hi - lo) / (hi - lo):.3g}] instead of [0, 1]. "
                      "Pass the range the network's last layer produces (e.g. (0, 1) for a sigmoid).",
                      UserWarning, stacklevel=2)
    return generator


def _first_layer_hint(module: nn.Module) -> str:
    first = next((m for m in module.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))), None)
    if isinstance(first, nn.Linear):
        return f"; its first layer takes {first.in_features} features"
    if first is not None:
        return f"; its first layer takes {first.in_channels} channels"
    return ""
