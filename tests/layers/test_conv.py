"""Conv2d: gradient checks, parity with torch.nn.functional.conv2d, layout, folding, clear errors."""

import numpy as np
import pytest

from trainlab import threads
from trainlab.errors import ConfigError, DTypeError, ShapeError
from trainlab.folding import fold_batchnorm
from trainlab.gradcheck import check_layer_gradients
from trainlab.layers import BatchNorm2d, Conv2d, ReLU, Sequential, col2im, im2col, layer_from_spec, layer_to_spec
from trainlab.layers import conv as conv_module
from trainlab.layers.conv import block_view, from_block, is_chwn

TOL = 1e-6

# (N, C, H, W, FN, kernel, stride, padding, bias)
CASES = {
    "3x3-pad1": (2, 3, 5, 5, 4, 3, 1, 1, True),
    "5x5-valid": (2, 2, 7, 6, 3, 5, 1, 0, True),
    "stride2-odd": (2, 2, 7, 7, 3, 3, 2, 1, True),
    "non-square": (2, 2, 7, 6, 3, (3, 2), (2, 1), (1, 0), True),
    "pointwise": (3, 4, 3, 4, 2, 1, 1, 0, True),
    "pointwise-stride2": (2, 3, 5, 5, 2, 1, 2, 0, True),
    "pad-wider-than-kernel": (2, 2, 4, 4, 2, 1, 1, 1, True),
    "kernel2-stride2-nobias": (2, 3, 6, 6, 4, 2, 2, 0, False),
    "pad2": (2, 2, 4, 4, 3, 3, 1, 2, False),
    "non-square-stride1": (3, 2, 7, 6, 3, (3, 2), 1, (2, 1), True),
}


def make(name, rng, **kw):
    N, C, H, W, FN, k, s, p, bias = CASES[name]
    conv = Conv2d(C, FN, k, s, p, bias, rng=rng, dtype=np.float64, **kw)
    if bias:
        conv.bias.data[:] = rng.standard_normal(FN)
    return conv, rng.standard_normal((N, C, H, W))


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("train", [True, False])
def test_conv_gradients(name, train, rng):
    conv, x = make(name, rng)
    errors = check_layer_gradients(conv, x, train=train)
    assert set(errors) == {"input", *[n for n, _ in conv.named_parameters()]}
    for key, err in errors.items():
        assert err < TOL, f"{name}: {key} relative error {err:.2e}"


def test_gradients_through_stacked_convolutions_and_batchnorm(rng):
    """The second layer reads the first one's (C, H, W, N)-stored output; BatchNorm2d after a conv."""
    bn = BatchNorm2d(3, dtype=np.float64)
    bn.weight.data[:] = rng.uniform(0.5, 1.5, 3)
    bn.bias.data[:] = rng.standard_normal(3)
    net = Sequential(Conv2d(2, 3, 3, padding=1, rng=rng, dtype=np.float64), bn, ReLU(),
                     Conv2d(3, 2, 3, stride=2, padding=1, rng=rng, dtype=np.float64))
    x = rng.standard_normal((3, 2, 5, 5))
    for key, err in check_layer_gradients(net, x).items():
        if key == "0.bias":
            continue  # zero in exact arithmetic: the difference quotient is pure rounding noise, checked below
        assert err < TOL, key
    # BatchNorm removes any per-channel shift, so the first conv's bias has no gradient at all.
    y = net.forward(x, train=True)
    net.backward(rng.standard_normal(y.shape))
    assert np.abs(net.layers[0].bias.grad).max() < 1e-12


ROW_BLOCK_CASES = ["3x3-pad1", "5x5-valid", "pad2", "non-square-stride1"]


