"""The fast convolution's own machinery: row blocks, (C, H, W, N) storage, eval chunks, work arrays."""

import numpy as np
import pytest

from trainlab import kernels
from trainlab.gradcheck import check_layer_gradients
from trainlab.kernels import conv as fast_conv
from trainlab.kernels import scratch
from trainlab.kernels.layout import block_view, from_block, is_chwn
from trainlab.layers import BatchNorm2d, Conv2d
from trainlab.process import runtime

TOL = 1e-6

# name: (N, C, H, W, FN, kernel, stride, padding, bias); the stride-1 cases that run in row blocks
ROW_BLOCK_CASES = {
    "3x3-pad1": (2, 3, 5, 5, 4, 3, 1, 1, True),
    "5x5-valid": (2, 2, 7, 6, 3, 5, 1, 0, True),
    "pad2": (2, 2, 4, 4, 3, 3, 1, 2, False),
    "non-square-stride1": (3, 2, 7, 6, 3, (3, 2), 1, (2, 1), True),
}


@pytest.fixture(autouse=True)
def fast_kernels():
    with kernels.using("fast"):
        yield


def make(name, rng, **kw):
    N, C, H, W, FN, k, s, p, bias = ROW_BLOCK_CASES[name]
    conv = Conv2d(C, FN, k, s, p, bias, rng=rng, dtype=np.float64, **kw)
    if bias:
        conv.bias.data[:] = rng.standard_normal(FN)
    return conv, rng.standard_normal((N, C, H, W))


@pytest.mark.parametrize("name", sorted(ROW_BLOCK_CASES))
@pytest.mark.parametrize("block_values", [1, 2 * 3 * 6 * 3, 10**9])  # one row per block, uneven blocks, one block
def test_row_blocks_match_the_whole_columns_matrix(name, block_values, rng, monkeypatch):
    """Training passes in blocks of output rows give the one-product results of the eval path."""
    conv, x = make(name, rng)
    assert fast_conv._row_blocks_apply(conv.weight.data, conv.stride, conv.padding)
    whole = conv.forward(x, train=False)  # whole columns matrix, kept for backward
    dout = rng.standard_normal(whole.shape)
    dx_whole = conv.backward(dout)
    grads_whole = {n: p.grad.copy() for n, p in conv.named_parameters()}
    monkeypatch.setattr(fast_conv, "ROW_BLOCK_VALUES", block_values)
    out = conv.forward(x, train=True)
    assert conv._cache.block is not None and conv._cache.col is None
    np.testing.assert_allclose(out, whole, atol=1e-12)
    assert is_chwn(out)
    np.testing.assert_allclose(conv.backward(dout), dx_whole, atol=1e-12)
    for n, p in conv.named_parameters():
        np.testing.assert_allclose(p.grad, grads_whole[n], atol=1e-12, err_msg=n)


def test_row_blocks_off_builds_the_whole_columns_matrix(rng, monkeypatch):
    conv, x = make("3x3-pad1", rng)
    with_blocks = conv.forward(x, train=True)
    monkeypatch.setattr(fast_conv, "ROW_BLOCK_VALUES", 0)
    assert not fast_conv._row_blocks_apply(conv.weight.data, conv.stride, conv.padding)
    np.testing.assert_allclose(conv.forward(x, train=True), with_blocks, atol=1e-12)
    assert conv._cache.col is not None and conv._cache.block is None


@pytest.mark.parametrize("name", sorted(ROW_BLOCK_CASES))
def test_row_block_gradients_with_one_row_per_block(name, rng, monkeypatch):
    monkeypatch.setattr(fast_conv, "ROW_BLOCK_VALUES", 1)
    conv, x = make(name, rng)
    for key, err in check_layer_gradients(conv, x, train=True).items():
        assert err < TOL, f"{name}: {key} relative error {err:.2e}"


def test_row_block_backward_does_not_read_the_callers_input(rng):
    """The input is copied at forward time: changing the caller's array before backward changes nothing."""
    conv, x = make("5x5-valid", rng)  # no padding: the copy is the only thing that protects it
    dout = rng.standard_normal(conv.forward(x, train=True).shape)
    conv.backward(dout)
    expected = conv.weight.grad.copy()
    conv.forward(x, train=True)
    x[:] = 0.0
    conv.backward(dout)
    np.testing.assert_array_equal(conv.weight.grad, expected)


def test_output_is_nchw_stored_as_chwn_block(rng):
    conv, x = make("3x3-pad1", rng)
    y = conv.forward(x, train=True)
    assert y.shape == (2, 4, 5, 5) and is_chwn(y)
    np.testing.assert_array_equal(np.ascontiguousarray(y), y)
    # Any input layout gives the same result.
    np.testing.assert_allclose(conv.forward(from_block(np.ascontiguousarray(block_view(x))), train=True), y)
    np.testing.assert_allclose(conv.forward(np.asfortranarray(x), train=True), y)


def test_chunked_eval_matches_one_pass(rng, monkeypatch):
    conv = Conv2d(2, 3, 3, 2, 1, rng=rng, dtype=np.float64)
    x = rng.standard_normal((9, 2, 7, 7))
    whole = conv.forward(x, train=False)
    monkeypatch.setattr(fast_conv, "EVAL_COL_LIMIT", 2 * 9 * 16)  # two samples' columns per chunk
    np.testing.assert_allclose(conv.forward(x, train=False), whole, atol=1e-12)
    with pytest.raises(RuntimeError, match="train=True"):
        conv.backward(np.ones_like(whole))


