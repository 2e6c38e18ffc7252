"""The memory-bound passes of the fast kernels: ReLU against a zero block, BatchNorm's sums as BLAS products.

Both change how a pass runs, not what it computes: ReLU must equal the
reference exactly (NaN and infinities included), BatchNorm's BLAS sums must
agree with NumPy's reductions to float rounding, in every layout.
"""

import numpy as np
import pytest

from trainlab.kernels import batchnorm as bn_kernel
from trainlab.kernels import elementwise
from trainlab.kernels.layout import block_view, from_block
from trainlab.layers import activations
from trainlab.layers import batchnorm as bn_reference

Z = elementwise.ZERO_BLOCK_VALUES


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [Z - 1, Z, 2 * Z + 17])
def test_relu_against_the_zero_block_equals_the_reference_exactly(dtype, size, rng):
    x = rng.standard_normal(size).astype(dtype)
    x[:4] = [np.nan, np.inf, 0.0, -0.0]  # (-inf: the reference multiplies by the mask, -inf * 0 is NaN)
    x[-1] = np.nan
    out, mask = elementwise.relu_forward(x)
    expected_out, expected_mask = activations.relu_forward(x)
    np.testing.assert_array_equal(out, expected_out)  # NaN where the reference has NaN
    np.testing.assert_array_equal(mask, expected_mask)
    assert out.dtype == dtype and mask.dtype == bool


def test_relu_keeps_a_chwn_block_and_its_values(rng):
    x = from_block(rng.standard_normal((4, 6, 6, 2 * Z // 100 + 3)).astype(np.float32))  # (N, C, H, W) view
    out, mask = elementwise.relu_forward(x)
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    np.testing.assert_array_equal(mask, x > 0)
    assert block_view(out).flags.c_contiguous and block_view(mask).flags.c_contiguous


def test_the_zero_block_is_shared_and_read_only():
    first = elementwise.zero_block(np, np.float32)
    assert first is elementwise.zero_block(np, np.float32)
    assert first.size == Z and not first.any()
    with pytest.raises(ValueError):
        first[0] = 1.0
    assert elementwise.zero_block(np, np.float64).dtype == np.float64


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 2e-6)])
@pytest.mark.parametrize("train", [True, False])
def test_batchnorm_blas_sums_match_numpy_reductions(dtype, tol, train, rng):
    """(1, C, B): the sums are BLAS products; (2, C, B) holding each value twice: NumPy's reductions.
    Same mean and variance, so the same output and dx; dgamma and dbeta come out doubled."""
    C, B = 5, 3001
    wider = (rng.standard_normal((1, C, B + 7)) * 3 + 2).astype(dtype)
    dout = rng.standard_normal((1, C, B)).astype(dtype)
    gamma, beta = np.linspace(0.5, 2, C).astype(dtype), np.linspace(-1, 1, C).astype(dtype)

    def run(x, d):
        stats = np.zeros(C, dtype), np.linspace(0.5, 3, C).astype(dtype)
        out, cache = bn_kernel._forward_3d(x, gamma, beta, *stats, eps=1e-5, momentum=0.1, train=train)
        return (out, *bn_kernel._backward_3d(d, cache), stats[0])

    twice = run(np.concatenate([wider[:, :, :B]] * 2), np.concatenate([dout] * 2))
    for x in (np.ascontiguousarray(wider[:, :, :B]), wider[:, :, :B]):  # contiguous rows, and rows B + 7 apart
        out, dx, dgamma, dbeta, running_mean = run(x, dout)
        np.testing.assert_allclose(out, twice[0][:1], rtol=0, atol=tol * float(np.abs(twice[0]).max()))
        np.testing.assert_allclose(dx, twice[1][:1], rtol=0, atol=tol * float(np.abs(twice[1]).max()))
        np.testing.assert_allclose(2 * dgamma, twice[2], rtol=0, atol=tol * float(np.abs(twice[2]).max()))
        np.testing.assert_allclose(2 * dbeta, twice[3], rtol=0, atol=tol * float(np.abs(twice[3]).max()))
        np.testing.assert_allclose(running_mean, twice[4], rtol=0, atol=tol * float(np.abs(twice[4]).max()))


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-5)])
@pytest.mark.parametrize("train", [True, False])
def test_fast_batchnorm_on_a_block_matches_the_reference(dtype, tol, train, rng):
    """Training, and an eval pass (whose backward rebuilds x_hat from the input it kept)."""
    N, C, H, W = 50, 6, 9, 9
    x = from_block((rng.standard_normal((C, H, W, N)) * 2 + 3).astype(dtype))
    dout = rng.standard_normal((N, C, H, W)).astype(dtype)
    gamma, beta = np.linspace(0.5, 2, C).astype(dtype), np.linspace(-1, 1, C).astype(dtype)
    got, expected = [], []
    for impl, into in ((bn_kernel, got), (bn_reference, expected)):
        rm, rv = np.linspace(-1, 2, C).astype(dtype), np.linspace(0.5, 4, C).astype(dtype)
        out, cache = impl.batchnorm_forward(x, gamma, beta, rm, rv, eps=1e-5, momentum=0.1, train=train)
        into.extend([out, *impl.batchnorm_backward(dout, cache), rm, rv])
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=0, atol=tol * max(1.0, float(np.abs(e).max())))


@pytest.mark.parametrize("kernel, padding", [((3, 3), (1, 1)), ((3, 3), (0, 0)), ((2, 3), (1, 0)), ((3, 2), (0, 1))])
@pytest.mark.parametrize("train", [True, False])
def test_stride1_max_pool_in_two_passes_matches_the_reference_with_ties(kernel, padding, train, rng):
    """Row maxima, then their maxima: the same maxima and, with many ties (small integers), the same
    first-maximum offsets in row-major window order, so the same gradient; also backward after an eval pass."""
    from trainlab.kernels import pool as pool_kernel
    from trainlab.layers import pooling as pool_reference

    x = from_block(rng.integers(-2, 3, (3, 7, 8, 5)).astype(np.float64))  # (N, C, H, W) view of a CHWN block
    assert pool_kernel._shared_rows(kernel, (1, 1))
    results = []
    for impl in (pool_kernel, pool_reference):
        out, cache = impl.max_pool2d_forward(x, kernel, (1, 1), padding, train=train)
        dout = np.arange(out.size, dtype=np.float64).reshape(out.shape) % 7 + 1
        results.append((np.ascontiguousarray(out), np.ascontiguousarray(impl.max_pool2d_backward(dout, cache))))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