@pytest.mark.parametrize("name", ROW_BLOCK_CASES)
@pytest.mark.parametrize("block_values", [1, 2 * 3 * 6 * 3, 10**9])  # one row per block, uneven blocks, one block
def test_row_blocks_match_the_whole_columns_matrix(name, block_values, rng, monkeypatch):
    """Training passes in blocks of output rows give the one-product results of the eval path."""
    conv, x = make(name, rng)
    assert conv._uses_row_blocks()
    reference = conv.forward(x, train=False)  # whole columns matrix, kept for backward
    dout = rng.standard_normal(reference.shape)
    dx_ref = conv.backward(dout)
    grads_ref = {n: p.grad.copy() for n, p in conv.named_parameters()}
    monkeypatch.setattr(conv_module, "ROW_BLOCK_VALUES", block_values)
    out = conv.forward(x, train=True)
    np.testing.assert_allclose(out, reference, atol=1e-12)
    assert is_chwn(out)
    np.testing.assert_allclose(conv.backward(dout), dx_ref, atol=1e-12)
    for n, p in conv.named_parameters():
        np.testing.assert_allclose(p.grad, grads_ref[n], atol=1e-12, err_msg=n)


def test_row_blocks_off_builds_the_whole_columns_matrix(rng, monkeypatch):
    conv, x = make("3x3-pad1", rng)
    with_blocks = conv.forward(x, train=True)
    monkeypatch.setattr(conv_module, "ROW_BLOCK_VALUES", 0)
    assert not conv._uses_row_blocks()
    np.testing.assert_allclose(conv.forward(x, train=True), with_blocks, atol=1e-12)
    assert conv._col is not None and conv._block is None


@pytest.mark.parametrize("name", ROW_BLOCK_CASES)
def test_row_block_gradients_with_one_row_per_block(name, rng, monkeypatch):
    monkeypatch.setattr(conv_module, "ROW_BLOCK_VALUES", 1)
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


def test_without_input_grad_backward_returns_none_and_same_weight_grads(rng):
    a, x = make("3x3-pad1", np.random.default_rng(0))
    b, _ = make("3x3-pad1", np.random.default_rng(0), input_grad=False)
    dout = rng.standard_normal(a.forward(x, train=True).shape)
    b.forward(x, train=True)
    assert a.backward(dout) is not None
    assert b.backward(dout) is None
    np.testing.assert_allclose(b.weight.grad, a.weight.grad)
    np.testing.assert_allclose(b.bias.grad, a.bias.grad)


def test_output_is_nchw_stored_as_chwn_block(rng):
    conv, x = make("3x3-pad1", rng)
    y = conv.forward(x, train=True)
    assert y.shape == (2, 4, 5, 5) and is_chwn(y)
    np.testing.assert_array_equal(np.ascontiguousarray(y), y)
    # Any input layout gives the same result.
    np.testing.assert_allclose(conv.forward(from_block(np.ascontiguousarray(block_view(x))), train=True), y)
    np.testing.assert_allclose(conv.forward(np.asfortranarray(x), train=True), y)


def test_chunked_eval_matches_one_pass(rng, monkeypatch):
    conv, x = make("stride2-odd", rng)
    x = rng.standard_normal((9, 2, 7, 7))
    whole = conv.forward(x, train=False)
    monkeypatch.setattr(conv_module, "EVAL_COL_LIMIT", 2 * 9 * 16)  # two samples' columns per chunk
    np.testing.assert_allclose(conv.forward(x, train=False), whole, atol=1e-12)
    with pytest.raises(RuntimeError, match="train=True"):
        conv.backward(np.ones_like(whole))


@pytest.mark.parametrize("name", ROW_BLOCK_CASES)
@pytest.mark.parametrize("block_values", [1, 200, 10**9])  # one sample and row per block, a few samples, all
@pytest.mark.parametrize("n_threads", [1, 3])
def test_chunked_eval_in_row_blocks_matches_one_pass(name, block_values, n_threads, rng, monkeypatch):
    """A large eval batch of a stride-1 convolution goes through row blocks, in chunks of samples."""
    conv, x = make(name, rng)
    x = rng.standard_normal((7,) + x.shape[1:])
    whole = conv.forward(x, train=False)
    monkeypatch.setattr(conv_module, "EVAL_COL_LIMIT", 1)  # every batch counts as large
    monkeypatch.setattr(conv_module, "ROW_BLOCK_VALUES", block_values)
    with threads.use_threads(n_threads), threads.blas_on_one_thread():
        out = conv.forward(x, train=False)
    np.testing.assert_allclose(out, whole, atol=1e-12)
    assert is_chwn(out)
    with pytest.raises(RuntimeError, match="train=True"):  # nothing was kept for backward
        conv.backward(np.ones_like(whole))


