"""Fast kernels against the reference ones: every layer, block and model, outputs and every gradient.

Each case builds the same network twice (same seed), runs a training step
(forward, loss, backward) and an eval forward pass under each implementation,
and compares the outputs, the input gradient, every parameter gradient and
every buffer (BatchNorm's running statistics): float64 to 1e-10 and float32
to 1e-5, relative to each array's largest value.
"""

import numpy as np
import pytest

from trainlab import kernels
from trainlab.layers import (
    AuxiliaryHead, AvgPool2d, BatchNorm1d, BatchNorm2d, Concat, Conv2d, CrossEntropyLoss, DenseBlock, Dropout,
    Flatten, GlobalAvgPool2d, InceptionBlock, LeakyReLU, Linear, MaxPool2d, PostActResidualBlock, ReLU,
    ResidualBlock, Sequential, Sigmoid, Softmax, Tanh, Transition,
)
from trainlab.models import DeepConvNet, DenseNet, InceptionNet, MultiLayerNet, ResNet, SimpleConvNet

TOLERANCE = {np.float64: 1e-10, np.float32: 1e-5}


def rng_of(seed=0):
    return np.random.default_rng(seed)


# name: (factory(dtype) -> layer, input shape)
LAYERS = {
    "linear": (lambda dt: Linear(12, 7, rng=rng_of(), dtype=dt), (9, 12)),
    "relu": (lambda dt: ReLU(), (6, 5, 4, 4)),
    "leaky-relu": (lambda dt: LeakyReLU(0.1), (6, 7)),
    "sigmoid": (lambda dt: Sigmoid(), (6, 7)),
    "tanh": (lambda dt: Tanh(), (6, 7)),
    "softmax": (lambda dt: Softmax(), (6, 7)),
    "dropout": (lambda dt: Dropout(0.3, rng=rng_of()), (6, 7)),
    "flatten": (lambda dt: Flatten(), (3, 2, 4, 4)),
    "batchnorm1d": (lambda dt: BatchNorm1d(7, dtype=dt), (10, 7)),
    "batchnorm1d-ncl": (lambda dt: BatchNorm1d(3, dtype=dt), (5, 3, 6)),
    "batchnorm1d-per-activation": (lambda dt: BatchNorm1d(2 * 3 * 3, per_activation=True, dtype=dt), (6, 2, 3, 3)),
    "batchnorm2d": (lambda dt: BatchNorm2d(3, dtype=dt), (4, 3, 5, 5)),
    "conv-3x3-pad1": (lambda dt: Conv2d(3, 4, 3, 1, 1, rng=rng_of(), dtype=dt), (2, 3, 6, 5)),
    "conv-5x5": (lambda dt: Conv2d(2, 3, 5, rng=rng_of(), dtype=dt), (2, 2, 7, 6)),
    "conv-stride2": (lambda dt: Conv2d(2, 3, 3, 2, 1, rng=rng_of(), dtype=dt), (2, 2, 7, 7)),
    "conv-non-square": (lambda dt: Conv2d(2, 3, (3, 2), (2, 1), (1, 0), rng=rng_of(), dtype=dt), (2, 2, 7, 6)),
    "conv-pointwise": (lambda dt: Conv2d(4, 2, 1, rng=rng_of(), dtype=dt), (3, 4, 3, 4)),
    "conv-pointwise-stride2": (lambda dt: Conv2d(3, 2, 1, 2, rng=rng_of(), dtype=dt), (2, 3, 5, 5)),
    "conv-pad-wider-than-kernel": (lambda dt: Conv2d(2, 2, 1, 1, 1, rng=rng_of(), dtype=dt), (2, 2, 4, 4)),
    "conv-pad2-no-bias": (lambda dt: Conv2d(2, 3, 3, 1, 2, bias=False, rng=rng_of(), dtype=dt), (2, 2, 4, 4)),
    "conv-no-input-grad": (lambda dt: Conv2d(2, 3, 3, 1, 1, input_grad=False, rng=rng_of(), dtype=dt),
                           (2, 2, 5, 5)),
    "maxpool-2x2": (lambda dt: MaxPool2d(2), (2, 3, 6, 6)),
    "maxpool-3x3-s2-p1": (lambda dt: MaxPool2d(3, 2, 1), (2, 2, 7, 7)),
    "maxpool-overlapping": (lambda dt: MaxPool2d(3, 1, 1), (2, 2, 5, 5)),
    "avgpool-2x2": (lambda dt: AvgPool2d(2), (2, 3, 6, 6)),
    "avgpool-non-square": (lambda dt: AvgPool2d((3, 2), (2, 1), (1, 0)), (2, 2, 6, 5)),
    "global-avgpool": (lambda dt: GlobalAvgPool2d(), (3, 4, 5, 2)),
    # what the layers see inside a network: a convolution's output as their input
    "conv-bn-relu-pool": (lambda dt: Sequential(Conv2d(2, 4, 3, padding=1, rng=rng_of(), dtype=dt),
                                                BatchNorm2d(4, dtype=dt), ReLU(), MaxPool2d(2),
                                                Conv2d(4, 3, 3, stride=2, padding=1, rng=rng_of(1), dtype=dt),
                                                GlobalAvgPool2d()), (3, 2, 10, 10)),
}

