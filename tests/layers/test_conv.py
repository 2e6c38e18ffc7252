"""Conv2d (reference kernels): gradient checks, parity with torch.nn.functional.conv2d, folding, clear errors."""

import numpy as np
import pytest

from trainlab.errors import ConfigError, DTypeError, ShapeError
from trainlab.folding import fold_batchnorm
from trainlab.gradcheck import check_layer_gradients
from trainlab.layers import BatchNorm2d, Conv2d, ReLU, Sequential, col2im, im2col, layer_from_spec, layer_to_spec

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
    """Two convolutions with BatchNorm2d between them."""
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


def test_without_input_grad_backward_returns_none_and_same_weight_grads(rng):
    a, x = make("3x3-pad1", np.random.default_rng(0))
    b, _ = make("3x3-pad1", np.random.default_rng(0), input_grad=False)
    dout = rng.standard_normal(a.forward(x, train=True).shape)
    b.forward(x, train=True)
    assert a.backward(dout) is not None
    assert b.backward(dout) is None
    np.testing.assert_allclose(b.weight.grad, a.weight.grad)
    np.testing.assert_allclose(b.bias.grad, a.bias.grad)


@pytest.mark.parametrize("stride, padding", [((1, 1), (1, 1)), ((2, 1), (0, 2)), ((2, 2), (1, 0))])
def test_col2im_is_the_adjoint_of_im2col(stride, padding, rng):
    x = rng.standard_normal((2, 3, 5, 6))
    col = im2col(x, 3, 2, stride, padding)
    y = rng.standard_normal(col.shape)
    assert np.sum(col * y) == pytest.approx(np.sum(x * col2im(y, x.shape, 3, 2, stride, padding)), rel=1e-12)


def test_im2col_rows_are_receptive_fields():
    x = np.arange(2 * 1 * 3 * 3, dtype=np.float64).reshape(2, 1, 3, 3)
    col = im2col(x, 2, 2)  # (N*OH*OW, C*FH*FW) = (2*2*2, 4)
    assert col.shape == (8, 4)
    # Row (n=0, oh=0, ow=1) is the 2x2 window at rows 0-1, columns 1-2 of sample 0.
    np.testing.assert_array_equal(col[1], x[0, 0, 0:2, 1:3].reshape(-1))
    np.testing.assert_array_equal(col[7], x[1, 0, 1:3, 1:3].reshape(-1))


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


@pytest.mark.parametrize("kernel_implementation", ["reference", "fast"], indirect=True)
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


@pytest.mark.parametrize("kernel_implementation", ["reference", "fast"], indirect=True)
def test_conv_then_batchnorm2d_matches_torch(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    conv = Conv2d(2, 3, 3, padding=1, rng=rng, dtype=np.float64)
    bn = BatchNorm2d(3, dtype=np.float64)
    x = rng.standard_normal((4, 2, 5, 5))
    y = bn.forward(conv.forward(x, train=True), train=True)
    dout = rng.standard_normal(y.shape)
    dx = conv.backward(bn.backward(dout))
    xt = torch.tensor(x, requires_grad=True)
    z = F.conv2d(xt, torch.tensor(conv.weight.data), torch.tensor(conv.bias.data), padding=1)
    yt = F.batch_norm(z, torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64),
                      torch.ones(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64), training=True)
    yt.backward(torch.tensor(dout))
    np.testing.assert_allclose(y, yt.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-10)


