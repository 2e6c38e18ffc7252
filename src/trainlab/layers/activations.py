"""Element-wise activations and Softmax, each with its backward.

ReLU runs through :mod:`trainlab.kernels` (its fast version splits large arrays over threads).

Reference: Saito, *Deep Learning from Scratch*, sec. 3.2 and 5.5.
"""

from __future__ import annotations

from typing import Any

from trainlab import kernels
from trainlab.backend import get_array_module
from trainlab.kernels.registry import reference
from trainlab.layers.base import Layer, check_input, register_layer
from trainlab.registry import Registry
from trainlab.validation import check_real

#: Activation layer classes by name, for MultiLayerNet(activation=...).
ACTIVATIONS: Registry[type] = Registry("activation")


class _Elementwise(Layer):
    def forward(self, x, *, train: bool):
        check_input(self, x, ndim=tuple(range(1, 8)))
        return self._forward(x)


@reference
def relu_forward(x):
    """max(0, x) and the mask of where x > 0 (what backward needs): ``(out, mask)``."""
    mask = x > 0
    return x * mask, mask


@reference
def relu_backward(dout, mask):
    """The gradient passes where the input was positive."""
    return dout * mask


@register_layer
class ReLU(_Elementwise):
    """max(0, x); the gradient passes where x > 0."""

    def _forward(self, x):
        out, self._mask = kernels.relu_forward(x)
        return out

    def backward(self, dout):
        return kernels.relu_backward(dout, self._mask)


@register_layer
class LeakyReLU(_Elementwise):
    """x for x > 0, negative_slope * x otherwise (PyTorch default slope 0.01)."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = check_real("LeakyReLU", "negative_slope", negative_slope, low=0.0)

    def _forward(self, x):
        xp = get_array_module(x)
        self._mask = x > 0
        return xp.where(self._mask, x, x * x.dtype.type(self.negative_slope))

    def backward(self, dout):
        xp = get_array_module(dout)
        return xp.where(self._mask, dout, dout * dout.dtype.type(self.negative_slope))

    def get_config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}


@register_layer
class Sigmoid(_Elementwise):
    """1 / (1 + exp(-x)), computed as (1 + tanh(x/2)) / 2, which cannot overflow."""

    def _forward(self, x):
        xp = get_array_module(x)
        half = x.dtype.type(0.5)
        out = xp.tanh(x * half)
        out += 1
        out *= half
        self._out = out
        return out

    def backward(self, dout):
        out = self._out
        return dout * out * (1 - out)


@register_layer
class Tanh(_Elementwise):
    """tanh(x); derivative 1 - tanh(x)^2."""

    def _forward(self, x):
        xp = get_array_module(x)
        self._out = xp.tanh(x)
        return self._out

    def backward(self, dout):
        out = self._out
        return dout * (1 - out * out)


@register_layer
class Softmax(Layer):
    """exp(x_i) / sum_j exp(x_j) over the last axis, shifted by the max for stability.

    Use it as a layer when the probabilities themselves are wanted (inference,
    distillation); for training, :class:`~trainlab.layers.losses.CrossEntropyLoss`
    fuses softmax and cross-entropy, whose gradient is simpler and more accurate.
    """

    def forward(self, x, *, train: bool):
        check_input(self, x, ndim=tuple(range(1, 8)))
        self._out = softmax(x)
        return self._out

    def backward(self, dout):
        y = self._out
        # Jacobian-vector product: dx_i = y_i * (dout_i - sum_j dout_j y_j)
        return y * (dout - (dout * y).sum(axis=-1, keepdims=True))


def softmax(x):
    """Numerically stable softmax over the last axis."""
    xp = get_array_module(x)
    z = x - x.max(axis=-1, keepdims=True)
    e = xp.exp(z)
    e /= e.sum(axis=-1, keepdims=True)
    return e


ACTIVATIONS.add("relu", ReLU)
ACTIVATIONS.add("leaky-relu", LeakyReLU, aliases=("leakyrelu",))
ACTIVATIONS.add("sigmoid", Sigmoid)
ACTIVATIONS.add("tanh", Tanh)