BLOCKS = {
    "residual": (lambda dt: ResidualBlock(3, 3, rng=rng_of(), dtype=dt), (2, 3, 6, 6)),
    "residual-projecting": (lambda dt: ResidualBlock(3, 5, stride=2, rng=rng_of(), dtype=dt), (2, 3, 7, 7)),
    "postact-residual": (lambda dt: PostActResidualBlock(3, 3, rng=rng_of(), dtype=dt), (2, 3, 6, 6)),
    "postact-residual-projecting": (lambda dt: PostActResidualBlock(3, 5, stride=2, rng=rng_of(), dtype=dt),
                                    (2, 3, 7, 7)),
    "concat": (lambda dt: Concat(Conv2d(3, 2, 1, rng=rng_of(), dtype=dt),
                                 Conv2d(3, 4, 3, padding=1, rng=rng_of(1), dtype=dt)), (2, 3, 5, 5)),
    "inception": (lambda dt: InceptionBlock(4, 2, 2, 3, 1, 2, 2, rng=rng_of(), dtype=dt), (2, 4, 6, 6)),
    "dense-bottleneck": (lambda dt: DenseBlock(4, 3, 3, rng=rng_of(), dtype=dt), (2, 4, 5, 5)),
    "dense": (lambda dt: DenseBlock(4, 3, 2, bottleneck=False, rng=rng_of(), dtype=dt), (2, 4, 5, 5)),
    "transition": (lambda dt: Transition(6, rng=rng_of(), dtype=dt), (2, 6, 6, 6)),
    "auxiliary-head": (lambda dt: Sequential(AuxiliaryHead(3, 4, rng=rng_of(), dtype=dt), Flatten(),
                                             Linear(3 * 4 * 4, 4, rng=rng_of(1), dtype=dt)), (5, 3, 4, 4)),
}

MODELS = {
    "mlp": (lambda dt: MultiLayerNet(20, [16, 12], 10, use_batchnorm=True, dropout=0.2, seed=0, dtype=dt),
            (8, 20)),
    "simple-convnet": (lambda dt: SimpleConvNet(input_grad=True, seed=0, dtype=dt), (4, 1, 28, 28)),
    "deep-convnet": (lambda dt: DeepConvNet(input_grad=True, seed=0, dtype=dt), (3, 1, 28, 28)),
    "deep-convnet-book-order": (lambda dt: DeepConvNet(relu_after_pool=False, seed=0, dtype=dt), (3, 1, 28, 28)),
    "resnet": (lambda dt: ResNet(widths=(4, 8, 8), input_grad=True, seed=0, dtype=dt), (3, 1, 28, 28)),
    "resnet-postact": (lambda dt: ResNet(widths=(4, 8, 8), input_grad=True, seed=0, dtype=dt, preactivation=False),
                       (3, 1, 28, 28)),
    "inception": (lambda dt: InceptionNet(input_grad=True, seed=0, dtype=dt), (3, 1, 28, 28)),
    "densenet": (lambda dt: DenseNet(growth_rate=4, layers_per_block=(2, 2), input_grad=True, seed=0, dtype=dt),
                 (3, 1, 28, 28)),
}


