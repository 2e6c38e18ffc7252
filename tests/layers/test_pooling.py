"""MaxPool2d, AvgPool2d, GlobalAvgPool2d: gradients, PyTorch semantics (padding, ties), layouts, errors."""

import numpy as np
import pytest

from trainlab.errors import ConfigError, DTypeError, ShapeError
from trainlab.gradcheck import check_layer_gradients
from trainlab.layers import AvgPool2d, GlobalAvgPool2d, Layer, MaxPool2d, Sequential, layer_from_spec, layer_to_spec
from trainlab.kernels.layout import block_view, from_block, is_chwn

BOTH = pytest.mark.parametrize("kernel_implementation", ["reference", "fast"], indirect=True)

TOL = 1e-6

# (kernel, stride, padding, input shape)
CONFIGS = {
    "2x2": (2, None, 0, (2, 3, 6, 6)),
    "2x2-odd-input": (2, None, 0, (2, 2, 7, 5)),
    "3x3-s2-p1": (3, 2, 1, (2, 2, 7, 7)),
    "3x3-s1-p1": (3, 1, 1, (2, 2, 5, 5)),
    "non-square": ((3, 2), (2, 1), (1, 0), (2, 2, 6, 5)),
    "stride-gt-kernel": (2, 3, 0, (1, 2, 8, 8)),
}


def distinct(shape, rng):
    """Values all different and well separated, so max pooling has no ties and no kinks nearby."""
    return rng.permutation(np.prod(shape)).reshape(shape) * 0.1 + rng.uniform(0, 0.01, shape)


def chwn(x):
    """The same array stored as a (C, H, W, N) block, the layout convolutions return."""
    return from_block(np.ascontiguousarray(block_view(x)))


class ToCHWN(Layer):
    """Identity that re-stores its input as a (C, H, W, N) block. (The gradient check perturbs
    its input in place through a reshape, so the input it is given must stay C-contiguous.)"""

    def forward(self, x, *, train):
        return chwn(x)

    def backward(self, dout):
        return dout


def with_layout(layer, layout):
    return Sequential(ToCHWN(), layer) if layout == "chwn" else layer


@BOTH
@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("cls", [MaxPool2d, AvgPool2d])
@pytest.mark.parametrize("layout", ["nchw", "chwn"])
def test_pool_gradients(name, cls, layout, rng):
    k, s, p, shape = CONFIGS[name]
    x = distinct(shape, rng)
    for train in (True, False):
        errors = check_layer_gradients(with_layout(cls(k, s, p), layout), x, train=train)
        assert errors["input"] < TOL, f"{name} train={train}: {errors['input']:.2e}"


@BOTH
@pytest.mark.parametrize("keepdim", [False, True])
def test_global_avg_pool(keepdim, rng):
    x = rng.standard_normal((3, 4, 5, 2))
    layer = GlobalAvgPool2d(keepdim)
    y = layer.forward(x, train=True)
    assert y.shape == ((3, 4, 1, 1) if keepdim else (3, 4))
    np.testing.assert_allclose(y.reshape(3, 4), x.mean(axis=(2, 3)))
    assert check_layer_gradients(layer, x)["input"] < TOL
    assert check_layer_gradients(with_layout(layer, "chwn"), x)["input"] < TOL


@BOTH
@pytest.mark.parametrize("cls", [MaxPool2d, AvgPool2d])
def test_output_keeps_the_input_layout(cls, rng, kernel_implementation):
    x = rng.standard_normal((4, 3, 6, 6)).astype(np.float32)
    a = cls(2).forward(x, train=True)
    b = cls(2).forward(chwn(x), train=True)
    np.testing.assert_array_equal(a, b)
    if kernel_implementation == "fast":
        assert is_chwn(a) and is_chwn(b)  # fast pools return (C, H, W, N)-stored arrays, like convolutions


@BOTH
def test_max_pool_ties_go_to_the_first_maximum():
    x = np.array([[[[1.0, 3.0], [3.0, 3.0]]]])  # three equal maxima in one window
    layer = MaxPool2d(2)
    assert layer.forward(x, train=True)[0, 0, 0, 0] == 3.0
    np.testing.assert_array_equal(layer.backward(np.ones((1, 1, 1, 1)))[0, 0], [[0, 1], [0, 0]])


@BOTH
def test_max_pool_padding_is_minus_infinity_and_avg_counts_padding():
    x = -np.ones((1, 1, 2, 2))
    assert (MaxPool2d(2, 2, 1).forward(x, train=True) == -1).all()  # padding never wins
    np.testing.assert_allclose(AvgPool2d(2, 2, 1).forward(x, train=True), -0.25)  # 1 of 4 values is real


@BOTH
def test_backward_after_eval_forward(rng):
    x = distinct((2, 2, 4, 4), rng)
    a, b = MaxPool2d(2), MaxPool2d(2)
    y = a.forward(x, train=False)
    np.testing.assert_array_equal(y, b.forward(x, train=True))
    dout = rng.standard_normal(y.shape)
    np.testing.assert_array_equal(a.backward(dout), b.backward(dout))


@pytest.mark.parametrize("cls", [MaxPool2d, AvgPool2d])
def test_config_round_trip(cls):
    layer = cls((3, 2), (2, 1), (1, 0))
    clone = layer_from_spec(layer_to_spec(layer))
    assert clone.get_config() == layer.get_config() == {"kernel_size": [3, 2], "stride": [2, 1], "padding": [1, 0]}
    assert cls(3).stride == (3, 3)  # stride defaults to the kernel size


def test_errors():
    with pytest.raises(ConfigError, match="at most half"):
        MaxPool2d(2, padding=2)
    with pytest.raises(ConfigError):
        AvgPool2d(0)
    with pytest.raises(ShapeError, match=r"MaxPool2d: kernel 3x3 is larger than the padded input 2x2"):
        MaxPool2d(3).forward(np.zeros((1, 1, 2, 2), np.float32), train=False)
    with pytest.raises(ShapeError, match="4-D"):
        AvgPool2d(2).forward(np.zeros((4, 4), np.float32), train=False)
    with pytest.raises(DTypeError, match="floating"):
        MaxPool2d(2).forward(np.zeros((1, 1, 4, 4), np.int64), train=False)


# ---- parity with PyTorch ------------------------------------------------------------


@BOTH
@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("dtype, atol", [(np.float64, 1e-12), (np.float32, 1e-6)])
def test_matches_torch(name, kind, dtype, atol, rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    k, s, p, shape = CONFIGS[name]
    # Rounded values: max-pool windows hold ties, which both must send to the first maximum.
    x = np.round(rng.standard_normal(shape) * 2).astype(dtype)
    layer = (MaxPool2d if kind == "max" else AvgPool2d)(k, s, p)
    fn = F.max_pool2d if kind == "max" else F.avg_pool2d
    y = layer.forward(x, train=True)
    dout = rng.standard_normal(y.shape).astype(dtype)
    xt = torch.tensor(x, requires_grad=True)
    yt = fn(xt, k, s if s is not None else k, p)
    yt.backward(torch.tensor(dout))
    np.testing.assert_allclose(y, yt.detach().numpy(), atol=atol)
    np.testing.assert_allclose(layer.backward(dout), xt.grad.numpy(), atol=atol)
