"""Dense Gaussian compressed sensing."""
from __future__ import annotations

import math

import scipy.linalg.blas
import torch

from invgen.operators.base import LinearOperator, Shape, singular_threshold


class GaussianCS(LinearOperator):
    """``A x = Φ vec(x)`` with ``Φ ∈ R^{m×n}``, entries i.i.d. ``N(0, 1/m)`` drawn from a
    ``torch.Generator`` seeded with ``seed``, as in Bora et al. and the IAGAN paper.
    ``in_shape`` any, ``out_shape = (m,)``, ``1 ≤ m ≤ n``. ``Aᵀ y = Φᵀ y``.

    ``Φ`` is stored in float32 (the operator *is* that matrix; float64 inputs see its exact
    float64 copy): 600 MB at n = m = 3·64². Construction only samples it (about a second).

    Pseudo-inverse: a Gaussian ``Φ`` with ``m ≤ n`` has full row rank almost surely, so
    ``A⁺ = Φᵀ(ΦΦᵀ)⁻¹`` and ``Aᵀ(AAᵀ + eps)⁻¹ = Φᵀ(ΦΦᵀ + eps·I)⁻¹``. On the first call the
    Gram matrix ``ΦΦᵀ`` is formed in float64 and cached — on the CPU only its lower triangle,
    by BLAS ``dsyrk`` (``m²n`` flops, half those of the product; about 5 s at n = 3·64²,
    m = n/2, on two cores), which is all the factorisations read; each ``eps`` then gets a float64 Cholesky factor,
    also cached, and every solve runs in float64 whatever the input dtype. Float64 is what
    keeps this exact as ``m → n``, where ``cond(ΦΦᵀ) ≈ ((1+√(m/n))/(1−√(m/n)))²`` grows
    without bound (≈ 10⁸ at m = n = 3·64²): the relative error of the solve is about
    ``1e-16·cond``. Should the factorisation still fail (numerically singular ``ΦΦᵀ``),
    an eigendecomposition is used instead and eigenvalues below
    ``singular_threshold(float64)²·max`` are treated as zero — the exact numerical
    pseudo-inverse, at a few times the cost.
    """

    def __init__(self, in_shape: Shape, m: int, seed: int = 0) -> None:
        n = math.prod(int(s) for s in in_shape)
        if not 1 <= m <= n:
            raise ValueError(f"m must lie in [1, n={n}], got {m}")
        super().__init__(in_shape, (int(m),))
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("matrix", torch.randn(m, n, generator=gen).div_(m**0.5))
        self._gram: dict[torch.device, torch.Tensor] = {}
        self._copies: dict[tuple[torch.dtype, torch.device], torch.Tensor] = {}
        self._solvers: dict[tuple[float, torch.device], tuple[str, torch.Tensor, torch.Tensor | None]] = {}

    def _phi(self, dtype: torch.dtype) -> torch.Tensor:
        if self.matrix.dtype == dtype:
            return self.matrix
        # Cached: converting Φ at every call would dominate iterative float64 solvers.
        key = (dtype, self.matrix.device)
        if key not in self._copies:
            self._copies[key] = self.matrix.to(dtype)
        return self._copies[key]

    def _matvec(self, x):
        return x.flatten(1) @ self._phi(x.dtype).T

    def _rmatvec(self, y):
        return (y @ self._phi(y.dtype)).view(-1, *self.in_shape)

    def _solver(self, eps: float, device: torch.device) -> tuple[str, torch.Tensor, torch.Tensor | None]:
        if device not in self._gram:
            self._gram[device] = _gram_lower(self.matrix.double())
        key = (eps, device)
        if key not in self._solvers:
            gram = self._gram[device].clone()
            gram.diagonal().add_(eps)
            factor, info = torch.linalg.cholesky_ex(gram)
            if int(info) == 0:
                self._solvers[key] = ("cholesky", factor, None)
            else:
                values, vectors = torch.linalg.eigh(gram)
                keep = values > singular_threshold(torch.float64) ** 2 * values.max()
                self._solvers[key] = ("eigh", vectors, torch.where(keep, 1 / torch.where(keep, values, 1), 0))
        return self._solvers[key]

    def _pinv(self, y, eps):
        kind, factor, inverse_values = self._solver(eps, self.matrix.device)
        rhs = y.double().T
        if kind == "cholesky":
            u = torch.cholesky_solve(rhs, factor)
        else:
            u = factor @ (inverse_values[:, None] * (factor.T @ rhs))
        return self._rmatvec(u.T.to(y.dtype))


def _gram_lower(phi: torch.Tensor) -> torch.Tensor:
    """``ΦΦᵀ`` of a float64 ``Φ``: on the CPU only the lower triangle (the upper holds zeros),
    by BLAS ``dsyrk``: the symmetric rank-k update computes half the entries of the product
    with the same float64 rounding. ``torch.linalg.cholesky_ex`` and ``eigh`` read only the
    lower triangle. Elsewhere (a GPU) the full product."""
    if phi.device.type != "cpu":
        return phi @ phi.T
    # Φ (m, n) row-major is Φᵀ column-major: syrk(trans=1) of Φᵀ is ΦΦᵀ, no copy.
    return torch.from_numpy(scipy.linalg.blas.dsyrk(1.0, phi.numpy().T, trans=1, lower=1))
