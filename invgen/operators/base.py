"""The linear-operator abstraction and its algebra.

A concrete operator implements the hooks ``_matvec`` (x ↦ Ax) and ``_rmatvec`` (y ↦ Aᵀy) on
batched tensors, and ``_pinv`` when it has a closed-form pseudo-inverse (the contract:
:class:`LinearOperator`). The base class checks what goes in and comes out, and derives the
algebra once: ``A @ B`` (apply B first), ``A + B``, ``c * A`` and ``A.T``, with
``(A @ B)ᵀ = Bᵀ @ Aᵀ``, ``(A + B)ᵀ = Aᵀ + Bᵀ``, ``(cA)ᵀ = c Aᵀ``.
"""
from __future__ import annotations

import math
import numbers

import torch
from torch import nn

from invgen.operators.cg import conjugate_gradient
from invgen.validation import check_settings, check_tensor

Shape = tuple[int, ...]


def singular_threshold(dtype: torch.dtype) -> float:
    """Relative size below which a singular value counts as zero (numerical rank).

    ``1000·eps`` of the dtype: 2.2e-13 in float64, 1.2e-4 in float32.
    """
    return 1000 * torch.finfo(dtype).eps


class LinearOperator(nn.Module):
    """A linear map ``A : R^in_shape → R^out_shape`` acting on batches.

    ``A(x)``: ``(B, *in_shape) → (B, *out_shape)``; ``A.adjoint(y)``: the reverse;
    ``A.pinv(y, eps=0.0)``: the Moore–Penrose pseudo-inverse ``A⁺y`` when ``eps == 0``,
    ``Aᵀ(AAᵀ + eps·I)⁻¹y`` when ``eps > 0``. Inputs are float32 or float64 tensors
    (``TypeError`` otherwise); ``pinv`` also refuses non-finite ``y`` or ``eps`` (``ValueError``). Without a closed form (compositions, sums,
    adjoints) the pseudo-inverse is iterative: conjugate gradients on the normal equations
    ``(AᵀA + eps·I) x = Aᵀy`` (relative tolerance ``cg_tol``, at most ``cg_max_iter``
    steps), which converge to ``A⁺y`` for any ``A``.

    Operators are stateless after construction; precomputed tensors are buffers, so
    ``A.to(device)`` moves them.

    **Writing an operator.** Subclass, call ``super().__init__(in_shape, out_shape)``, and
    implement on batches:

    - ``_matvec(self, x)``: ``A x``, ``(B, *in_shape) → (B, *out_shape)``;
    - ``_rmatvec(self, y)``: ``Aᵀ y``, ``(B, *out_shape) → (B, *in_shape)``, the adjoint
      (:func:`~invgen.operators.check` tests ``⟨Ax, y⟩ = ⟨x, Aᵀy⟩``);
    - ``_pinv(self, y, eps)``, optional: ``A⁺ y`` for ``eps = 0``, ``Aᵀ(AAᵀ + eps·I)⁻¹ y``
      for ``eps > 0``, where a closed form exists; without it, conjugate gradients.

    The hooks are called only by ``A(x)``, ``A.adjoint(y)`` and ``A.pinv(y, eps)`` (the
    leading underscore is PyLops' convention), which check the input's shape and dtype
    before and the hook's result after. A hook returns the input's dtype: the base class
    casts nothing, so cast each buffer in the hook (``self.w.to(x.dtype)``); a result of
    another dtype or shape is a ``TypeError`` / ``ValueError`` naming the operator and the
    hook, and a hook left out a ``NotImplementedError`` naming both. Check the result with
    ``check(A)`` before trusting a solver with it.
    """

    cg_tol: float = 1e-8
    cg_max_iter: int = 1000

    def __init__(self, in_shape: Shape, out_shape: Shape) -> None:
        super().__init__()
        self.in_shape = tuple(int(s) for s in in_shape)
        self.out_shape = tuple(int(s) for s in out_shape)

    # ------------------------------------------------------------------ to implement
    def _matvec(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(self._missing("_matvec(self, x)", "A x", "A(x)"))

    def _rmatvec(self, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(self._missing("_rmatvec(self, y)", "Aᵀ y", "A.adjoint(y), A.T and A.pinv(y)"))

    def _missing(self, hook: str, what: str, needed_by: str) -> str:
        return (f"{type(self).__name__} does not implement {hook}, which computes {what} for {needed_by}; "
                "see help(invgen.operators.LinearOperator) for what a subclass writes")

    def _pinv(self, y: torch.Tensor, eps: float) -> torch.Tensor:
        # CG on the normal equations (AᵀA + eps·I) x = Aᵀy from x = 0: the iterates stay
        # in range(Aᵀ), so the limit is the minimum-norm least-squares solution A⁺y for
        # any A (wide, tall or rank-deficient), and Aᵀ(AAᵀ + eps·I)⁻¹y when eps > 0.
        return conjugate_gradient(lambda v: self._rmatvec(self._matvec(v)) + eps * v, self._rmatvec(y),
                                  tol=self.cg_tol, max_iter=self.cg_max_iter)

    @property
    def closed_form_pinv(self) -> bool:
        """Whether :meth:`pinv` is computed in closed form (exact up to rounding) rather than
        by conjugate gradients (exact up to ``cg_tol``)."""
        return type(self)._pinv is not LinearOperator._pinv

    # ------------------------------------------------------------------ public
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._check(x, self.in_shape, "input x")
        return self._checked_result(self._matvec(x), x, self.out_shape, "_matvec")

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        y = self._check(y, self.out_shape, "input y of the adjoint")
        return self._checked_result(self._rmatvec(y), y, self.in_shape, "_rmatvec")

    def pinv(self, y: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
        # A non-finite entry would spread through the whole solve (a channel, or every entry
        # for CS), so the pseudo-inverse refuses it rather than return NaN images.
        check_settings(eps=eps)
        y = self._check(y, self.out_shape, "input y of the pseudo-inverse")
        check_tensor("input y of the pseudo-inverse", y)
        return self._checked_result(self._pinv(y, float(eps)), y, self.in_shape, "_pinv")

    @property
    def T(self) -> LinearOperator:
        return Adjoint(self)

    @property
    def in_size(self) -> int:
        return math.prod(self.in_shape)

    @property
    def out_size(self) -> int:
        return math.prod(self.out_shape)

    def to_dense(self, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """The ``(out_size, in_size)`` matrix, by applying ``A`` to the standard basis."""
        device = next((b.device for b in self.buffers()), torch.device("cpu"))
        basis = torch.eye(self.in_size, dtype=dtype, device=device).reshape(self.in_size, *self.in_shape)
        return self(basis).reshape(self.in_size, self.out_size).T

    def __matmul__(self, other: LinearOperator) -> LinearOperator:
        if not isinstance(other, LinearOperator):
            return NotImplemented
        return Composition(self, other)

    def __add__(self, other: LinearOperator) -> LinearOperator:
        if not isinstance(other, LinearOperator):
            return NotImplemented
        return Sum(self, other)

    def __sub__(self, other: LinearOperator) -> LinearOperator:
        if not isinstance(other, LinearOperator):
            return NotImplemented
        return Sum(self, Scaled(other, -1.0))

    def __mul__(self, c: float) -> LinearOperator:
        if isinstance(c, bool) or not isinstance(c, numbers.Real):
            return NotImplemented
        return Scaled(self, float(c))

    __rmul__ = __mul__

    def __neg__(self) -> LinearOperator:
        return Scaled(self, -1.0)

    def extra_repr(self) -> str:
        return f"in_shape={self.in_shape}, out_shape={self.out_shape}"

    @staticmethod
    def _check(t: torch.Tensor, shape: Shape, what: str) -> torch.Tensor:
        check_tensor(what, t, finite=False)
        if t.dim() != len(shape) + 1 or tuple(t.shape[1:]) != shape:
            raise ValueError(f"{what} must have shape (B, {', '.join(map(str, shape))}), got {tuple(t.shape)}")
        return t

    def _checked_result(self, out: object, given: torch.Tensor, shape: Shape, hook: str) -> torch.Tensor:
        """The result ``out`` of ``hook`` on ``given``: a tensor ``(B, *shape)`` in ``given``'s dtype."""
        where = f"{type(self).__name__}.{hook}"
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"{where} returned {type(out).__name__}, not a torch.Tensor")
        if out.dtype != given.dtype:
            raise TypeError(f"{where} returned {out.dtype} for a {given.dtype} input; a hook returns its input's "
                            "dtype: cast the operator's buffers in it (e.g. self.w.to(x.dtype))")
        expected = (given.shape[0], *shape)
        if tuple(out.shape) != expected:
            raise ValueError(f"{where} returned shape {tuple(out.shape)} for a batch of {given.shape[0]}; "
                             f"expected {expected}")
        return out


class Adjoint(LinearOperator):
    """``Aᵀ``: forward is ``A.adjoint``, adjoint is ``A``; pseudo-inverse by CG."""

    def __init__(self, op: LinearOperator) -> None:
        super().__init__(op.out_shape, op.in_shape)
        self.op = op

    def _matvec(self, x):
        return self.op._rmatvec(x)

    def _rmatvec(self, y):
        return self.op._matvec(y)

    @property
    def T(self) -> LinearOperator:
        return self.op


class Composition(LinearOperator):
    """``A @ B``: ``x ↦ A(B(x))``; adjoint ``Bᵀ(Aᵀ(y))``; pseudo-inverse by CG."""

    def __init__(self, outer: LinearOperator, inner: LinearOperator) -> None:
        if inner.out_shape != outer.in_shape:
            raise ValueError(f"cannot compose: inner output shape {inner.out_shape} ≠ outer input shape {outer.in_shape}")
        super().__init__(inner.in_shape, outer.out_shape)
        self.outer, self.inner = outer, inner

    def _matvec(self, x):
        return self.outer._matvec(self.inner._matvec(x))

    def _rmatvec(self, y):
        return self.inner._rmatvec(self.outer._rmatvec(y))


class Sum(LinearOperator):
    """``A + B``: ``x ↦ Ax + Bx``; adjoint ``Aᵀy + Bᵀy``; pseudo-inverse by CG."""

    def __init__(self, a: LinearOperator, b: LinearOperator) -> None:
        if (a.in_shape, a.out_shape) != (b.in_shape, b.out_shape):
            raise ValueError(f"cannot add operators {a.in_shape}→{a.out_shape} and {b.in_shape}→{b.out_shape}")
        super().__init__(a.in_shape, a.out_shape)
        self.a, self.b = a, b

    def _matvec(self, x):
        return self.a._matvec(x) + self.b._matvec(x)

    def _rmatvec(self, y):
        return self.a._rmatvec(y) + self.b._rmatvec(y)


class Scaled(LinearOperator):
    """``c·A``; adjoint ``c·Aᵀ``; pseudo-inverse ``(cA)⁺ = A⁺/c``, and with ``eps``
    ``(cA)ᵀ(c²AAᵀ + eps)⁻¹ = A.pinv(·, eps/c²)/c`` — closed form whenever A's is."""

    def __init__(self, op: LinearOperator, c: float) -> None:
        super().__init__(op.in_shape, op.out_shape)
        self.op, self.c = op, float(c)

    def _matvec(self, x):
        return self.c * self.op._matvec(x)

    def _rmatvec(self, y):
        return self.c * self.op._rmatvec(y)

    @property
    def closed_form_pinv(self) -> bool:
        return self.op.closed_form_pinv

    def _pinv(self, y, eps):
        if self.c == 0:
            return torch.zeros(y.shape[0], *self.in_shape, dtype=y.dtype, device=y.device)
        return self.op._pinv(y, eps / self.c**2) / self.c

    def extra_repr(self) -> str:
        return f"c={self.c}"
