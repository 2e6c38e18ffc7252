"""Batch normalisation: training with batch statistics, inference with running averages.

Train: x_hat = (x - mean_B) / sqrt(var_B + eps); y = gamma * x_hat + beta, with
the biased batch variance, per channel (axis 1) over every other axis. The
running statistics follow PyTorch's momentum convention,
running = (1 - momentum) * running + momentum * batch_stat, and the running
variance takes the *unbiased* batch variance (times M / (M - 1)).
Eval: the same affine map with the running mean and variance.

:func:`batchnorm_forward` and :func:`batchnorm_backward` are the reference
kernels (the book's computational graph, step by step); the layers call them
through :mod:`trainlab.kernels`, whose fast version (:mod:`trainlab.kernels.batchnorm`)
has the same meaning.

Reference: Ioffe & Szegedy, 2015; Saito, *Deep Learning from Scratch*, sec. 6.3.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainlab import kernels
from trainlab.backend import get_array_module
from trainlab.errors import ShapeError
from trainlab.kernels.registry import reference
from trainlab.layers.base import Layer, check_input, register_layer, resolve_dtype
from trainlab.validation import check_positive, check_real


@reference
def batchnorm_forward(x, gamma, beta, running_mean, running_var, *, eps: float, momentum: float, train: bool):
    """Normalise x (N, C, ...) per channel C over every other axis: ``(out, cache)``.

    ``gamma`` and ``beta`` are (C,) or None (no affine map). In training the
    running statistics (C,) are updated in place, so other references to them stay valid.
    """
    xp = get_array_module(x)
    C = x.shape[1]
    axes = (0,) + tuple(range(2, x.ndim))  # every axis but the channels
    shape = (1, C) + (1,) * (x.ndim - 2)  # a (C,) vector broadcast along those axes
    if train:
        mu = x.mean(axis=axes)  # (C,)
        xc = x - mu.reshape(shape)
        var = (xc * xc).mean(axis=axes)  # (C,), biased
        M = x.size // C  # values per channel
        m = x.dtype.type(momentum)
        running_mean *= 1 - m
        running_mean += m * mu
        running_var *= 1 - m
        running_var += (m * M / (M - 1)) * var
    else:
        xc = x - running_mean.reshape(shape)
        var = running_var
    std = xp.sqrt(var + x.dtype.type(eps))  # (C,)
    xn = xc / std.reshape(shape)  # x_hat
    out = xn.copy() if gamma is None else gamma.reshape(shape) * xn + beta.reshape(shape)
    return out, (xc, xn, std, gamma, train)


@reference
def batchnorm_backward(dout, cache):
    """Gradients of :func:`batchnorm_forward` for dout (N, C, ...): ``(dx, dgamma, dbeta)``.

    Backward through the book's graph: x_hat = xc / std, std = sqrt(var + eps),
    var = mean(xc^2), xc = x - mean(x). In eval mode the statistics are
    constants and the layer is an affine map.
    """
    xc, xn, std, gamma, train = cache
    C = dout.shape[1]
    axes = (0,) + tuple(range(2, dout.ndim))
    shape = (1, C) + (1,) * (dout.ndim - 2)
    dbeta = dout.sum(axis=axes)
    dgamma = (xn * dout).sum(axis=axes)
    dxn = dout if gamma is None else gamma.reshape(shape) * dout
    if not train:
        return dxn / std.reshape(shape), dgamma, dbeta
    M = dout.size // C
    dxc = dxn / std.reshape(shape)
    dstd = -(dxn * xc).sum(axis=axes) / (std * std)  # (C,)
    dvar = 0.5 * dstd / std
    dxc += (2.0 / M) * xc * dvar.reshape(shape)
    dmu = dxc.sum(axis=axes)
    dx = dxc - (dmu / M).reshape(shape)
    return dx, dgamma, dbeta


class _BatchNorm(Layer):
    """Shared parameters, buffers and passes; subclasses check the input and say how it maps to (N, C, ...)."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True, *, dtype=None) -> None:
        super().__init__()
        owner = type(self).__name__
        check_positive(owner, num_features=num_features)
        self.num_features = int(num_features)
        self.eps = check_real(owner, "eps", eps, low=0.0, low_open=True)
        self.momentum = check_real(owner, "momentum", momentum, low=0.0, high=1.0)
        self.affine = bool(affine)
        self.dtype = resolve_dtype(dtype)
        C = self.num_features
        if self.affine:
            self.weight = self.add_parameter("weight", np.ones(C, self.dtype), decay=False)  # gamma
            self.bias = self.add_parameter("bias", np.zeros(C, self.dtype), decay=False)  # beta
        else:
            self.weight = self.bias = None
        self.add_buffer("running_mean", np.zeros(C, self.dtype))
        self.add_buffer("running_var", np.ones(C, self.dtype))
        self.add_buffer("num_batches_tracked", np.zeros((), np.int64))
        self._cache = None
        self._shape = None

    def _check(self, x):
        raise NotImplementedError

    def _channels_view(self, x):
        """x as (N, C, ...) with the normalised features on axis 1 (a reshape of x, no copy)."""
        return x

    def forward(self, x, *, train: bool):
        self._check(x)
        xc = self._channels_view(x)
        if train and xc.size // xc.shape[1] < 2:
            raise ShapeError(f"{self.describe()}: training needs more than one value per feature to "
                             f"estimate a variance, got input of {xc.size // xc.shape[1]} row(s)")
        gamma = self.weight.data if self.affine else None
        beta = self.bias.data if self.affine else None
        out, self._cache = kernels.batchnorm_forward(
            xc, gamma, beta, self._buffers["running_mean"], self._buffers["running_var"],
            eps=self.eps, momentum=self.momentum, train=train)
        if train:
            self._buffers["num_batches_tracked"] = self._buffers["num_batches_tracked"] + 1
        self._shape = x.shape
        return out.reshape(x.shape)

    def backward(self, dout):
        if self._cache is None:
            raise RuntimeError(f"{self.describe()}: backward called before forward")
        if tuple(dout.shape) != tuple(self._shape):
            raise ShapeError(f"{self.describe()}: backward expects a gradient of shape {tuple(self._shape)}, "
                             f"got {tuple(dout.shape)}")
        dx, dgamma, dbeta = kernels.batchnorm_backward(self._channels_view(dout), self._cache)
        if self.affine:
            self.weight.grad = dgamma
            self.bias.grad = dbeta
        return dx.reshape(self._shape)

    def scale_and_shift(self):
        """The eval-mode map as y = x * scale + shift per feature (used to fold into a layer)."""
        rm, rv = self._buffers["running_mean"], self._buffers["running_var"]
        inv_std = 1.0 / np.sqrt(rv.astype(np.float64) + self.eps)
        gamma = self.weight.data.astype(np.float64) if self.affine else 1.0
        beta = self.bias.data.astype(np.float64) if self.affine else 0.0
        scale = gamma * inv_std
        shift = beta - rm.astype(np.float64) * scale
        return scale, shift

    def get_config(self) -> dict[str, Any]:
        return {"num_features": self.num_features, "eps": self.eps, "momentum": self.momentum,
                "affine": self.affine, "dtype": self.dtype.name}


