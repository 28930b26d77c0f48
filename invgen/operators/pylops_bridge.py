"""Two-way bridge with PyLops: solvers of one library on operators of the other."""
from __future__ import annotations

import numpy as np
import pylops
import torch

from invgen.operators.base import LinearOperator, Shape


class _InvgenAsPylops(pylops.LinearOperator):
    def __init__(self, op: LinearOperator) -> None:
        super().__init__(dtype=np.float64, dims=op.in_shape, dimsd=op.out_shape, name="invgen")
        self.op = op

    def _apply(self, fn, v: np.ndarray, shape: Shape) -> np.ndarray:
        device = next((b.device for b in self.op.buffers()), torch.device("cpu"))
        t = torch.from_numpy(np.ascontiguousarray(v, dtype=np.float64)).to(device).view(1, *shape)
        with torch.no_grad():
            return fn(t).reshape(-1).cpu().numpy()

    def _matvec(self, x: np.ndarray) -> np.ndarray:
        return self._apply(self.op, x, self.op.in_shape)

    def _rmatvec(self, y: np.ndarray) -> np.ndarray:
        return self._apply(self.op.adjoint, y, self.op.out_shape)


def to_pylops(op: LinearOperator) -> pylops.LinearOperator:
    """``op`` as a ``pylops.LinearOperator`` on flattened float64 numpy vectors (one image,
    no batch dimension), e.g. for PyLops' sparsity-promoting solvers."""
    return _InvgenAsPylops(op)


class _PylopsApply(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, op, out_shape):
        ctx.op, ctx.in_shape = op, x.shape[1:]
        rows = [op.matvec(v) for v in x.detach().reshape(x.shape[0], -1).double().cpu().numpy()]
        return torch.from_numpy(np.stack(rows)).to(x).reshape(x.shape[0], *out_shape)

    @staticmethod
    def backward(ctx, grad):
        rows = [ctx.op.rmatvec(v) for v in grad.detach().reshape(grad.shape[0], -1).double().cpu().numpy()]
        return torch.from_numpy(np.stack(rows)).to(grad).reshape(grad.shape[0], *ctx.in_shape), None, None


class PylopsOperator(LinearOperator):
    """A ``pylops.LinearOperator`` acting on batches of tensors; autograd flows through it
    (the backward pass applies the PyLops adjoint). Each image round-trips through numpy
    on the CPU. Pseudo-inverse by conjugate gradients (see :class:`LinearOperator`)."""

    def __init__(self, op: pylops.LinearOperator, in_shape: Shape, out_shape: Shape) -> None:
        super().__init__(in_shape, out_shape)
        if op.shape != (self.out_size, self.in_size):
            raise ValueError(f"the PyLops operator has shape {op.shape}, but {out_shape} ← {in_shape} "
                             f"needs ({self.out_size}, {self.in_size})")
        self.op = op

    def _matvec(self, x):
        return _PylopsApply.apply(x, self.op, self.out_shape)

    def _rmatvec(self, y):
        return _PylopsApply.apply(y, self.op.H, self.in_shape)


def from_pylops(op: pylops.LinearOperator, in_shape: Shape, out_shape: Shape) -> LinearOperator:
    """An invgen operator applying ``op`` to each image of a batch (see :class:`PylopsOperator`)."""
    return PylopsOperator(op, in_shape, out_shape)
