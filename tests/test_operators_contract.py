"""Operator contracts beyond the algebraic identities: dtypes, devices, autograd,
constructors, the GaussianCS factorisation, the iterative fallback."""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from invgen.operators import (
    Blur,
    GaussianCS,
    Identity,
    LinearOperator,
    Mask,
    OperatorCheckError,
    SubsampledDCT,
    SuperResolution,
    check,
)


def _randn(shape, dtype=torch.float64, seed=0):
    return torch.randn(shape, dtype=dtype, generator=torch.Generator().manual_seed(seed))


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


SHAPE = (2, 6, 8)
OPERATORS = {
    "mask": lambda: Mask.random(SHAPE, 0.6, seed=1),
    "cs": lambda: GaussianCS(SHAPE, 40, seed=1),
    "dct": lambda: SubsampledDCT(SHAPE, 40, seed=1),
    "blur": lambda: Blur(SHAPE, _randn((3, 4))),
    "sr": lambda: SuperResolution(SHAPE, 2),
    "composition": lambda: SuperResolution(SHAPE, 2) @ Blur.motion(SHAPE, 3, 30.0),
}


@pytest.mark.parametrize("name", OPERATORS)
def test_autograd_flows_through_forward_adjoint_and_pinv(name):
    A = OPERATORS[name]()
    x = _randn((1, *A.in_shape)).requires_grad_()
    y = _randn((1, *A.out_shape), seed=1).requires_grad_()
    assert torch.autograd.gradcheck(A, (x,))
    assert torch.autograd.gradcheck(A.adjoint, (y,))
    assert torch.autograd.gradcheck(lambda v: A.pinv(v, 0.1), (y,), atol=1e-6)


@pytest.mark.parametrize("name", OPERATORS)
def test_float32_follows_the_float64_result(name):
    A = OPERATORS[name]()
    x, y = _randn((2, *A.in_shape)), _randn((2, *A.out_shape), seed=1)
    for f in (A, A.adjoint, A.pinv):
        arg = x if f is A else y
        out32 = f(arg.float())
        assert out32.dtype == torch.float32
        assert _rel(out32.double(), f(arg)) < 1e-5


@pytest.mark.parametrize("name", OPERATORS)
def test_module_dtype_casts_keep_the_operator(name):
    """`A.to(dtype)` changes buffer precision; complex Fourier symbols must not lose
    their imaginary part (the blur kernel here is asymmetric)."""
    A = OPERATORS[name]()
    x = _randn((2, *A.in_shape))
    expected = A(x)
    state = {k: v.clone() for k, v in A.state_dict().items()}
    A.pinv(A(x))
    assert all(torch.equal(v, A.state_dict()[k]) for k, v in state.items()), "calling A changed it"
    A.to(torch.float32)
    assert _rel(A(x), expected) < 1e-5
    A.to(torch.float64)
    assert _rel(A(x), expected) < 1e-5


def test_gaussian_cs_square_is_exact_in_float64_and_float32():
    """m = n: ΦΦᵀ is ill-conditioned, the float64 factorisation still inverts it."""
    A = GaussianCS((3, 12, 12), 432, seed=5)
    y = _randn((2, 432))
    assert _rel(A(A.pinv(y)), y) < 1e-8
    assert _rel(A(A.pinv(y.float())).double(), y) < 1e-3
    x = _randn((2, 3, 12, 12), seed=2)
    assert _rel(A.pinv(A(x)), x) < 1e-8  # square and invertible: A⁺A = I


def test_gaussian_cs_eigendecomposition_fallback_matches_cholesky(monkeypatch):
    A, B = GaussianCS((1, 8, 8), 30, seed=2), GaussianCS((1, 8, 8), 30, seed=2)
    y = _randn((3, 30))
    expected = A.pinv(y)
    monkeypatch.setattr(torch.linalg, "cholesky_ex", lambda g: (g, torch.tensor(1)))
    assert B._solver(0.0, B.matrix.device)[0] == "eigh"
    assert _rel(B.pinv(y), expected) < 1e-10


def test_gaussian_cs_statistics_and_seed():
    A = GaussianCS((3, 16, 16), 200, seed=3)
    assert torch.equal(A.matrix, GaussianCS((3, 16, 16), 200, seed=3).matrix)
    assert not torch.equal(A.matrix, GaussianCS((3, 16, 16), 200, seed=4).matrix)
    assert abs(A.matrix.var().item() - 1 / 200) < 0.1 / 200
    assert abs(A.matrix.mean().item()) < 0.01 / 200**0.5