@register_layer
class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input, per feature/channel C.

    With ``per_activation=True`` (the book's ``BatchNormalization`` on conv
    output) any (N, d1, d2, ...) input is flattened to (N, d1*d2*...) and every
    activation is normalised on its own; ``num_features`` is then d1*d2*....
    Normalising per channel (:class:`BatchNorm2d` for images) is the standard
    form; the per-activation form is kept to compare with the book.

    Parameters
    ----------
    num_features : int
    eps : float, default 1e-5
    momentum : float, default 0.1 (PyTorch convention; the book's 0.9 equals 0.1 here)
    affine : bool, default True (learnable gamma and beta)
    per_activation : bool, default False
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True, *, per_activation: bool = False, dtype=None) -> None:
        super().__init__(num_features, eps, momentum, affine, dtype=dtype)
        self.per_activation = bool(per_activation)

    def _check(self, x):
        if self.per_activation:
            check_input(self, x, ndim=tuple(range(2, 8)), dtype=self.dtype)
            if int(np.prod(x.shape[1:])) != self.num_features:
                raise ShapeError(f"{self.describe()}: per-activation form expects {self.num_features} "
                                 f"activations per sample, got input of shape {tuple(x.shape)}")
        else:
            check_input(self, x, ndim=(2, 3), features=self.num_features, dtype=self.dtype)

    def _channels_view(self, x):
        if self.per_activation:
            return x.reshape(x.shape[0], -1)  # (N, d1*d2*...): every activation its own feature
        return x  # (N, C) or (N, C, L)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "per_activation": self.per_activation}


@register_layer
class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input per channel: statistics over N, H and W."""

    def _check(self, x):
        check_input(self, x, ndim=4, features=self.num_features, dtype=self.dtype)