@pytest.mark.parametrize("stride, padding", [((1, 1), (1, 1)), ((2, 1), (0, 2)), ((2, 2), (1, 0))])
def test_col2im_is_the_adjoint_of_im2col(stride, padding, rng):
    x = rng.standard_normal((2, 3, 5, 6))
    col = im2col(x, 3, 2, stride, padding)
    y = rng.standard_normal(col.shape)
    assert np.sum(col * y) == pytest.approx(np.sum(x * col2im(y, x.shape, 3, 2, stride, padding)), rel=1e-12)


def test_im2col_rows_are_kernel_taps():
    x = np.arange(2 * 1 * 3 * 3, dtype=np.float64).reshape(2, 1, 3, 3)
    col = im2col(x, 2, 2)  # (C*FH*FW, OH*OW*N) = (4, 2*2*2)
    # Tap (0, 0) of output (oh=0, ow=1) for both samples: x[n, 0, 0, 1].
    np.testing.assert_array_equal(col.reshape(4, 2, 2, 2)[0, 0, 1], x[:, 0, 0, 1])
    np.testing.assert_array_equal(col.reshape(4, 2, 2, 2)[3, 1, 1], x[:, 0, 2, 2])


def test_conv_batchnorm_folding_matches_eval_output(rng):
    for bias in (True, False):
        net = Sequential(Conv2d(2, 4, 3, padding=1, bias=bias, rng=rng), BatchNorm2d(4), ReLU(),
                         Conv2d(4, 3, 3, rng=rng), BatchNorm2d(3))
        x = rng.standard_normal((8, 2, 6, 6)).astype(np.float32)
        for _ in range(4):
            net.forward(x * 2 + 1, train=True)
        for layer in net.layers:
            if isinstance(layer, BatchNorm2d):
                layer.weight.data[:] = rng.uniform(0.5, 2, layer.num_features)
                layer.bias.data[:] = rng.standard_normal(layer.num_features)
        folded = fold_batchnorm(net)
        assert [type(m).__name__ for m in folded.layers] == ["Conv2d", "ReLU", "Conv2d"]
        np.testing.assert_allclose(folded.forward(x, train=False), net.forward(x, train=False), atol=1e-5)


def test_config_round_trip(rng):
    conv = Conv2d(3, 5, (3, 1), stride=(2, 1), padding=(1, 0), bias=False, input_grad=False, rng=rng)
    clone = layer_from_spec(layer_to_spec(conv))
    assert clone.get_config() == conv.get_config()
    assert clone.weight.shape == (5, 3, 3, 1) and clone.bias is None


def test_parameters_and_init():
    conv = Conv2d(16, 32, 3, rng=np.random.default_rng(0))
    assert conv.weight.shape == (32, 16, 3, 3) and conv.weight.dtype == np.float32
    assert conv.weight.decay and not conv.bias.decay
    assert conv.weight.data.std() == pytest.approx(np.sqrt(2 / (16 * 9)), rel=0.05)  # He, fan_in = C*FH*FW
    np.testing.assert_array_equal(conv.bias.data, 0)


# ---- clear errors ----------------------------------------------------------------


def test_kernel_larger_than_padded_input():
    with pytest.raises(ShapeError, match=r"Conv2d.*kernel height 5 is larger than the padded input height 4"):
        Conv2d(1, 2, 5, padding=1).forward(np.zeros((1, 1, 2, 9), np.float32), train=False)