@pytest.mark.slow
def test_gaussian_cs_at_full_size():
    """n = 3·64·64, m = n: constructs, and the pseudo-inverse is consistent — in float64, as the
    operator documents: at m = n, cond(Φ) ≈ 10⁴ and A⁺y is large, so A(A⁺y) rounded to float32
    loses the consistency (relative error of order 1 here), whatever the solver."""
    n = 3 * 64 * 64
    A = GaussianCS((3, 64, 64), n)
    y = _randn((2, n), dtype=torch.float64)
    assert _rel(A(A.pinv(y)), y) < 1e-6


def test_subsampled_dct_has_orthonormal_rows():
    A = SubsampledDCT((3, 5, 7), 50, seed=2)
    M = A.to_dense()
    assert torch.allclose(M @ M.T, torch.eye(50, dtype=torch.float64), atol=1e-12)
    assert len(set(A.index.tolist())) == 50


def test_mask_constructors():
    m = Mask.box((3, 10, 12), top=2, left=3, height=4, width=5)
    assert m.mask.shape == (3, 10, 12)
    assert m.mask[:, 2:6, 3:8].sum() == 0 and m.mask.sum() == 3 * (120 - 20)
    r = Mask.random((2, 100, 100), keep=0.3, seed=1)
    assert abs(r.mask.mean().item() - 0.3) < 0.02
    assert torch.equal(r.mask[0], r.mask[1]), "a 2-D mask is shared by the channels"
    assert torch.equal(Mask.random((1, 9, 9), 0.5, seed=4).mask, Mask.random((1, 9, 9), 0.5, seed=4).mask)
    with pytest.raises(ValueError, match="does not fit"):
        Mask.box((1, 4, 4), 2, 2, 3, 1)
    with pytest.raises(ValueError, match="shape"):
        Mask((3, 4, 4), torch.ones(3, 4))


@settings(max_examples=40, deadline=None)
@given(st.integers(3, 12), st.integers(3, 12), st.integers(0, 2**31 - 1), st.floats(0.0, 1.0))
def test_largest_hole_is_the_largest_all_missing_square(h, w, seed, keep):
    mask = (torch.rand(h, w, generator=torch.Generator().manual_seed(seed)) < keep).float()
    missing = (mask == 0).numpy()
    brute = max((s for s in range(1, min(h, w) + 1)
                 for i in range(h - s + 1) for j in range(w - s + 1) if missing[i:i + s, j:j + s].all()), default=0)
    assert Mask((2, h, w), mask).largest_hole == brute


def test_largest_hole_needs_every_channel_missing():
    assert Mask.box((3, 20, 30), 2, 3, 6, 11).largest_hole == 6
    mask = Mask.box((3, 20, 30), 2, 3, 6, 11).mask.clone()
    mask[1, 4, 8] = 1  # one channel observed in the middle of the hole
    assert Mask((3, 20, 30), mask).largest_hole == 5
    assert Mask((1, 5, 5), torch.ones(5, 5)).largest_hole == 0


def test_blur_kernels_are_normalised_and_centred():
    shape = (1, 32, 32)
    for A in (Blur.gaussian(shape, 1.5), Blur.box(shape, 5), Blur.motion(shape, 7, 0.0), Blur.motion(shape, 6, 45.0)):
        assert abs(A.kernel.sum().item() - 1) < 1e-12
        kh, kw = A.kernel.shape
        assert kh % 2 == kw % 2 == 1
        centre = torch.stack(torch.meshgrid(torch.arange(kh), torch.arange(kw), indexing="ij")).double()
        mean = (centre * A.kernel).sum((1, 2))
        assert torch.allclose(mean, torch.tensor([(kh - 1) / 2, (kw - 1) / 2], dtype=torch.float64), atol=1e-9)
    horizontal = Blur.motion(shape, 7, 0.0).kernel
    assert horizontal.sum(1).max() > 0.99, "a horizontal motion stays on one row"
    # A blur of a constant image is the same constant (the kernel sums to 1).
    assert torch.allclose(Blur.gaussian(shape, 2.0)(torch.ones(1, *shape)), torch.ones(1, *shape))


def test_blur_pinv_zeroes_the_null_space_only():
    """A box blur of even size along a 6-wide axis has exact zeros in its spectrum: the
    pseudo-inverse must drop those frequencies, not amplify them to 1e16."""
    A = Blur.box((1, 6, 6), 2)
    assert (A.to_dense().numpy().shape == (36, 36))
    M = A.to_dense().numpy()
    assert np.linalg.matrix_rank(M) < 36
    y = _randn((1, 1, 6, 6))
    expected = torch.from_numpy(np.linalg.pinv(M) @ y.reshape(-1).numpy()).reshape(1, 1, 6, 6)
    assert torch.allclose(A.pinv(y), expected, atol=1e-10)


