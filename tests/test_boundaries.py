"""Blur and super-resolution with circular, reflect, replicate and zero boundaries.

Properties over random shapes, kernels, factors and seeds (float64): exact adjoints,
matrix-free = ``to_dense()``, agreement with an outside reference (``numpy.pad`` +
``scipy.signal.correlate``), and pseudo-inverses that match the dense formulas.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from invgen.operators import Blur, SuperResolution
from invgen.operators.padding import BOUNDARIES, Pad

FAST = settings(max_examples=25, deadline=None)
NUMPY_MODE = {"circular": "wrap", "reflect": "reflect", "replicate": "edge", "zero": "constant"}


def randn(shape, seed):
    return torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


@st.composite
def blurs(draw) -> Blur:
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    kernel = randn((draw(st.integers(1, 7)), draw(st.integers(1, 7))), draw(st.integers(0, 2**16)))
    return Blur(shape, kernel, boundary=draw(st.sampled_from(BOUNDARIES)))


@st.composite
def super_resolutions(draw) -> SuperResolution:
    f = draw(st.integers(1, 4))
    shape = (draw(st.integers(1, 2)), f * draw(st.integers(1, 4)), f * draw(st.integers(1, 4)))
    boundary = draw(st.sampled_from(BOUNDARIES))
    kind = draw(st.sampled_from(["bicubic", "box", "gaussian", "tensor"]))
    if kind != "tensor":
        return SuperResolution(shape, f, kind, boundary=boundary)
    # Any length with the factor's parity, shorter than the factor included (a crop).
    lengths = st.sampled_from([n for n in (f - 2, f, f + 2, f + 4) if n >= 1])
    kernel = randn((draw(lengths), draw(lengths)), draw(st.integers(0, 2**16)))
    return SuperResolution(shape, f, kernel, boundary=boundary)


def operators():
    return st.one_of(blurs(), super_resolutions())


def rel(a, b) -> float:
    return ((a - b).norm() / b.norm().clamp_min(1e-300)).item()


@FAST
@given(operators(), st.integers(0, 1000))
def test_adjoint_is_exact(A, seed):
    x, y = randn((3, *A.in_shape), seed), randn((3, *A.out_shape), seed + 1)
    lhs, rhs = (A(x) * y).sum(), (x * A.adjoint(y)).sum()
    assert abs(lhs - rhs) <= 1e-12 * A(x).norm() * y.norm()


@FAST
@given(operators(), st.integers(0, 1000))
def test_matrix_free_equals_to_dense(A, seed):
    M = A.to_dense()
    x, y = randn((2, *A.in_shape), seed), randn((2, *A.out_shape), seed + 1)
    assert rel(A(x).flatten(1), x.flatten(1) @ M.T) < 1e-12
    assert rel(A.adjoint(y).flatten(1), y.flatten(1) @ M) < 1e-12


def reference(A, x: torch.Tensor) -> np.ndarray:
    """numpy.pad with the boundary's numpy mode, scipy's 'valid' correlation, decimation."""
    k = A.kernel.numpy()
    (kh, kw), f = k.shape, getattr(A, "factor", 1)
    if isinstance(A, SuperResolution):  # centred on the f × f block
        top, left = (kh - f) // 2, (kw - f) // 2
    else:  # centre tap on the pixel
        top, left = kh // 2, kw // 2
    bottom, right = kh - f - top, kw - f - left
    x = x.numpy()
    if min(top, bottom, left, right) < 0:  # a kernel shorter than the factor reads inside
        x = x[..., -min(top, 0): x.shape[-2] + min(bottom, 0), -min(left, 0): x.shape[-1] + min(right, 0)]
    pads = [(0, 0)] * (x.ndim - 2) + [(max(top, 0), max(bottom, 0)), (max(left, 0), max(right, 0))]
    xp = np.pad(x, pads, mode=NUMPY_MODE[A.boundary])
    out = np.empty((*x.shape[:-2], *A.out_shape[-2:]))
    for idx in np.ndindex(*x.shape[:-2]):
        out[idx] = scipy.signal.correlate(xp[idx], k, mode="valid")[::f, ::f]
    return out


@FAST
@given(operators(), st.integers(0, 1000))
def test_matches_numpy_pad_and_scipy_correlate(A, seed):
    x = randn((2, *A.in_shape), seed)
    np.testing.assert_allclose(A(x).numpy(), reference(A, x), rtol=1e-10, atol=1e-12)


@FAST
@given(st.integers(1, 6), st.integers(1, 6), st.tuples(*[st.integers(0, 8)] * 4),
       st.sampled_from(BOUNDARIES), st.integers(0, 1000))
def test_pad_matches_numpy_beyond_the_image_size(h, w, pads, boundary, seed):
    """Pads longer than the image reflect (or wrap) again, as numpy.pad does."""
    P = Pad((2, h, w), pads, boundary)
    x = randn((1, 2, h, w), seed)
    t, b, l, r = pads
    expected = np.pad(x.numpy(), [(0, 0), (0, 0), (t, b), (l, r)], mode=NUMPY_MODE[boundary])
    np.testing.assert_array_equal(P(x).numpy(), expected)
    y = randn((1, *P.out_shape), seed + 1)
    assert abs((P(x) * y).sum() - (x * P.adjoint(y)).sum()) <= 1e-12 * P(x).norm() * y.norm()


@st.composite
def well_conditioned(draw):
    """Operators whose dense pseudo-inverse is a fair reference (condition ≲ 1e4)."""
    boundary = draw(st.sampled_from(BOUNDARIES[1:]))
    if draw(st.booleans()):
        shape = (draw(st.integers(1, 2)), draw(st.integers(2, 8)), draw(st.integers(2, 8)))
        return Blur.gaussian(shape, draw(st.floats(0.3, 0.6)), boundary=boundary)
    f = draw(st.integers(2, 4))
    shape = (1, f * draw(st.integers(1, 4)), f * draw(st.integers(1, 4)))
    return SuperResolution(shape, f, draw(st.sampled_from(["bicubic", "box", "gaussian"])), boundary=boundary)


@FAST
@given(well_conditioned(), st.sampled_from([0.0, 1e-2, 0.5]), st.integers(0, 1000))
def test_iterative_pinv_matches_the_dense_pseudo_inverse(A, eps, seed):
    M = A.to_dense()
    y = randn((2, *A.out_shape), seed)
    if eps == 0:
        y = A(randn((2, *A.in_shape), seed))  # in the range of A, where CG's A⁺y is exact
        dense = torch.linalg.pinv(M)
    else:
        dense = M.T @ torch.linalg.inv(M @ M.T + eps * torch.eye(M.shape[0], dtype=M.dtype))
    assert rel(A.pinv(y, eps).flatten(1), y.flatten(1) @ dense.T) < 1e-6


@pytest.mark.parametrize("boundary", BOUNDARIES[1:])
@pytest.mark.parametrize("size", [2, 3])
def test_pinv_of_a_rank_deficient_blur_is_numpys_for_any_y(boundary, size):
    # A box blur has exact zeros in its spectrum (rank 140 of 160 for zero, 144 for
    # reflect): y has a part outside the range of A, which CG on AAᵀu = y blew up to 1e19.
    A = Blur.box((2, 8, 10), size, boundary=boundary)
    y = randn((3, *A.out_shape), size)
    dense = np.linalg.pinv(A.to_dense().numpy())
    x = A.pinv(y)
    assert rel(x.flatten(1), y.flatten(1) @ torch.from_numpy(dense).T) < 1e-6


@pytest.mark.parametrize("make", [
    lambda: Blur.gaussian((3, 16, 16), 0.8, boundary="reflect"),  # cond 140, full rank
    lambda: Blur.box((1, 12, 12), 4, boundary="reflect"),  # an even box: rank-deficient
    lambda: Blur.box((1, 12, 12), 4, boundary="zero"),
])
def test_pinv_is_numpys_for_any_y_within_the_step_limit(make):
    """A preconditioner applied as Aᵀ C² A left errors of 1e-2 to 0.8 on these in 1000 steps."""
    A = make()
    y = randn((2, *A.out_shape), 0)
    dense = torch.linalg.pinv(A.to_dense())
    assert rel(A.pinv(y).flatten(1), y.flatten(1) @ dense.T) < 1e-6


@pytest.mark.parametrize("boundary", ["reflect", "replicate", "zero"])
def test_reflect_pinv_reproduces_y_on_a_64px_image(boundary):
    x = torch.rand(2, 3, 64, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    A = SuperResolution((3, 64, 64), 4, boundary=boundary)
    y = A(x)
    assert rel(A(A.pinv(y)), y) < 1e-7
    B = Blur.gaussian((3, 64, 64), 1.0, boundary=boundary)
    assert rel(B(B.pinv(B(x), eps=1e-3)), B(x)) < 1e-2  # regularised: close, not equal


def test_default_is_circular_and_unchanged():
    x = randn((2, 3, 16, 16), 0)
    assert Blur.gaussian((3, 16, 16), 1.0).boundary == "circular"
    assert SuperResolution((3, 16, 16), 4).boundary == "circular"
    torch.testing.assert_close(Blur.gaussian((3, 16, 16), 1.0)(x),
                               Blur.gaussian((3, 16, 16), 1.0, boundary="circular")(x))
    # The circular pseudo-inverse stays closed form: exact on any y, in one FFT.
    A = SuperResolution((3, 16, 16), 4)
    y = randn((2, 3, 4, 4), 1)
    assert rel(A(A.pinv(y)), y) < 1e-12


def test_reflect_removes_the_wrap_around_seam():
    """A bright left edge blurs into the right edge only with the circular boundary."""
    x = torch.zeros(1, 1, 16, 16, dtype=torch.float64)
    x[..., :, 0] = 1.0
    for boundary in BOUNDARIES:
        right = Blur.gaussian((1, 16, 16), 1.5, boundary=boundary)(x)[..., -1].abs().max()
        assert (right > 0.01) == (boundary == "circular"), boundary


@pytest.mark.parametrize("make", [
    lambda: Blur.gaussian((1, 8, 8), 1.0, boundary="mirror"),
    lambda: SuperResolution((1, 8, 8), 2, boundary="periodic"),
])
def test_unknown_boundary_is_named(make):
    with pytest.raises(ValueError, match=r"boundary must be one of \('circular', 'reflect', 'replicate', 'zero'\)"):
        make()


@pytest.mark.parametrize("boundary", ["reflect", "replicate", "zero"])
@pytest.mark.parametrize("make", [lambda b: Blur.gaussian((2, 12, 10), 0.5, boundary=b),
                                  lambda b: SuperResolution((2, 12, 12), 2, boundary=b)], ids=["blur", "sr"])
def test_check_passes_with_the_iterative_tolerance_off_the_circular_boundary(make, boundary):
    from invgen.operators import check

    A = make(boundary)
    assert not A.closed_form_pinv and make("circular").closed_form_pinv and (2.0 * make("circular")).closed_form_pinv
    check(A)