@pytest.mark.parametrize("name", sorted(ROW_BLOCK_CASES))
@pytest.mark.parametrize("block_values", [1, 200, 10**9])  # one sample and row per block, a few samples, all
@pytest.mark.parametrize("n_threads", [1, 3])
def test_chunked_eval_in_row_blocks_matches_one_pass(name, block_values, n_threads, rng, monkeypatch):
    """A large eval batch of a stride-1 convolution goes through row blocks, in chunks of samples."""
    conv, x = make(name, rng)
    x = rng.standard_normal((7,) + x.shape[1:])
    whole = conv.forward(x, train=False)
    monkeypatch.setattr(fast_conv, "EVAL_COL_LIMIT", 1)  # every batch counts as large
    monkeypatch.setattr(fast_conv, "EVAL_WHOLE_ROW_VALUES", 0)  # and as too long-rowed for the whole batch
    monkeypatch.setattr(fast_conv, "ROW_BLOCK_VALUES", block_values)
    with runtime(threads=n_threads):
        out = conv.forward(x, train=False)
    np.testing.assert_allclose(out, whole, atol=1e-12)
    assert is_chwn(out)
    with pytest.raises(RuntimeError, match="train=True"):  # nothing was kept for backward
        conv.backward(np.ones_like(whole))


@pytest.mark.parametrize("n_threads", [1, 3])
def test_short_rowed_eval_batch_runs_as_training_does_and_keeps_what_backward_needs(n_threads, rng, monkeypatch):
    """An eval batch whose output rows are short runs in row blocks of the whole batch, like training."""
    conv, x = make("3x3-pad1", rng)
    x = rng.standard_normal((7,) + x.shape[1:])
    monkeypatch.setattr(fast_conv, "EVAL_COL_LIMIT", 1)  # not the small-batch columns path
    monkeypatch.setattr(fast_conv, "ROW_BLOCK_VALUES", 200)  # several blocks
    with runtime(threads=n_threads):
        trained = conv.forward(x, train=True)
        dx_train = conv.backward(np.ones_like(trained))
        evaluated = conv.forward(x, train=False)
        assert conv._cache is not None and conv._cache.block is not None
        dx_eval = conv.backward(np.ones_like(evaluated))
    np.testing.assert_allclose(evaluated, trained, atol=1e-12)
    np.testing.assert_allclose(dx_eval, dx_train, atol=1e-12)
    assert is_chwn(evaluated)


def test_fast_im2col_rows_are_kernel_taps():
    x = np.arange(2 * 1 * 3 * 3, dtype=np.float64).reshape(2, 1, 3, 3)
    col = fast_conv.im2col(x, 2, 2)  # (C*FH*FW, OH*OW*N) = (4, 2*2*2)
    # Tap (0, 0) of output (oh=0, ow=1) for both samples: x[n, 0, 0, 1].
    np.testing.assert_array_equal(col.reshape(4, 2, 2, 2)[0, 0, 1], x[:, 0, 0, 1])
    np.testing.assert_array_equal(col.reshape(4, 2, 2, 2)[3, 1, 1], x[:, 0, 2, 2])


@pytest.mark.parametrize("stride, padding", [((1, 1), (1, 1)), ((2, 1), (0, 2)), ((2, 2), (1, 0))])
def test_fast_col2im_is_the_adjoint_of_fast_im2col(stride, padding, rng):
    x = rng.standard_normal((2, 3, 5, 6))
    col = fast_conv.im2col(x, 3, 2, stride, padding)
    y = rng.standard_normal(col.shape)
    got = np.sum(x * fast_conv.col2im(y, x.shape, 3, 2, stride, padding))
    assert np.sum(col * y) == pytest.approx(got, rel=1e-12)


def test_work_arrays_are_given_back_and_reused(rng):
    conv, x = make("3x3-pad1", rng)
    scratch.clear()
    dout = rng.standard_normal(conv.forward(x, train=True).shape)
    conv.backward(dout)
    kept = scratch.kept_bytes()
    assert kept > 0  # the row blocks' work arrays and the padded gradient came back
    for _ in range(3):
        conv.forward(x, train=True)
        conv.backward(dout)
    assert scratch.kept_bytes() == kept  # taken again, not allocated anew


def test_batchnorm2d_follows_its_input_storage(rng):
    """Same numbers for a row-major input and a (C, H, W, N)-stored one; the output keeps the input's storage."""
    x = rng.standard_normal((4, 3, 5, 6))
    x_chwn = from_block(np.ascontiguousarray(block_view(x)))
    dout = rng.standard_normal(x.shape)
    results = []
    for inp in (x, x_chwn):
        bn = BatchNorm2d(3, dtype=np.float64)
        bn.weight.data[:] = [0.5, 1.0, 2.0]
        y = bn.forward(inp, train=True)
        assert is_chwn(y) == is_chwn(inp)
        dx = bn.backward(dout)
        results.append((y, dx, bn.weight.grad, bn._buffers["running_var"].copy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
