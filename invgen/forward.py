"""The forward model: an operator and its noise, ``y = N(A x)``, built once and used to
simulate measurements, with what the solvers need to know about the noise. It is the
problem every method and :func:`~invgen.solvers.solve` take; an operator alone means
noiseless (:func:`forward_model`).

A noise model is an object (:class:`Noise`): :class:`Gaussian` and :class:`Poisson` come
with invgen, and one of your own is a small class — how to draw it, its fidelity, its
expected residual energy — that goes through every method, ``reconstruct_samples`` and
``compare``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from invgen.fidelity import Fidelity, PoissonNLL, squared_error
from invgen.operators import LinearOperator
from invgen.validation import nonnegative, positive

NOISES = ("gaussian", "poisson")


class Noise:
    """A noise model ``y = N(A x)``: what a :class:`ForwardModel` needs of its noise. One of
    your own subclasses it and writes:

    - ``sample(Ax, generator)``: noisy measurements of the clean ``Ax`` ``(B, *A.out_shape)``,
      in ``Ax``'s dtype and device, drawn from ``generator`` (a CPU ``torch.Generator``;
      ``None``: torch's global one) — draw on the CPU and move the result, so that a seed
      gives the same ``y`` on any device;
    - ``fidelity``: its negative log-likelihood up to constants, ``(Ax, y) → (B,)``, ≥ 0 and 0
      at ``Ax = y`` (:mod:`invgen.fidelity`): what every method fits;
    - ``energy(y)``: the expected ``‖y − A x‖²`` of each measurement at the truth, ``(B,)``:
      the discrepancy principle stops fitting there, and back-projection corrects an estimate
      less the more of its residual is noise.

    ``known_level`` (default ``True``): ``energy`` does not depend on the unknown image, so
    the discrepancy principle can stop a fit at it; ``False`` where ``energy`` only estimates
    it from ``y`` (Poisson), and held-out measurements stop adaptive fits instead.
    ``noiseless``: ``y = A x`` exactly (default ``False``).
    """

    known_level: bool = True
    noiseless: bool = False

    def sample(self, Ax: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement sample(Ax, generator)")

    @property
    def fidelity(self) -> Fidelity:
        raise NotImplementedError(f"{type(self).__name__} does not implement fidelity")

    def energy(self, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement energy(y)")


@dataclass(frozen=True)
class Gaussian(Noise):
    """``n ~ N(0, sigma²·I)``, i.i.d. over the measurements; ``sigma = 0`` measures ``A x``
    exactly. Fidelity ``‖y − Ax‖²``; energy ``m·σ²`` for ``m`` measurements."""

    sigma: float = 0.0

    def __post_init__(self) -> None:
        nonnegative("sigma", self.sigma)

    @property
    def noiseless(self) -> bool:
        return self.sigma == 0

    def sample(self, Ax: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.sigma == 0:
            return Ax
        return Ax + self.sigma * torch.randn(Ax.shape, generator=generator).to(Ax)

    @property
    def fidelity(self) -> Fidelity:
        return squared_error

    def energy(self, y: torch.Tensor) -> torch.Tensor:
        return torch.full((len(y),), y[0].numel() * self.sigma**2, dtype=y.dtype, device=y.device)


@dataclass(frozen=True)
class Poisson(Noise):
    """Shot noise ``y = Poisson(peak·A x)/peak``, in the units of ``A x``, ``peak`` the expected
    photon count of a unit intensity (variance ``A x/peak``: the larger ``peak``, the cleaner);
    ``A x`` must be ≥ 0. Fidelity :class:`~invgen.fidelity.PoissonNLL`; energy ``Σⱼ yⱼ/peak``
    per image, the variance estimated from ``y`` itself (``known_level`` is ``False``)."""

    peak: float
    known_level = False

    def __post_init__(self) -> None:
        positive("peak", self.peak)

    def sample(self, Ax: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        # FFT-based operators leave rounding-sized negatives on non-negative images.
        if Ax.min() < -1e-6 * Ax.abs().max():
            raise ValueError(f"Poisson noise needs A x ≥ 0 (rates), but A x reaches {Ax.min().item():.3g}; "
                             "measure non-negative images with a non-negative operator")
        rates = (self.peak * Ax.detach().clamp_min(0)).cpu().double()
        return (torch.poisson(rates, generator=generator) / self.peak).to(Ax)

    @property
    def fidelity(self) -> Fidelity:
        return PoissonNLL(self.peak)

    def energy(self, y: torch.Tensor) -> torch.Tensor:
        return y.flatten(1).sum(1).clamp_min(0) / self.peak


class ForwardModel:
    """``y = N(A x)``: the operator ``A`` and its noise model :attr:`noise`, given as an object
    (``ForwardModel(A, Gaussian(0.02))``, or a :class:`Noise` of your own) or by name:

    - ``ForwardModel(A, sigma=0.02)``: Gaussian noise (``noise="gaussian"``, the default;
      ``sigma = 0``, the default, measures ``A x`` exactly);
    - ``ForwardModel(A, noise="poisson", peak=50)``: Poisson (shot) noise.

    What a solver needs comes with the model: :attr:`fidelity` (the noise's negative
    log-likelihood, up to constants), ``noise.energy(y)`` (where the discrepancy principle
    stops) and :meth:`check` of a measurement; :func:`~invgen.solvers.solve` and every method
    of :mod:`invgen.solvers` take the model itself.
    """

    def __init__(self, A: LinearOperator, noise: Noise | str = "gaussian", sigma: float = 0.0,
                 peak: float | None = None) -> None:
        if not isinstance(A, LinearOperator):
            raise TypeError(f"A must be an invgen LinearOperator, got {type(A).__name__}")
        if isinstance(noise, Noise):
            if sigma or peak is not None:
                raise ValueError(f"the noise is {noise!r}; sigma and peak set the level of noise given by name")
        elif noise == "gaussian":
            if peak is not None:
                raise ValueError("peak sets the level of Poisson noise; Gaussian noise takes sigma")
            noise = Gaussian(sigma)
        elif noise == "poisson":
            if sigma:
                raise ValueError("sigma sets the level of Gaussian noise; Poisson noise takes peak")
            if peak is None:
                raise ValueError("Poisson noise needs peak, the photon count of a unit intensity")
            noise = Poisson(peak)
        else:
            raise ValueError(f"noise must be a Noise object or one of {', '.join(NOISES)}, got {noise!r}")
        self.A, self.noise = A, noise

    @property
    def noiseless(self) -> bool:
        """Whether ``y = A x`` exactly."""
        return self.noise.noiseless

    @property
    def fidelity(self) -> Fidelity:
        """The data fidelity matching the noise (e.g. ``squared_error``, ``PoissonNLL(peak)``)."""
        return self.noise.fidelity

    def check(self, y: object) -> torch.Tensor:
        """``y`` itself when it is a finite batch ``(B, *A.out_shape)`` of this model's
        measurements; ``TypeError`` unless it is a float tensor, ``ValueError`` naming what is
        wrong otherwise."""
        shape = ", ".join(map(str, self.A.out_shape))
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"y must be a torch.Tensor of shape (B, {shape}), got {type(y).__name__}")
        if y.dim() != len(self.A.out_shape) + 1 or tuple(y.shape[1:]) != self.A.out_shape:
            raise ValueError(
                f"y has shape {tuple(y.shape)} but this operator measures (B, {shape}); measure with y = A(x) "
                "for x of shape (B, *A.in_shape), and add the batch dimension for a single image (y.unsqueeze(0))")
        bad = (~torch.isfinite(y)).sum().item()
        if bad:
            raise ValueError(f"y contains {bad} NaN or infinite entries out of {y.numel()}; remove them before "
                             "solving (e.g. zero them and leave them out of the operator with a Mask)")
        return y

    def measure(self, x: torch.Tensor, generator: torch.Generator | None = None,
                seeds: Sequence[int] | None = None) -> torch.Tensor:
        """``y = N(A x)`` for a batch ``x`` of shape ``(B, *A.in_shape)``, in ``x``'s dtype
        and device.

        The noise is drawn from ``generator`` (``None``: torch's global generator), or, with
        ``seeds``, image ``i`` from its own generator seeded ``seeds[i]`` — the same image then
        gets the same noise in any batch. Gaussian noise is ``sigma·torch.randn`` of the
        default dtype, drawn on the CPU (so a seed gives the same ``y`` on any device).
        """
        Ax = self.A(x)
        if seeds is not None:
            if generator is not None:
                raise ValueError("give either generator or seeds, not both")
            if len(seeds) != len(x):
                raise ValueError(f"seeds must hold one seed per image ({len(x)}), got {len(seeds)}")
            return torch.cat([self.noise.sample(Ax[i : i + 1], torch.Generator().manual_seed(int(s)))
                              for i, s in enumerate(seeds)])
        return self.noise.sample(Ax, generator)

    def __repr__(self) -> str:
        return f"ForwardModel({type(self.A).__name__}, {self.noise!r})"


def forward_model(problem: ForwardModel | LinearOperator) -> ForwardModel:
    """``problem`` itself when it is a :class:`ForwardModel`; an operator alone is the noiseless
    model ``ForwardModel(A)``. ``TypeError`` for anything else."""
    if isinstance(problem, ForwardModel):
        return problem
    if isinstance(problem, LinearOperator):
        return ForwardModel(problem)
    raise TypeError(f"expected a ForwardModel or an invgen LinearOperator, got {type(problem).__name__}")
