"""Operators against outside references (scipy, numpy, plain indexing), compositions of
every family with every family, and `invgen.operators.check` on ours and on broken ones.

A test comparing an operator only with itself (e.g. with its own `to_dense`) cannot see a
flipped kernel; every reference here is computed without invgen.
"""
from __future__ import annotations

import numpy as np
import pylops
import pytest
import scipy.fft
import scipy.ndimage
import scipy.signal
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from invgen.operators import (
    Blur,
    GaussianCS,
    Identity,
    LinearOperator,
    Mask,
    SubsampledDCT,
    SuperResolution,
    check,
    from_pylops,
)
from invgen.operators import OperatorCheckError

def _randn(shape, seed=0):
    return torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def _dense_of(apply, in_shape) -> np.ndarray:
    """The matrix of a numpy map on arrays of ``in_shape``, column by column."""
    n = int(np.prod(in_shape))
    return np.stack([np.ravel(apply(e.reshape(in_shape))) for e in np.eye(n)], axis=1)


# ------------------------------------------------------------------ Blur
@pytest.mark.parametrize("kernel_shape", [(3, 3), (3, 4), (4, 5), (2, 2), (5, 1)])
def test_blur_is_scipys_circular_correlation(kernel_shape):
    """A x = correlate(x, k, mode='wrap') with the centre tap (kh//2, kw//2) on the pixel
    (scipy's convention for any kernel size), so a flipped kernel fails here."""
    kernel = _randn(kernel_shape, seed=1)  # asymmetric: k ≠ flip(k)
    x = _randn((2, 3, 7, 9), seed=2)
    A = Blur((3, 7, 9), kernel)
    k = kernel.numpy()
    expected = np.stack([[scipy.ndimage.correlate(xc, k, mode="wrap") for xc in xb] for xb in x.numpy()])
    np.testing.assert_allclose(A(x).numpy(), expected, rtol=1e-10, atol=1e-12)


def test_blur_matches_scipy_signal_convolution_with_the_flipped_kernel():
    """The same fact through scipy.signal: correlation with k = convolution with k[::-1, ::-1]."""
    kernel = _randn((3, 5), seed=3)
    x = _randn((1, 1, 8, 10), seed=4)
    expected = scipy.signal.convolve2d(x[0, 0].numpy(), kernel.numpy()[::-1, ::-1], mode="same", boundary="wrap")
    np.testing.assert_allclose(Blur((1, 8, 10), kernel)(x)[0, 0].numpy(), expected, rtol=1e-10, atol=1e-12)


def test_blur_adjoint_and_pinv_against_scipy():
    """Aᵀ = circular convolution with k (odd kernel: scipy centres it the same way), and
    A⁺ = numpy's pseudo-inverse of the matrix scipy's correlation defines."""
    kernel = _randn((3, 5), seed=5)
    shape = (1, 6, 7)
    A = Blur(shape, kernel)
    k = kernel.numpy()
    y = _randn((2, *shape), seed=6)
    expected_adjoint = np.stack([[scipy.ndimage.convolve(yc, k, mode="wrap") for yc in yb] for yb in y.numpy()])
    np.testing.assert_allclose(A.adjoint(y).numpy(), expected_adjoint, rtol=1e-10, atol=1e-12)

    M = _dense_of(lambda im: scipy.ndimage.correlate(im[0], k, mode="wrap"), shape)
    expected_pinv = y.reshape(2, -1).numpy() @ np.linalg.pinv(M, rcond=1e-12).T
    np.testing.assert_allclose(A.pinv(y).reshape(2, -1).numpy(), expected_pinv, rtol=1e-8, atol=1e-10)


