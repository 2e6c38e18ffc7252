"""Central-difference gradient checks (float64) of every layer and loss, input and parameters."""

import numpy as np
import pytest

from trainlab.gradcheck import check_layer_gradients, check_loss_gradient
from trainlab.layers import (
    BatchNorm1d, BatchNorm2d, CrossEntropyLoss, Dropout, Flatten, LeakyReLU, Linear, MSELoss, ReLU,
    Sequential, Sigmoid, Softmax, Tanh,
)
from trainlab.models import MultiLayerNet

TOL = 1e-6


def f64(layer):
    return layer.astype(np.float64)


def make(name, rng):
    """(layer, input) for each case; inputs avoid ReLU kinks by being continuous random draws."""
    cases = {
        "linear": (Linear(5, 4, rng=rng, dtype=np.float64), (6, 5)),
        "linear-nobias": (Linear(5, 4, bias=False, rng=rng, dtype=np.float64), (6, 5)),
        "relu": (ReLU(), (4, 7)),
        "leaky-relu": (LeakyReLU(0.1), (4, 7)),
        "sigmoid": (Sigmoid(), (4, 7)),
        "tanh": (Tanh(), (4, 7)),
        "softmax": (Softmax(), (4, 6)),
        "flatten": (Flatten(), (3, 2, 3, 2)),
        "batchnorm1d": (BatchNorm1d(5, dtype=np.float64), (8, 5)),
        "batchnorm1d-3d": (BatchNorm1d(3, dtype=np.float64), (4, 3, 5)),
        "batchnorm1d-per-activation": (BatchNorm1d(12, per_activation=True, dtype=np.float64), (6, 3, 2, 2)),
        "batchnorm1d-noaffine": (BatchNorm1d(5, affine=False, dtype=np.float64), (8, 5)),
        "batchnorm2d": (BatchNorm2d(3, dtype=np.float64), (4, 3, 3, 2)),
        "sequential": (Sequential(Linear(6, 5, rng=rng, dtype=np.float64), BatchNorm1d(5, dtype=np.float64),
                                  Tanh(), Linear(5, 3, rng=rng, dtype=np.float64)), (7, 6)),
        "mlp-bn": (MultiLayerNet(6, [5, 4], 3, activation="sigmoid", use_batchnorm=True, seed=3,
                                 dtype=np.float64), (7, 6)),
    }
    layer, shape = cases[name]
    layer.astype(np.float64)
    if isinstance(layer, BatchNorm1d) or isinstance(layer, BatchNorm2d):
        # Non-trivial gamma and beta so their gradients are exercised.
        if layer.affine:
            layer.weight.data[...] = rng.uniform(0.5, 1.5, layer.weight.shape)
            layer.bias.data[...] = rng.standard_normal(layer.bias.shape)
    return layer, rng.standard_normal(shape) * 2 + 0.3


CASES = ["linear", "linear-nobias", "relu", "leaky-relu", "sigmoid", "tanh", "softmax", "flatten",
         "batchnorm1d", "batchnorm1d-3d", "batchnorm1d-per-activation", "batchnorm1d-noaffine",
         "batchnorm2d", "sequential", "mlp-bn"]


@pytest.mark.parametrize("name", CASES)
def test_train_mode_gradients(name, rng):
    layer, x = make(name, rng)
    errors = check_layer_gradients(layer, x, train=True)
    assert set(errors) == {"input", *[n for n, _ in layer.named_parameters()]}
    for key, err in errors.items():
        assert err < TOL, f"{name}: {key} relative error {err:.2e}"


@pytest.mark.parametrize("name", ["batchnorm1d", "batchnorm2d", "mlp-bn"])
def test_eval_mode_gradients(name, rng):
    layer, x = make(name, rng)
    for _ in range(3):  # move the running statistics away from (0, 1)
        layer.forward(x * 1.5 + 1, train=True)
    for key, err in check_layer_gradients(layer, x, train=False).items():
        assert err < TOL, f"{name}: {key} relative error {err:.2e}"