def run(factory, shape, dtype, implementation):
    """One training step and one eval pass under ``implementation``: every array worth comparing."""
    data = np.random.default_rng(7)
    x = data.standard_normal(shape).astype(dtype)
    with kernels.using(implementation):
        net = factory(dtype)
        out = net.forward(x, train=True)
        if out.ndim == 2:  # scores: a classification loss, auxiliary heads included
            t = data.integers(0, out.shape[1], out.shape[0])
            loss = CrossEntropyLoss()
            loss.forward(out, t)
            for head in [m for m in net.modules() if hasattr(m, "auxiliary_loss")]:
                head.auxiliary_loss(t)
            dout = loss.backward()
        else:
            dout = data.standard_normal(out.shape).astype(dtype)
        dx = net.backward(dout)
        arrays = {"train output": out, "input gradient": dx}
        arrays.update({f"grad {name}": p.grad for name, p in net.named_parameters()})
        arrays.update({f"buffer {name}": b for name, b in net.named_buffers()})
        arrays["eval output"] = net.forward(x, train=False)
    return {k: (None if v is None else np.array(v, dtype=np.float64)) for k, v in arrays.items()}


def largest(a) -> float:
    return float(np.abs(a).max(initial=0.0))


def assert_same(fast, ref, tol):
    """Each array within ``tol`` of its largest value. A gradient that is zero in exact arithmetic (the
    bias of a layer followed by BatchNorm, all rounding noise) is measured on the network's largest
    gradient instead, since no array of noise has a scale of its own."""
    assert fast.keys() == ref.keys()
    gradient_scale = max([largest(v) for k, v in ref.items() if k.startswith("grad ") and v is not None], default=0.0)
    for key in ref:
        if ref[key] is None:
            assert fast[key] is None, key
            continue
        assert fast[key].shape == ref[key].shape, key
        scale = max(largest(ref[key]), 1e-30)
        if key.startswith("grad ") and scale < tol * gradient_scale:
            scale = gradient_scale
        err = float(np.abs(fast[key] - ref[key]).max(initial=0.0)) / scale
        assert err <= tol, f"{key}: fast and reference differ by {err:.2e} of the largest value (allowed {tol:g})"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(LAYERS) + sorted(BLOCKS) + sorted(MODELS))
def test_fast_kernels_match_the_reference(name, dtype):
    factory, shape = {**LAYERS, **BLOCKS, **MODELS}[name]
    assert_same(run(factory, shape, dtype, "fast"), run(factory, shape, dtype, "reference"), TOLERANCE[dtype])


def test_every_fast_kernel_has_a_reference_and_is_covered():
    """A fast kernel with no reference could not be checked; every reference with a fast twin is run above."""
    import trainlab.layers  # noqa: F401 (registers the reference kernels)
    from trainlab.kernels.registry import FAST, REFERENCE

    kernels.lookup("conv2d_forward", "fast")  # loads the fast kernels
    assert set(FAST) <= set(REFERENCE)
    assert {"conv2d_forward", "conv2d_backward", "batchnorm_forward", "batchnorm_backward", "max_pool2d_forward",
            "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward", "global_avg_pool2d_backward",
            "relu_forward", "relu_backward", "linear_forward", "linear_backward", "empty_channels"} <= set(FAST)


def test_the_switch():
    assert kernels.current() == "fast"
    with kernels.using("reference"):
        assert kernels.current() == "reference"
        assert kernels.conv2d_forward is kernels.lookup("conv2d_forward", "reference")
    assert kernels.current() == "fast"
    from trainlab.errors import ConfigError

    with pytest.raises(ConfigError, match="reference"):
        kernels.use("quick")
    with pytest.raises(AttributeError, match="no kernel named"):
        kernels.lookup("no_such_kernel")
