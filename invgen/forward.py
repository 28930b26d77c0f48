"""The forward model: an operator and its noise, ``y = A x + n``, built once and used to
simulate measurements, with what the solvers need to know about the noise. It is the
problem every method takes; an operator alone means noiseless (:func:`forward_model`)."""
from __future__ import annotations

from collections.abc import Sequence

import torch

from invgen.operators import LinearOperator
from invgen.fidelity import Fidelity, PoissonNLL, squared_error
from invgen.validation import nonnegative, positive

NOISES = ("gaussian", "poisson")


class ForwardModel:
    """``y = A x + n`` with one of two noise models:

    - ``"gaussian"`` (default): ``n ~ N(0, sigma²·I)``, i.i.d. over the measurements;
      ``sigma = 0`` measures ``A x`` exactly;
    - ``"poisson"`` (shot noise): ``y = Poisson(peak·A x)/peak``, in the units of ``A x``,
      ``peak`` the expected photon count of a unit intensity (variance ``A x/peak``:
      the larger ``peak``, the cleaner). ``A x`` must be ≥ 0.

    What a solver needs comes with the model: :attr:`noise_std` (``σ`` for the
    discrepancy principle; ``None`` for Poisson noise, whose variance depends on the
    signal) and :attr:`fidelity` (the matching negative log-likelihood, up to constants:
    ``‖y − A x‖²`` or :class:`~invgen.fidelity.PoissonNLL`), e.g.
    ``solve(model.A, y, prior, steps, fidelity=model.fidelity, noise_std=model.noise_std)``;
    every method of :mod:`invgen.solvers` takes the model itself.
    """

    def __init__(self, A: LinearOperator, noise: str = "gaussian", sigma: float = 0.0,
                 peak: float | None = None) -> None:
        if not isinstance(A, LinearOperator):
            raise TypeError(f"A must be an invgen LinearOperator, got {type(A).__name__}")
        if noise not in NOISES:
            raise ValueError(f"noise must be one of {', '.join(NOISES)}, got {noise!r}")
        nonnegative("sigma", sigma)
        if noise == "gaussian" and peak is not None:
            raise ValueError("peak sets the level of Poisson noise; Gaussian noise takes sigma")
        if noise == "poisson":
            if sigma:
                raise ValueError("sigma sets the level of Gaussian noise; Poisson noise takes peak")
            if peak is None:
                raise ValueError("Poisson noise needs peak, the photon count of a unit intensity")
            positive("peak", peak)
        self.A, self.noise = A, noise
        self.sigma = float(sigma)
        self.peak = None if peak is None else float(peak)

    @property
    def noise_std(self) -> float | None:
        """The Gaussian noise's ``σ`` (0 when noiseless); ``None`` for Poisson noise."""
        return self.sigma if self.noise == "gaussian" else None

    @property
    def noiseless(self) -> bool:
        """Whether ``y = A x`` exactly (Gaussian noise of σ = 0)."""
        return self.noise == "gaussian" and self.sigma == 0

    def noise_energy(self, y: torch.Tensor) -> torch.Tensor | float:
        """The expected ``‖n‖²`` of each measurement in ``y`` ``(B, *A.out_shape)``: ``m·σ²``
        for Gaussian noise (a number), ``Σⱼ yⱼ / peak`` per image for Poisson noise (its
        variance is the rate over ``peak``, estimated by ``y``), ``(B,)``."""
        if self.noise == "gaussian":
            return y[0].numel() * self.sigma**2
        return y.flatten(1).sum(1).clamp_min(0) / self.peak

    @property
    def fidelity(self) -> Fidelity:
        """The data fidelity matching the noise: ``squared_error`` or ``PoissonNLL(peak)``."""
        return squared_error if self.noise == "gaussian" else PoissonNLL(self.peak)

    def measure(self, x: torch.Tensor, generator: torch.Generator | None = None,
                seeds: Sequence[int] | None = None) -> torch.Tensor:
        """``y = A x + n`` for a batch ``x`` of shape ``(B, *A.in_shape)``, in ``x``'s dtype
        and device.

        The noise is drawn on the CPU (so a seed gives the same ``y`` on any device) from
        ``generator`` (``None``: torch's global generator), or, with ``seeds``, image ``i``
        from its own generator seeded ``seeds[i]`` — the same image then gets the same
        noise in any batch. Gaussian noise is ``sigma·torch.randn`` of the default dtype.
        """
        Ax = self.A(x)
        if seeds is not None:
            if generator is not None:
                raise ValueError("give either generator or seeds, not both")
            if len(seeds) != len(x):
                raise ValueError(f"seeds must hold one seed per image ({len(x)}), got {len(seeds)}")
            return torch.cat([self._noisy(Ax[i : i + 1], torch.Generator().manual_seed(int(s)))
                              for i, s in enumerate(seeds)])
        return self._noisy(Ax, generator)

    def _noisy(self, Ax: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        if self.noise == "gaussian":
            if self.sigma == 0:
                return Ax
            return Ax + self.sigma * torch.randn(Ax.shape, generator=generator).to(Ax)
        # FFT-based operators leave rounding-sized negatives on non-negative images.
        if Ax.min() < -1e-6 * Ax.abs().max():
            raise ValueError(f"Poisson noise needs A x ≥ 0 (rates), but A x reaches {Ax.min().item():.3g}; "
                             "measure non-negative images with a non-negative operator")
        rates = (self.peak * Ax.detach().clamp_min(0)).cpu().double()
        return (torch.poisson(rates, generator=generator) / self.peak).to(Ax)

    def __repr__(self) -> str:
        level = f"sigma={self.sigma}" if self.noise == "gaussian" else f"peak={self.peak}"
        return f"ForwardModel({type(self.A).__name__}, noise={self.noise!r}, {level})"


def forward_model(problem: ForwardModel | LinearOperator) -> ForwardModel:
    """``problem`` itself when it is a :class:`ForwardModel`; an operator alone is the noiseless
    model ``ForwardModel(A)``. ``TypeError`` for anything else."""
    if isinstance(problem, ForwardModel):
        return problem
    if isinstance(problem, LinearOperator):
        return ForwardModel(problem)
    raise TypeError(f"expected a ForwardModel or an invgen LinearOperator, got {type(problem).__name__}")