@pytest.mark.parametrize("inverted", [True, False])
def test_dropout_gradient_with_fixed_mask(inverted, rng):
    layer = Dropout(0.4, inverted=inverted, rng=rng)
    x = rng.standard_normal((5, 6))
    layer.forward(x, train=True)
    layer.freeze_mask = True
    for key, err in check_layer_gradients(layer, x, train=True).items():
        assert err < TOL, key
    assert check_layer_gradients(layer, x, train=False)["input"] < TOL


def test_mlp_with_dropout_and_fixed_masks(rng):
    net = MultiLayerNet(6, [5, 5], 3, dropout=0.3, seed=1, dtype=np.float64)
    x = rng.standard_normal((4, 6))
    net.forward(x, train=True)
    for layer in net.modules():
        if isinstance(layer, Dropout):
            layer.freeze_mask = True
    for key, err in check_layer_gradients(net, x).items():
        assert err < TOL, key


@pytest.mark.parametrize("labels", ["index", "one-hot", "soft"])
def test_cross_entropy_gradient(labels, rng):
    y = rng.standard_normal((6, 5)) * 3
    if labels == "index":
        t = rng.integers(0, 5, 6)
    elif labels == "one-hot":
        t = np.eye(5)[rng.integers(0, 5, 6)]
    else:
        t = rng.dirichlet(np.ones(5), size=6)
    assert check_loss_gradient(CrossEntropyLoss(), y, t) < TOL
    assert check_loss_gradient(CrossEntropyLoss(label_smoothing=0.2), y, t) < TOL


def test_label_smoothing_is_the_cross_entropy_of_the_mixed_targets(rng):
    """Both ways of writing it: smoothing index labels = plain cross-entropy of (1 - e) one-hot + e / C."""
    y, idx = rng.standard_normal((6, 4)) * 2, rng.integers(0, 4, 6)
    smoothed = CrossEntropyLoss(label_smoothing=0.3)
    plain = CrossEntropyLoss()
    mixed = 0.7 * np.eye(4)[idx] + 0.3 / 4
    assert smoothed.forward(y, idx) == pytest.approx(plain.forward(y, mixed), abs=1e-12)
    np.testing.assert_allclose(smoothed.backward(), plain.backward(), atol=1e-12)
    zero = CrossEntropyLoss(label_smoothing=0.0)
    assert zero.forward(y, idx) == pytest.approx(plain.forward(y, idx), abs=0)


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan"), "0.1", True, None])
def test_label_smoothing_outside_0_1_is_refused(bad):
    from trainlab.errors import ConfigError

    with pytest.raises(ConfigError, match="label_smoothing"):
        CrossEntropyLoss(label_smoothing=bad)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_gradient(reduction, rng):
    y, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    assert check_loss_gradient(MSELoss(reduction), y, t) < TOL


def test_mlp_weight_decay_gradient(rng):
    """The L2 term's gradient is included by MultiLayerNet.gradient."""
    from trainlab.gradcheck import numerical_gradient, relative_error

    net = MultiLayerNet(4, [5], 3, seed=2, dtype=np.float64)
    x, t = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
    net.gradient(x, t, l2_penalty=0.3)
    for name, p in net.named_parameters():
        numeric = numerical_gradient(lambda: net.loss(x, t, l2_penalty=0.3), p.data)
        assert relative_error(p.grad, numeric) < TOL, name


def test_numerical_gradient_of_a_non_contiguous_array():
    from trainlab.gradcheck import numerical_gradient

    base = np.arange(12, dtype=np.float64).reshape(3, 4)
    view = base.T  # not contiguous: a reshape would copy
    grad = numerical_gradient(lambda: float((base ** 2).sum()), view)
    np.testing.assert_allclose(grad, 2 * view, rtol=1e-6)
    np.testing.assert_array_equal(base, np.arange(12).reshape(3, 4))  # restored
