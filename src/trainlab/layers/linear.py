"""Fully connected layer (the book's Affine) and Flatten."""

from __future__ import annotations

from typing import Any

import numpy as np

from trainlab import kernels
from trainlab.init import InitSpec, check_init_spec, initialise
from trainlab.kernels.registry import reference
from trainlab.layers.base import Layer, check_input, register_layer, resolve_dtype
from trainlab.validation import check_positive


@reference
def linear_forward(x, W, b):
    """x (N, in) @ W (in, out) + b (out,) or None: the affine layer's output (N, out)."""
    out = x @ W
    if b is not None:
        out += b
    return out


@reference
def linear_backward(dout, x, W, *, input_grad: bool = True):
    """Gradients of :func:`linear_forward` for dout (N, out): ``(dx or None, dW, db)``."""
    dW = x.T @ dout  # (in, out)
    db = dout.sum(axis=0)  # (out,)
    dx = dout @ W.T if input_grad else None  # (N, in)
    return dx, dW, db


@register_layer
class Linear(Layer):
    """y = x W + b.

    Shapes: x (N, in_features) -> y (N, out_features). The weight is stored as
    (in_features, out_features), the book's layout, so the forward pass is a
    single ``x @ W`` with no transpose; PyTorch stores the transpose.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool, default True
    weight_init : str or float, default 'he'
        Initialiser name or standard deviation (see :mod:`trainlab.init`).
    rng : numpy.random.Generator, optional
        Source of the initial weights; a fresh unseeded one when omitted.
    dtype : floating dtype, default float32

    Reference: Saito, *Deep Learning from Scratch*, sec. 5.6 (Affine layer).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 weight_init: InitSpec = "he", rng: np.random.Generator | None = None,
                 dtype=None) -> None:
        super().__init__()
        check_positive("Linear", in_features=in_features, out_features=out_features)
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight_init = check_init_spec(weight_init)
        self.dtype = resolve_dtype(dtype)
        rng = np.random.default_rng() if rng is None else rng
        W = initialise(weight_init, (self.in_features, self.out_features), fan_in=self.in_features,
                       fan_out=self.out_features, rng=rng, dtype=self.dtype)
        self.weight = self.add_parameter("weight", W, decay=True)
        self.bias = self.add_parameter("bias", np.zeros(self.out_features, self.dtype), decay=False) if bias else None
        self._x = None

    def forward(self, x, *, train: bool):
        check_input(self, x, ndim=2, features=self.in_features, dtype=self.dtype)
        self._x = x
        return kernels.linear_forward(x, self.weight.data, None if self.bias is None else self.bias.data)

    def backward(self, dout):
        if self._x is None:
            raise RuntimeError(f"{self.describe()}: backward called before forward")
        dx, self.weight.grad, db = kernels.linear_backward(dout, self._x, self.weight.data,
                                                           input_grad=self.needs_input_grad)
        if self.bias is not None:
            self.bias.grad = db
        return dx

    def get_config(self) -> dict[str, Any]:
        return {"in_features": self.in_features, "out_features": self.out_features,
                "bias": self.bias is not None, "weight_init": self.weight_init,
                "dtype": self.dtype.name}


@register_layer
class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1*d2*...); backward restores the shape."""

    def __init__(self) -> None:
        super().__init__()
        self._shape = None

    def forward(self, x, *, train: bool):
        check_input(self, x, ndim=tuple(range(2, 8)))
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)  # (N, C*H*W)

    def backward(self, dout):
        return dout.reshape(self._shape)
