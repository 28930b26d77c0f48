"""Matrix-free compressed sensing: a random subset of orthonormal DCT coefficients."""
from __future__ import annotations

import torch
import torch_dct

from invgen.operators.base import LinearOperator, Shape


class SubsampledDCT(LinearOperator):
    """``A x = P D x``: the orthonormal 2-D DCT-II ``D`` of each channel (torch-dct,
    ``norm='ortho'``), then ``m`` of the ``n = C·H·W`` coefficients chosen uniformly at
    random without replacement (``seed``). ``in_shape = (C, H, W)``, ``out_shape = (m,)``.

    ``Aᵀ y = Dᵀ Pᵀ y`` (zero-fill, inverse DCT). The rows of ``A`` are orthonormal
    (``AAᵀ = I``), so ``A⁺ = Aᵀ`` exactly and ``Aᵀ(AAᵀ + eps)⁻¹ = Aᵀ/(1 + eps)``.
    Memory and time are those of an FFT: usable at any resolution.
    """

    def __init__(self, in_shape: Shape, m: int, seed: int = 0) -> None:
        n = 1
        for s in in_shape:
            n *= int(s)
        if len(in_shape) != 3:
            raise ValueError(f"in_shape must be (C, H, W), got {tuple(in_shape)}")
        if not 1 <= m <= n:
            raise ValueError(f"m must lie in [1, n={n}], got {m}")
        super().__init__(in_shape, (int(m),))
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("index", torch.randperm(n, generator=gen)[:m].sort().values)

    def _matvec(self, x):
        return torch_dct.dct_2d(x, norm="ortho").flatten(1)[:, self.index]

    def _rmatvec(self, y):
        coeffs = y.new_zeros(y.shape[0], self.in_size)
        coeffs[:, self.index] = y
        return torch_dct.idct_2d(coeffs.view(-1, *self.in_shape), norm="ortho")

    def _pinv(self, y, eps):
        return self._rmatvec(y) / (1.0 + eps)
