"""Dense Gaussian compressed sensing."""
from __future__ import annotations

import torch

from invgen.operators.base import LinearOperator, Shape


class GaussianCS(LinearOperator):
    """``A x = Φ vec(x)`` with ``Φ ∈ R^{m×n}``, entries i.i.d. ``N(0, 1/m)`` (seeded), as in
    Bora et al. and the IAGAN paper. ``in_shape`` any, ``out_shape = (m,)``, ``m ≤ n``.

    ``Aᵀ y = Φᵀ y``. A Gaussian ``Φ`` with ``m ≤ n`` has full row rank almost surely,
    so ``A⁺ = Φᵀ(ΦΦᵀ)⁻¹`` exactly; it is applied with a Cholesky factor of
    ``ΦΦᵀ + eps·I`` computed once per (eps, dtype) and cached. The Gram matrix is formed in
    float64 for float64 inputs; for float32 inputs it is formed in float32 and factored in
    float64, which is accurate while ``ΦΦᵀ`` is well conditioned (cond ≈ ((1+√(m/n))/(1−√(m/n)))²:
    34 at m/n = 0.5, but unbounded as m → n — use float64 there).
    ``Φ`` is stored in float32 (n = 3·64², m = n/2: 300 MB).
    """

    def __init__(self, in_shape: Shape, m: int, seed: int = 0) -> None:
        n = 1
        for s in in_shape:
            n *= int(s)
        if not 1 <= m <= n:
            raise ValueError(f"m must lie in [1, n={n}], got {m}")
        super().__init__(in_shape, (int(m),))
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("matrix", torch.randn(m, n, generator=gen) / m**0.5)
        self._cholesky: dict[tuple[float, torch.dtype, torch.device], torch.Tensor] = {}

    def _phi(self, dtype: torch.dtype) -> torch.Tensor:
        return self.matrix if self.matrix.dtype == dtype else self.matrix.to(dtype)

    def _matvec(self, x):
        return x.flatten(1) @ self._phi(x.dtype).T

    def _rmatvec(self, y):
        return (y @ self._phi(y.dtype)).view(-1, *self.in_shape)

    def _factor(self, eps: float, dtype: torch.dtype) -> torch.Tensor:
        key = (eps, dtype, self.matrix.device)
        if key not in self._cholesky:
            phi = self._phi(dtype)
            gram = (phi @ phi.T).double()
            gram.diagonal().add_(eps)
            self._cholesky[key] = torch.linalg.cholesky(gram)
        return self._cholesky[key]

    def _pinv(self, y, eps):
        u = torch.cholesky_solve(y.double().T, self._factor(eps, y.dtype)).T
        return self._rmatvec(u.to(y.dtype))