def test_channel_mismatch_names_the_layer():
    net = Sequential(Conv2d(1, 4, 3), ReLU(), Conv2d(3, 2, 3))
    with pytest.raises(ShapeError, match=r"Conv2d at '2': expected 3 input channels.*\(2, 4, 6, 6\)"):
        net.forward(np.zeros((2, 1, 8, 8), np.float32), train=False)


def test_fractional_output_size_states_the_numbers():
    with pytest.raises(ShapeError) as info:
        Conv2d(1, 2, 3, stride=2, padding=1).forward(np.zeros((1, 1, 28, 28), np.float32), train=False)
    msg = str(info.value)
    assert "28" in msg and "27" in msg and "stride 2" in msg and "14.5" in msg


def test_wrong_ndim_and_dtype():
    conv = Conv2d(1, 2, 3)
    with pytest.raises(ShapeError, match="4-D"):
        conv.forward(np.zeros((1, 28, 28), np.float32), train=False)
    with pytest.raises(DTypeError, match="float64"):
        conv.forward(np.zeros((1, 1, 5, 5)), train=False)
    with pytest.raises(DTypeError, match="uint8"):
        conv.forward(np.zeros((1, 1, 5, 5), np.uint8), train=False)


@pytest.mark.parametrize("kwargs", [
    {"kernel_size": 0}, {"stride": 0}, {"padding": -1}, {"kernel_size": (3, 3, 3)}, {"kernel_size": 2.5},
    {"in_channels": 0}, {"out_channels": True},
])
def test_bad_configuration(kwargs):
    args = {"in_channels": 1, "out_channels": 2, "kernel_size": 3, **kwargs}
    with pytest.raises(ConfigError):
        Conv2d(**args)


# ---- parity with PyTorch ------------------------------------------------------------


@pytest.mark.parametrize("name", ["3x3-pad1", "stride2-odd", "non-square", "pointwise-stride2", "pad2"])
@pytest.mark.parametrize("dtype, atol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_matches_torch_conv2d(name, dtype, atol, rng):
    torch = pytest.importorskip("torch")
    conv, x = make(name, rng)
    conv.astype(dtype)
    x = x.astype(dtype)
    y = conv.forward(x, train=True)
    dout = rng.standard_normal(y.shape).astype(dtype)
    dx = conv.backward(dout)
    xt = torch.tensor(x, requires_grad=True)
    Wt = torch.tensor(conv.weight.data, requires_grad=True)
    bt = torch.tensor(conv.bias.data, requires_grad=True) if conv.bias is not None else None
    yt = torch.nn.functional.conv2d(xt, Wt, bt, stride=conv.stride, padding=conv.padding)
    yt.backward(torch.tensor(dout))
    np.testing.assert_allclose(y, yt.detach().numpy(), atol=atol)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=atol)
    np.testing.assert_allclose(conv.weight.grad, Wt.grad.numpy(), atol=atol * 10)
    if bt is not None:
        np.testing.assert_allclose(conv.bias.grad, bt.grad.numpy(), atol=atol * 10)


def test_conv_then_batchnorm2d_matches_torch(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    conv = Conv2d(2, 3, 3, padding=1, rng=rng, dtype=np.float64)
    bn = BatchNorm2d(3, dtype=np.float64)
    x = rng.standard_normal((4, 2, 5, 5))
    y = bn.forward(conv.forward(x, train=True), train=True)  # BatchNorm2d on a (C, H, W, N)-stored input
    dout = rng.standard_normal(y.shape)
    dx = conv.backward(bn.backward(dout))
    xt = torch.tensor(x, requires_grad=True)
    z = F.conv2d(xt, torch.tensor(conv.weight.data), torch.tensor(conv.bias.data), padding=1)
    yt = F.batch_norm(z, torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64),
                      torch.ones(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64), training=True)
    yt.backward(torch.tensor(dout))
    np.testing.assert_allclose(y, yt.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-10)


def test_batchnorm2d_follows_its_input_storage(rng):
    """Same numbers for a row-major input and a (C, H, W, N)-stored one; the output keeps the input's storage."""
    from trainlab.layers.conv import block_view, from_block, is_chwn

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
