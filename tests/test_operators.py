"""Operator identities as properties over random shapes, factors, m and seeds."""
from __future__ import annotations

import numpy as np
import pylops
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from invgen.operators import (
    Blur,
    GaussianCS,
    Identity,
    LinearOperator,
    Mask,
    SubsampledDCT,
    SuperResolution,
    bicubic_kernel,
    from_pylops,
    keys_cubic,
    to_pylops,
)

FAST = settings(max_examples=12, deadline=None)


def _randn(shape, dtype, seed):
    return torch.randn(shape, dtype=dtype, generator=torch.Generator().manual_seed(seed))


@st.composite
def operators(draw, closed_form_only: bool = False) -> LinearOperator:
    """A random operator of every family on a small random image shape."""
    c = draw(st.integers(1, 3))
    factor = draw(st.sampled_from([1, 2, 3, 4]))
    h = factor * draw(st.integers(1, 4))
    w = factor * draw(st.integers(1, 4))
    shape = (c, h, w)
    n = c * h * w
    seed = draw(st.integers(0, 2**16))
    kinds = ["identity", "mask", "mask-full", "box", "cs", "cs-square", "dct", "blur", "motion", "blur-tensor",
             "sr", "sr-box", "sr-gauss", "sr-tensor", "scaled"]
    if not closed_form_only:
        kinds += ["composition", "sum", "adjoint"]
    kind = draw(st.sampled_from(kinds))
    m = draw(st.integers(1, n))
    make = {
        "identity": lambda: Identity(shape),
        "mask": lambda: Mask.random(shape, draw(st.floats(0, 1)), seed),
        "box": lambda: Mask.box(shape, 0, 0, max(1, h // 2), max(1, w // 2)),
        "mask-full": lambda: Mask(shape, (torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < 0.5)),
        "cs": lambda: GaussianCS(shape, m, seed),
        "cs-square": lambda: GaussianCS(shape, n, seed),
        "dct": lambda: SubsampledDCT(shape, m, seed),
        "blur": lambda: Blur.gaussian(shape, draw(st.floats(0.3, 2.0))),
        "motion": lambda: Blur.motion(shape, draw(st.integers(1, 5)), draw(st.floats(0, 180))),
        "blur-tensor": lambda: Blur(shape, _randn((draw(st.integers(1, 6)), draw(st.integers(1, 6))), torch.float64, seed)),
        "sr": lambda: SuperResolution(shape, factor),
        "sr-tensor": lambda: SuperResolution(shape, factor, _randn((factor + 2, factor), torch.float64, seed)),
        "sr-box": lambda: SuperResolution(shape, factor, "box"),
        "sr-gauss": lambda: SuperResolution(shape, factor, "gaussian"),
        "scaled": lambda: draw(st.floats(0.1, 3)) * SuperResolution(shape, factor),
        "composition": lambda: SuperResolution(shape, factor) @ Blur.gaussian(shape, 1.0),
        "sum": lambda: Blur.box(shape, 3) + 0.5 * Identity(shape),
        "adjoint": lambda: SuperResolution(shape, factor).T,
    }
    return make[kind]()


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm().clamp_min(1e-300)).item()


@FAST
@given(operators(), st.integers(0, 1000))
def test_linearity(A, seed):
    x1, x2 = _randn((2, *A.in_shape), torch.float64, seed), _randn((2, *A.in_shape), torch.float64, seed + 1)
    assert _rel(A(2.5 * x1 - x2), 2.5 * A(x1) - A(x2)) < 1e-12 or A(x1).norm() == 0


@FAST
@given(operators(), st.integers(0, 1000), st.sampled_from([(torch.float64, 1e-10), (torch.float32, 1e-5)]))
def test_adjoint_identity(A, seed, dtype_tol):
    dtype, tol = dtype_tol
    x, y = _randn((3, *A.in_shape), dtype, seed), _randn((3, *A.out_shape), dtype, seed + 1)
    lhs = (A(x) * y).sum().double()
    rhs = (x * A.adjoint(y)).sum().double()
    scale = (A(x).norm() * y.norm()).double()
    assert abs(lhs - rhs) <= tol * scale


@FAST
@given(operators(), st.integers(0, 1000))
def test_penrose_identities(A, seed):
    """A A⁺ A = A and A⁺ A A⁺ = A⁺ on random vectors (float64)."""
    # A⁺ A A⁺ amplifies rounding by up to cond(A)²: a square Gaussian CS can have a cond
    # of thousands and errors of a few 1e-9 (1e-7 is check()'s tolerance for closed forms).
    tol = 1e-7 if type(A).__name__ not in ("Composition", "Sum", "Adjoint") else 1e-6
    x, y = _randn((2, *A.in_shape), torch.float64, seed), _randn((2, *A.out_shape), torch.float64, seed + 1)
    assert _rel(A(A.pinv(A(x))), A(x)) < tol or A(x).norm() < 1e-12
    assert _rel(A.pinv(A(A.pinv(y))), A.pinv(y)) < tol or A.pinv(y).norm() < 1e-12


@FAST
@given(operators(), st.integers(0, 1000))
def test_matrix_free_equals_dense_and_pinv_equals_numpy(A, seed):
    M = A.to_dense().numpy()
    x, y = _randn((2, *A.in_shape), torch.float64, seed), _randn((2, *A.out_shape), torch.float64, seed + 1)
    assert np.allclose(A(x).reshape(2, -1).numpy(), x.reshape(2, -1).numpy() @ M.T, rtol=1e-10, atol=1e-12)
    assert np.allclose(A.adjoint(y).reshape(2, -1).numpy(), y.reshape(2, -1).numpy() @ M, rtol=1e-10, atol=1e-12)
    expected = y.reshape(2, -1).numpy() @ np.linalg.pinv(M, rcond=1e-10).T
    got = A.pinv(y).reshape(2, -1).numpy()
    assert np.abs(got - expected).max() <= 1e-6 * max(1.0, np.abs(expected).max())


@FAST
@given(operators(closed_form_only=True), st.integers(0, 1000), st.floats(1e-3, 10.0))
def test_regularised_pinv(A, seed, eps):
    """A.pinv(y, eps) = Aᵀ(AAᵀ + eps I)⁻¹ y."""
    M = A.to_dense().numpy()
    y = _randn((2, *A.out_shape), torch.float64, seed)
    expected = np.linalg.solve(M @ M.T + eps * np.eye(M.shape[0]), y.reshape(2, -1).numpy().T).T @ M
    assert np.allclose(A.pinv(y, eps).reshape(2, -1).numpy(), expected, rtol=1e-8, atol=1e-10)


@FAST
@given(operators(), operators(), st.integers(0, 1000))
def test_adjoint_of_composition_and_sum(A, B, seed):
    """(A @ B)ᵀ = Bᵀ @ Aᵀ and (A + A)ᵀ = 2 Aᵀ, applied to vectors."""
    if B.out_shape != A.in_shape:
        B = Identity(A.in_shape)
    y = _randn((2, *A.out_shape), torch.float64, seed)
    assert torch.allclose((A @ B).T(y), (B.T @ A.T)(y), rtol=1e-10, atol=1e-12)
    assert torch.allclose((A + A).T(y), 2 * A.T(y), rtol=1e-10, atol=1e-12)
    assert (A @ B).in_shape == B.in_shape and (A @ B).out_shape == A.out_shape


@FAST
@given(operators(), st.integers(0, 100))
def test_pylops_dottest_and_roundtrip(A, seed):
    op = to_pylops(A)
    assert pylops.utils.dottest(op, A.out_size, A.in_size, rtol=1e-10)
    back = from_pylops(op, A.in_shape, A.out_shape)
    x = _randn((2, *A.in_shape), torch.float64, seed)
    assert torch.allclose(back(x), A(x), rtol=1e-12, atol=1e-12)


def test_from_pylops_supports_autograd():
    op = pylops.MatrixMult(np.random.default_rng(0).standard_normal((5, 12)))
    A = from_pylops(op, (3, 2, 2), (5,))
    x = torch.randn(2, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    y = torch.randn(2, 5, dtype=torch.float64)
    (A(x) * y).sum().backward()
    assert torch.allclose(x.grad, A.adjoint(y))


def test_bad_shapes_raise():
    A = SuperResolution((3, 16, 16), 4)
    with pytest.raises(ValueError, match=r"\(B, 3, 16, 16\).*\(2, 3, 8, 8\)"):
        A(torch.zeros(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"\(B, 3, 4, 4\)"):
        A.adjoint(torch.zeros(3, 4, 4))
    with pytest.raises(ValueError, match="pseudo-inverse"):
        A.pinv(torch.zeros(1, 3, 5, 4))
    with pytest.raises(ValueError, match="divide"):
        SuperResolution((3, 10, 10), 4)
    with pytest.raises(ValueError, match="compose"):
        A @ Identity((3, 8, 8))
    with pytest.raises(ValueError, match="m must"):
        GaussianCS((3, 4, 4), 49)
    with pytest.raises(ValueError, match="binary"):
        Mask((1, 2, 2), torch.tensor([[0.5, 1.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="eps"):
        A.pinv(torch.zeros(1, 3, 4, 4), eps=-1.0)


def test_bicubic_kernel_is_the_papers():
    """Keys cubic (a = −0.5), 4·f taps (+1 for odd f), at the grid scaled by 1/f, sum 1."""
    assert keys_cubic(torch.tensor([0.0, 1.0, 2.0, 0.5])).tolist() == [1.0, 0.0, 0.0, 0.5625]
    for f in (2, 3, 4, 8):
        k = bicubic_kernel(f)
        length = 4 * f + f % 2
        assert k.shape == (length,)
        t = (torch.arange(length, dtype=torch.float64) - (length - 1) / 2) / f
        raw = torch.where(t.abs() <= 1, 1.5 * t.abs() ** 3 - 2.5 * t**2 + 1,
                          torch.where(t.abs() < 2, -0.5 * t.abs() ** 3 + 2.5 * t**2 - 4 * t.abs() + 2, 0 * t))
        assert torch.allclose(k, raw / raw.sum(), atol=1e-15)


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 5), st.integers(1, 3), st.integers(0, 2), st.integers(0, 2), st.integers(0, 1000))
def test_super_resolution_is_a_strided_convolution_inside(factor, channels, extra_h, extra_w, seed):
    """Away from the border, A(x) is F.conv2d with the paper's bicubic kernel, stride f,
    the window of low-resolution pixel (p, q) centred on its f × f block."""
    length = 4 * factor + factor % 2
    pad = (length - factor) // 2
    h, w = factor * (5 + extra_h), factor * (5 + extra_w)
    A = SuperResolution((channels, h, w), factor)
    x = _randn((2, channels, h, w), torch.float64, seed)
    k = torch.outer(bicubic_kernel(factor), bicubic_kernel(factor))
    # Low-resolution pixel p reads x[f·p − pad : f·p − pad + L]; a valid strided conv of x
    # cropped by `shift` reads x[shift + f·i : ...], so i = p − offset.
    shift = -pad % factor
    offset = (shift + pad) // factor
    direct = F.conv2d(x[..., shift:, shift:].reshape(-1, 1, h - shift, w - shift), k[None, None], stride=factor)
    direct = direct.reshape(2, channels, *direct.shape[-2:])
    got = A(x)[..., offset : offset + direct.shape[-2], offset : offset + direct.shape[-1]]
    assert direct.numel() > 0
    assert torch.allclose(got, direct, atol=1e-12)


def test_operators_follow_input_dtype_and_carry_gradients():
    A = SuperResolution((3, 8, 8), 2) @ Blur.gaussian((3, 8, 8), 1.0)
    x = torch.rand(2, 3, 8, 8, requires_grad=True)
    y = A(x)
    assert y.dtype == torch.float32
    y.square().sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape
    assert A.pinv(y.detach().double()).dtype == torch.float64
