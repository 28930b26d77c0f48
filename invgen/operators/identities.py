"""``check(A)``: test an operator — yours or ours — against the identities every linear
operator must satisfy, on random vectors, before trusting a solver with it."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from invgen.operators.base import LinearOperator

# Relative tolerances. "exact": what rounding alone allows (a few hundred eps, for sums
# over thousands of terms); "pinv": a closed-form pseudo-inverse, which may amplify
# rounding by up to 1/singular_threshold on the singular values it keeps; "iterative":
# conjugate gradients, stopped at a relative residual of cg_tol (or 100·eps).
TOLERANCES = {
    torch.float64: {"exact": 1e-10, "pinv": 1e-7, "iterative": 1e-4},
    torch.float32: {"exact": 1e-4, "pinv": 1e-2, "iterative": 5e-2},
}


class OperatorCheckError(AssertionError):
    """An identity failed; ``.report`` holds every measured error."""

    def __init__(self, report: CheckReport) -> None:
        failed = ", ".join(f"{r.identity} (error {r.error:.2e} > {r.tolerance:.0e})" for r in report.failed)
        super().__init__(f"{report.operator} fails in {report.dtype}: {failed}\n{report}")
        self.report = report


@dataclass
class CheckedIdentity:
    """One checked identity: its relative ``error`` and the ``tolerance`` it must meet."""

    identity: str
    error: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return self.error <= self.tolerance  # False for NaN


@dataclass
class CheckReport:
    """The identities checked on ``operator`` in ``dtype``, and those ``skipped`` (why)."""

    operator: str
    dtype: torch.dtype
    results: list[CheckedIdentity] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> list[CheckedIdentity]:
        return [r for r in self.results if not r.passed]

    def __str__(self) -> str:
        lines = [f"{'identity':<34} {'error':>9} {'tolerance':>9}"]
        lines += [f"{r.identity:<34} {r.error:9.2e} {r.tolerance:9.0e}  {'ok' if r.passed else 'FAILED'}"
                  for r in self.results]
        lines += [f"{name:<34} skipped: {why}" for name, why in self.skipped.items()]
        return "\n".join(lines)


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a.double() * b.double()).flatten(1).sum(1)


def _relative(error: torch.Tensor, scale: torch.Tensor) -> float:
    """max over the batch of ``error / scale`` (0 where both are 0)."""
    error, scale = error.double(), scale.double()
    ratio = torch.where(scale > 0, error / scale.clamp_min(1e-300), torch.where(error > 0, torch.inf, 0.0))
    return ratio.max().item()


def _norm(t: torch.Tensor) -> torch.Tensor:
    return t.double().flatten(1).norm(dim=1)


def check(A: LinearOperator, dtype: torch.dtype = torch.float64, *, seed: int = 0, batch: int = 2,
          max_dense: int = 4096) -> CheckReport:
    """Check ``A`` on random Gaussian batches of ``dtype`` (float64 or float32) and return a
    :class:`CheckReport`; raise :class:`OperatorCheckError` (an ``AssertionError``) naming
    every identity that fails. Relative errors, max over the batch:

    - shapes and dtype: ``A(x)`` is ``(B, *out_shape)``, ``Aᵀy`` is ``(B, *in_shape)``, both
      in ``dtype`` (the report names a hook that returns another dtype or shape, or is
      missing), and calling them leaves ``A``'s buffers unchanged;
    - linearity: ``A(a x₁ + b x₂) = a A x₁ + b A x₂``;
    - adjoint (dot test): ``⟨A x, y⟩ = ⟨x, Aᵀ y⟩``, relative to ``‖A x‖‖y‖``;
    - with ``in_size ≤ max_dense``: ``A x`` and ``Aᵀ y`` equal the products with
      ``A.to_dense()`` (this also catches images of a batch leaking into each other);
    - the four Penrose identities of ``A⁺ = A.pinv``: ``A A⁺ A = A``, ``A⁺ A A⁺ = A⁺``,
      ``(A A⁺)ᵀ = A A⁺`` and ``(A⁺ A)ᵀ = A⁺ A`` (together they define ``A⁺``), each
      applied to random vectors;
    - the regularised pseudo-inverse ``v = A.pinv(y, ε)`` solves ``(AᵀA + ε) v = Aᵀ y``
      (ε = 0.1·‖A x‖²/‖x‖², on the scale of ``A``).

    The pseudo-inverse is checked only once ``A`` and ``Aᵀ`` passed: a failed adjoint is
    reported before any conjugate gradients run.

    Tolerances (:data:`TOLERANCES`) depend on ``dtype`` and, for the pseudo-inverse, on
    whether ``A`` has a closed form or falls back to conjugate gradients.
    """
    if dtype not in TOLERANCES:
        raise TypeError(f"dtype must be torch.float64 or torch.float32, got {dtype}")
    tol = TOLERANCES[dtype]
    pinv_tol = tol["pinv"] if A.closed_form_pinv else tol["iterative"]
    device = next((b.device for b in A.buffers()), torch.device("cpu"))
    gen = torch.Generator().manual_seed(seed)

    def randn(shape):
        return torch.randn(batch, *shape, generator=gen, dtype=torch.float64).to(device=device, dtype=dtype)

    report = CheckReport(type(A).__name__, dtype)

    def record(identity, error, tolerance):
        report.results.append(CheckedIdentity(identity, error, tolerance))

    x1, x2, y, y2 = randn(A.in_shape), randn(A.in_shape), randn(A.out_shape), randn(A.out_shape)
    buffers = {k: v.clone() for k, v in A.state_dict().items() if isinstance(v, torch.Tensor)}
    with torch.no_grad():
        try:
            Ax, Aty = A(x1), A.adjoint(y)
        except (TypeError, ValueError, NotImplementedError) as err:  # the identities below would only repeat it
            record(f"shapes and dtype of A(x), Aᵀ(y): {err}", float("inf"), 0.0)
            raise OperatorCheckError(report) from err
        record("shapes and dtype of A(x), Aᵀ(y)", 0.0, 0.0)
        rounding = 1e3 * torch.finfo(dtype).eps
        if (_norm(Ax) <= rounding * _norm(x1)).all() and (_norm(Aty) <= rounding * _norm(y)).all():
            # e.g. two subsampled transforms keeping disjoint coefficients: every relative
            # error below would compare rounding noise with rounding noise.
            report.skipped["every identity"] = "A is zero up to rounding (‖Ax‖ ≤ 1e3·eps·‖x‖, ‖Aᵀy‖ ≤ 1e3·eps·‖y‖)"
            return report

        combo = A(2.5 * x1 - x2)
        record("linearity", _relative(_norm(combo - (2.5 * Ax - A(x2))), _norm(combo) + _norm(2.5 * Ax)),
               tol["exact"])
        record("adjoint ⟨Ax, y⟩ = ⟨x, Aᵀy⟩", _relative((_dot(Ax, y) - _dot(x1, Aty)).abs(), _norm(Ax) * _norm(y)),
               tol["exact"])
        if A.in_size <= max_dense:
            M = A.to_dense(dtype)
            dense_Ax = (x1.flatten(1) @ M.T).view_as(Ax)
            dense_Aty = (y.flatten(1) @ M).view_as(Aty)
            record("A x = to_dense() x", _relative(_norm(Ax - dense_Ax), _norm(dense_Ax)), tol["exact"])
            record("Aᵀ y = to_dense()ᵀ y", _relative(_norm(Aty - dense_Aty), _norm(dense_Aty)), tol["exact"])
        else:
            report.skipped["dense agreement"] = f"in_size {A.in_size} > max_dense {max_dense}"
        if report.failed:
            # Before any pseudo-inverse: conjugate gradients on a wrong adjoint cannot converge,
            # and their warnings would point away from the bug.
            report.skipped["pseudo-inverse"] = "not checked: A or Aᵀ failed above"
            raise OperatorCheckError(report)

        pinv_y, pinv_Ax = A.pinv(y), A.pinv(Ax)
        A_pinv_Ax = A(pinv_Ax)
        record("Penrose A A⁺ A = A", _relative(_norm(A_pinv_Ax - Ax), _norm(Ax)), pinv_tol)
        again = A.pinv(A(pinv_y))
        record("Penrose A⁺ A A⁺ = A⁺", _relative(_norm(again - pinv_y), _norm(pinv_y)), pinv_tol)
        P1, P2 = A(pinv_y), A(A.pinv(y2))  # AA⁺ on y and y2
        record("Penrose (A A⁺)ᵀ = A A⁺", _relative((_dot(P1, y2) - _dot(y, P2)).abs(), _norm(y) * _norm(y2)),
               pinv_tol)
        Q1, Q2 = pinv_Ax, A.pinv(A(x2))  # A⁺A on x1 and x2
        record("Penrose (A⁺ A)ᵀ = A⁺ A", _relative((_dot(Q1, x2) - _dot(x1, Q2)).abs(), _norm(x1) * _norm(x2)),
               pinv_tol)

        eps = 0.1 * (_norm(Ax).square().sum() / _norm(x1).square().sum()).item()
        if eps > 0:
            v = A.pinv(y, eps)
            lhs = A.adjoint(A(v)) + eps * v
            record("regularised pinv (AᵀA + ε) v = Aᵀy", _relative(_norm(lhs - Aty), _norm(Aty)), pinv_tol)
        else:
            report.skipped["regularised pinv"] = "A x = 0 for a random x"
    changed = [k for k, v in A.state_dict().items() if k in buffers and not torch.equal(v, buffers[k])]
    record(f"A unchanged by its calls{' (' + ', '.join(changed) + ' changed)' if changed else ''}",
           float(bool(changed)), 0.0)
    if report.failed:
        raise OperatorCheckError(report)
    return report