def test_iterative_pinv_of_a_composition_with_eps():
    A = SuperResolution((1, 6, 6), 2) @ Blur.gaussian((1, 6, 6), 0.8)
    M = A.to_dense().numpy()
    y = _randn((2, 1, 3, 3))
    eps = 0.05
    expected = np.linalg.solve(M @ M.T + eps * np.eye(9), y.reshape(2, -1).numpy().T).T @ M
    assert np.allclose(A.pinv(y, eps).reshape(2, -1).numpy(), expected, atol=1e-8)


def test_scalar_algebra():
    A = SuperResolution((1, 4, 4), 2)
    x = _randn((1, 1, 4, 4))
    assert torch.allclose((2.0 * A)(x), 2 * A(x))
    assert torch.allclose((A * np.float32(3.0))(x), 3 * A(x))
    assert torch.allclose((A - A)(x), torch.zeros(1, 1, 2, 2, dtype=torch.float64))
    assert torch.allclose((-A).T(A(x)), -A.adjoint(A(x)))
    assert torch.allclose((3.0 * A).pinv(A(x)), A.pinv(A(x)) / 3)
    assert torch.equal(Identity((1, 4, 4))(x), x)
    with pytest.raises(TypeError):
        A * A


# ---------------------------------------------------------------- the contract a user's operator meets
class _Weights(LinearOperator):
    """``A x = Σ_c w_c x_c`` without a closed-form pinv (so the pseudo-inverse is CG); its
    buffer stays float64 unless ``cast``."""

    def __init__(self, cast: bool = True) -> None:
        super().__init__((3, 4, 4), (1, 4, 4))
        self.register_buffer("w", torch.tensor([0.3, 0.6, 0.1], dtype=torch.float64).view(3, 1, 1))
        self.cast = cast

    def _matvec(self, x):
        return (x * (self.w.to(x.dtype) if self.cast else self.w)).sum(1, keepdim=True)

    def _rmatvec(self, y):
        return y * self.w.to(y.dtype)


def test_a_hook_returning_another_dtype_is_named_by_the_call_and_by_check():
    A = _Weights(cast=False)
    with pytest.raises(TypeError, match=r"_Weights\._matvec returned torch\.float64 for a torch\.float32 input"):
        A(torch.rand(1, 3, 4, 4))
    with pytest.raises(OperatorCheckError, match=r"_Weights fails in torch\.float32: .*_matvec returned torch\.float64"):
        check(A, torch.float32)
    assert not check(_Weights(), torch.float32).failed


def test_a_missing_adjoint_names_the_operator_and_the_hook():
    class NoAdjoint(LinearOperator):
        def _matvec(self, x):
            return x

    A = NoAdjoint((1, 2, 2), (1, 2, 2))
    with pytest.raises(NotImplementedError, match=r"NoAdjoint does not implement _rmatvec\(self, y\)"):
        A.adjoint(torch.zeros(1, 1, 2, 2))
    with pytest.raises(OperatorCheckError, match=r"NoAdjoint .*_rmatvec"):
        check(A)


def test_check_reports_a_wrong_adjoint_before_any_conjugate_gradients():
    class WrongAdjoint(_Weights):
        def _rmatvec(self, y):
            return y * self.w.flip(0).to(y.dtype)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # CG on a wrong adjoint would warn that it did not converge
        with pytest.raises(OperatorCheckError, match="adjoint") as raised:
            check(WrongAdjoint())
    assert "pseudo-inverse" in raised.value.report.skipped
    assert not any("Penrose" in r.identity for r in raised.value.report.results)


def test_the_operator_pages_user_operator_is_complete_in_25_lines(capsys):
    page = (Path(__file__).resolve().parents[1] / "docs" / "site" / "api" / "operators.md").read_text()
    code = re.search(r"```python\n(.*?)```", page.split("## Writing an operator", 1)[1], re.S).group(1)
    assert len(code.strip().splitlines()) <= 25
    namespace: dict = {}
    exec(compile(code, "docs/site/api/operators.md", "exec"), namespace)
    assert "ok" in capsys.readouterr().out and not check(namespace["A"], torch.float32).failed
    A, x = namespace["A"], torch.rand(2, 3, 8, 8, dtype=torch.float64)
    w = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float32).double()
    torch.testing.assert_close(A(x), torch.einsum("c,bchw->bhw", w, x).unsqueeze(1))
    torch.testing.assert_close(A(A.pinv(A(x))), A(x))  # the closed form is a right inverse