# ------------------------------------------------------------------ SubsampledDCT, Mask, GaussianCS
def test_subsampled_dct_is_scipys_orthonormal_dct_at_the_kept_indices():
    shape = (2, 6, 10)
    A = SubsampledDCT(shape, 50, seed=3)
    index = A.index.numpy()
    assert len(np.unique(index)) == 50
    x, y = _randn((2, *shape), seed=1), _randn((2, 50), seed=2)
    coefficients = scipy.fft.dctn(x.numpy(), type=2, norm="ortho", axes=(-2, -1)).reshape(2, -1)
    np.testing.assert_allclose(A(x).numpy(), coefficients[:, index], rtol=1e-10, atol=1e-12)
    filled = np.zeros((2, int(np.prod(shape))))
    filled[:, index] = y.numpy()
    expected = scipy.fft.idctn(filled.reshape(2, *shape), type=2, norm="ortho", axes=(-2, -1))
    np.testing.assert_allclose(A.adjoint(y).numpy(), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(A.pinv(y).numpy(), expected, rtol=1e-10, atol=1e-12)  # rows orthonormal


def test_mask_is_plain_indexing():
    shape = (3, 5, 6)
    keep = np.random.default_rng(0).random((5, 6)) < 0.5
    A = Mask(shape, torch.from_numpy(keep))
    x = _randn((2, *shape), seed=1).numpy()
    expected = np.zeros_like(x)
    expected[:, :, keep] = x[:, :, keep]
    for f in (A, A.adjoint, A.pinv):
        np.testing.assert_array_equal(f(torch.from_numpy(x)).numpy(), expected)


def test_gaussian_cs_is_its_matrix():
    shape = (2, 4, 5)
    A = GaussianCS(shape, 17, seed=4)
    phi = A.matrix.double().numpy()
    x, y = _randn((3, *shape), seed=1), _randn((3, 17), seed=2)
    np.testing.assert_allclose(A(x).numpy(), x.reshape(3, -1).numpy() @ phi.T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(A.adjoint(y).reshape(3, -1).numpy(), y.numpy() @ phi, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(A.pinv(y).reshape(3, -1).numpy(), y.numpy() @ np.linalg.pinv(phi).T,
                               rtol=1e-8, atol=1e-10)


# ------------------------------------------------------------------ SuperResolution
@pytest.mark.parametrize("factor", [2, 3])
def test_box_super_resolution_averages_each_block(factor):
    """The box kernel's low-resolution pixel is the mean of the f × f block it sits on."""
    x = _randn((2, 3, 2 * factor, 3 * factor), seed=factor)
    blocks = x.numpy().reshape(2, 3, 2, factor, 3, factor).mean(axis=(3, 5))
    np.testing.assert_allclose(SuperResolution(tuple(x.shape[1:]), factor, "box")(x).numpy(), blocks,
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("factor, kernel_shape", [(2, (4, 2)), (3, (5, 3)), (2, (6, 4))])
def test_super_resolution_is_the_documented_sum_of_shifted_copies(factor, kernel_shape):
    """y[p, q] = Σ_{i,j} k[i, j] x[f·p + i − oᵢ, f·q + j − oⱼ] (circular), o = (L − f)/2,
    written with np.roll; an asymmetric kernel, so flipping it would fail."""
    kernel = _randn(kernel_shape, seed=7)
    x = _randn((2, 2, 6 * factor, 4 * factor), seed=8)
    k, xs = kernel.numpy(), x.numpy()
    oi, oj = (kernel_shape[0] - factor) // 2, (kernel_shape[1] - factor) // 2
    full = sum(k[i, j] * np.roll(xs, (-(i - oi), -(j - oj)), axis=(-2, -1))
               for i in range(kernel_shape[0]) for j in range(kernel_shape[1]))
    A = SuperResolution(tuple(x.shape[1:]), factor, kernel)
    np.testing.assert_allclose(A(x).numpy(), full[..., ::factor, ::factor], rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ compositions of every family
OUTER = {  # on an image (C, H, W)
    "identity": lambda shape, m, f, seed: Identity(shape),
    "mask": lambda shape, m, f, seed: Mask.random(shape, 0.5, seed),
    "blur": lambda shape, m, f, seed: Blur(shape, _randn((2, 3), seed)),
    "sr": lambda shape, m, f, seed: SuperResolution(shape, f),
    "cs": lambda shape, m, f, seed: GaussianCS(shape, m, seed),
    "dct": lambda shape, m, f, seed: SubsampledDCT(shape, m, seed),
    "scaled": lambda shape, m, f, seed: -1.5 * Blur.motion(shape, 3, 30.0),
}
INNER = {  # onto an image (C, H, W): super-resolution from a larger one, CS and DCT by their adjoints
    "identity": lambda shape, m, f, seed: Identity(shape),
    "mask": lambda shape, m, f, seed: Mask.random(shape, 0.7, seed + 1),
    "blur": lambda shape, m, f, seed: Blur(shape, _randn((3, 2), seed + 1)),
    "sr": lambda shape, m, f, seed: SuperResolution((shape[0], 2 * shape[1], 2 * shape[2]), 2),
    "cs-adjoint": lambda shape, m, f, seed: GaussianCS(shape, m, seed + 1).T,
    "dct-adjoint": lambda shape, m, f, seed: SubsampledDCT(shape, m, seed + 1).T,
    "scaled": lambda shape, m, f, seed: 0.5 * Blur.box(shape, 2),
}


@st.composite
def composable_pair(draw, outer: str, inner: str):
    """``(A, B)`` of the named families with ``B.out_shape == A.in_shape``, on a random
    small image shape, measurement count and seed."""
    c, f = draw(st.integers(1, 2)), draw(st.sampled_from([1, 2]))
    shape = (c, f * draw(st.integers(1, 3)), f * draw(st.integers(1, 3)))
    m, seed = draw(st.integers(1, c * shape[1] * shape[2])), draw(st.integers(0, 2**16))
    return OUTER[outer](shape, m, f, seed), INNER[inner](shape, m, f, seed)


@pytest.mark.parametrize("inner", INNER)
@pytest.mark.parametrize("outer", OUTER)
def test_a_composition_is_the_product_of_the_matrices(outer, inner):
    """Every family composed with every family (the inner factor by its adjoint where
    only that maps onto an image)."""

    @settings(max_examples=3, deadline=None)
    @given(composable_pair(outer, inner), st.integers(0, 1000))
    def run(pair, seed):
        A, B = pair
        AB, MA, MB = A @ B, A.to_dense().numpy(), B.to_dense().numpy()
        np.testing.assert_allclose(AB.to_dense().numpy(), MA @ MB, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(AB.T.to_dense().numpy(), (MA @ MB).T, rtol=1e-10, atol=1e-12)
        y = _randn((2, *A.out_shape), seed)
        np.testing.assert_allclose(AB.T(y).numpy(), (B.T @ A.T)(y).numpy(), rtol=1e-10, atol=1e-12)
        # CG's pseudo-inverse is accurate to about cond(AB)²·cg_tol: a product of two random
        # matrices can be ill-conditioned enough to miss check's 1e-4 (Φ₁Φ₂ᵀ near square; the
        # best-conditioned miss in 400 draws had cond 897).
        singular = np.linalg.svd(MA @ MB, compute_uv=False)
        nonzero = singular[singular > 1e-10 * singular.max()]
        assume(len(nonzero) == 0 or nonzero.max() / nonzero.min() < 200)
        check(AB)  # the adjoint, the CG pseudo-inverse's Penrose identities, dense agreement

    run()


# ------------------------------------------------------------------ check() on every family
SHAPE = (2, 6, 8)
FAMILIES = {
    "identity": lambda: Identity(SHAPE),
    "mask": lambda: Mask.random(SHAPE, 0.6, seed=1),
    "gaussian-cs": lambda: GaussianCS(SHAPE, 40, seed=1),
    "gaussian-cs-square": lambda: GaussianCS(SHAPE, 96, seed=1),
    "subsampled-dct": lambda: SubsampledDCT(SHAPE, 40, seed=1),
    "blur": lambda: Blur(SHAPE, _randn((3, 4))),
    "blur-gaussian": lambda: Blur.gaussian(SHAPE, 1.5),
    "super-resolution": lambda: SuperResolution(SHAPE, 2),
    "composition": lambda: SuperResolution(SHAPE, 2) @ Blur.motion(SHAPE, 3, 30.0),
    "sum": lambda: Blur.box(SHAPE, 3) + 0.5 * Identity(SHAPE),
    "adjoint": lambda: GaussianCS(SHAPE, 40).T,
    "scaled": lambda: 2.0 * SubsampledDCT(SHAPE, 40),
    "pylops": lambda: from_pylops(pylops.MatrixMult(np.random.default_rng(0).standard_normal((30, 96))), SHAPE, (30,)),
}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("name", FAMILIES)
def test_check_passes_every_family(name, dtype):
    report = check(FAMILIES[name](), dtype=dtype)
    names = [r.identity for r in report.results]
    assert any("adjoint" in n for n in names) and sum("Penrose" in n for n in names) == 4
    assert any("to_dense" in n for n in names) and not report.failed
    assert "FAILED" not in str(report)


def test_check_skips_dense_agreement_on_a_large_operator_and_refuses_float16():
    report = check(SubsampledDCT((3, 64, 64), 1000))
    assert "dense agreement" in report.skipped
    with pytest.raises(TypeError, match="float64 or torch.float32"):
        check(Identity(SHAPE), dtype=torch.float16)


class Shift(LinearOperator):
    """Circular shift by one pixel along W; a correct adjoint shifts back."""

    def __init__(self, shape, adjoint_direction=-1):
        super().__init__(shape, shape)
        self.adjoint_direction = adjoint_direction

    def _matvec(self, x):
        return torch.roll(x, 1, dims=-1)

    def _rmatvec(self, y):
        return torch.roll(y, self.adjoint_direction, dims=-1)


class ScaledRows(LinearOperator):
    """x ↦ d ⊙ x with a fixed positive ``d``; a broken ``_pinv`` forgets to divide."""

    def __init__(self, shape):
        super().__init__(shape, shape)
        self.register_buffer("d", 1.0 + torch.rand(shape, generator=torch.Generator().manual_seed(0)))

    def _matvec(self, x):
        return x * self.d.to(x.dtype)

    def _rmatvec(self, y):
        return y * self.d.to(y.dtype)

    def _pinv(self, y, eps):
        return self._rmatvec(y)  # wrong: A⁺ = 1/d


class Affine(Shift):
    def _matvec(self, x):
        return super()._matvec(x) + 1.0


class BatchMixing(Shift):
    def _matvec(self, x):
        return super()._matvec(x) + x.mean(0, keepdim=True)

    def _rmatvec(self, y):
        return super()._rmatvec(y) + y.mean(0, keepdim=True)


class Mutating(Shift):
    def __init__(self, shape):
        super().__init__(shape)
        self.register_buffer("calls", torch.zeros(()))

    def _matvec(self, x):
        self.calls += 1
        return super()._matvec(x)


class WrongShape(Shift):
    def _rmatvec(self, y):
        return y[..., :-1]


BROKEN = {
    "adjoint shifting the wrong way": (lambda: Shift(SHAPE, adjoint_direction=1), "adjoint"),
    "pinv that forgets to divide": (lambda: ScaledRows(SHAPE), "Penrose A A⁺ A = A"),
    "an affine map": (lambda: Affine(SHAPE), "linearity"),
    "images of a batch leaking into each other": (lambda: BatchMixing(SHAPE), "to_dense"),
    "a call that changes the operator": (lambda: Mutating(SHAPE), r"unchanged by its calls \(calls changed\)"),
    "an adjoint of the wrong shape": (lambda: WrongShape(SHAPE), "shapes"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_check_names_what_is_wrong_with_a_broken_user_operator(case):
    make, culprit = BROKEN[case]
    with pytest.raises(OperatorCheckError, match=culprit) as raised:
        check(make())
    assert isinstance(raised.value, AssertionError) and raised.value.report.failed
    check(Shift(SHAPE))  # the correct version passes


def test_check_skips_an_operator_that_is_zero_up_to_rounding():
    """Two subsampled DCTs keeping disjoint coefficients compose to zero, up to rounding noise
    that relative errors would blow up: check() says so instead of failing at random."""
    disjoint = SubsampledDCT((1, 1, 3), 1, seed=0) @ SubsampledDCT((1, 1, 3), 1, seed=1).T
    assert disjoint.to_dense().abs().max() < 1e-12
    assert "every identity" in check(disjoint).skipped
    overlapping = SubsampledDCT((1, 1, 3), 1, seed=3) @ SubsampledDCT((1, 1, 3), 1, seed=4).T
    assert overlapping.to_dense().abs().max() > 0.1 and not check(overlapping).skipped.get("every identity")
