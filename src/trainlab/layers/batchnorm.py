"""Batch normalisation: training with batch statistics, inference with running averages.

Train: x_hat = (x - mean_B) / sqrt(var_B + eps); y = gamma * x_hat + beta, with
the biased batch variance. The running statistics follow PyTorch's momentum
convention, running = (1 - momentum) * running + momentum * batch_stat, and the
running variance takes the *unbiased* batch variance (times n / (n - 1)).
Eval: the same affine map with the running mean and variance.

Reference: Ioffe & Szegedy, 2015; Saito, *Deep Learning from Scratch*, sec. 6.3.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainlab import threads
from trainlab.backend import get_array_module
from trainlab.errors import ConfigError, ShapeError
from trainlab.layers.base import Layer, check_input, register_layer, resolve_dtype
from trainlab.layers.layout import block_view, from_block, is_chwn


class _BatchNorm(Layer):
    """Shared machinery: subclasses view their input as a 3-D (A, C, B) array.

    Statistics are taken over axes 0 and 2 of that view, one per channel C.
    Every layout used here has such a view without a copy: (N, C) is
    (N, C, 1), (N, C, L) is itself, a row-major (N, C, H, W) array is
    (N, C, H*W), and a convolution's (C, H, W, N) block is (1, C, H*W*N).
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True, *, dtype=None) -> None:
        super().__init__()
        if int(num_features) <= 0:
            raise ConfigError(f"{type(self).__name__} num_features must be positive, got {num_features}")
        if not eps > 0:
            raise ConfigError(f"{type(self).__name__} eps must be > 0, got {eps}")
        if not 0.0 <= momentum <= 1.0:
            raise ConfigError(f"{type(self).__name__} momentum must be in [0, 1], got {momentum}")
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = float(momentum)
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
        self._cache = self._parts = None  # what backward needs: one cache, or one per part of the channels

    # Subclasses: x -> (A, C, B) view and back; the layout tag says how to go back.
    def _to_channels(self, x, layout=None):
        raise NotImplementedError

    def _from_channels(self, y, shape, layout):
        raise NotImplementedError

    def _check(self, x):
        raise NotImplementedError

    def forward(self, x, *, train: bool):
        self._check(x)
        self._shape = x.shape
        x3, self._layout = self._to_channels(x)
        gamma = self.weight.data if self.affine else None
        beta = self.bias.data if self.affine else None
        rm, rv = self._buffers["running_mean"], self._buffers["running_var"]

        def normalise(c: slice):
            return batchnorm_forward(x3[:, c], None if gamma is None else gamma[c], None if beta is None else beta[c],
                                     rm[c], rv[c], eps=self.eps, momentum=self.momentum, train=train,
                                     who=self.describe())

        C = x3.shape[1]
        if C > 1 and x3.size >= 2 * threads.PART_MIN_VALUES and threads.parallel_enabled(x3):
            # Channels are independent: each thread normalises its own channels (the running
            # statistics are updated through views of the buffers) and writes its slice of out.
            xp = get_array_module(x3)
            out = xp.empty(x3.shape, x3.dtype)

            def work(_part: int, c0: int, c1: int):
                part_out, cache = normalise(slice(c0, c1))
                out[:, c0:c1] = part_out
                return c0, c1, cache

            min_channels = -(-threads.PART_MIN_VALUES // (x3.size // C))
            self._parts, self._cache = threads.run_parts(work, C, min_items=min_channels, array=x3), None
        else:
            (out, self._cache), self._parts = normalise(slice(None)), None
        if train:
            self._buffers["num_batches_tracked"] = self._buffers["num_batches_tracked"] + 1
        return self._from_channels(out, x.shape, self._layout)

    def backward(self, dout):
        if tuple(dout.shape) != tuple(self._shape):
            raise ShapeError(f"{self.describe()}: backward expects a gradient of shape {tuple(self._shape)}, "
                             f"got {tuple(dout.shape)}")
        if self._cache is None and self._parts is None:
            raise RuntimeError(f"{self.describe()}: backward called before forward")
        d3, _ = self._to_channels(dout, self._layout)
        if self._parts is not None:
            dx, dgamma, dbeta = self._backward_in_channel_parts(d3, self._parts)
        else:
            dx, dgamma, dbeta = batchnorm_backward(d3, self._cache)
        if self.affine:
            self.weight.grad = dgamma
            self.bias.grad = dbeta
        return self._from_channels(dx, self._shape, self._layout)

    def _backward_in_channel_parts(self, d3, parts):
        """Backward of a forward pass done in channel parts: each part's channels in one thread."""
        xp = get_array_module(d3)
        C = d3.shape[1]
        dx = xp.empty(d3.shape, d3.dtype)
        dgamma, dbeta = xp.empty(C, d3.dtype), xp.empty(C, d3.dtype)

        def work(_part: int, first: int, stop: int) -> None:
            for c0, c1, cache in parts[first:stop]:
                dx[:, c0:c1], dgamma[c0:c1], dbeta[c0:c1] = batchnorm_backward(d3[:, c0:c1], cache)

        threads.run_parts(work, len(parts), array=d3)
        return dx, dgamma, dbeta

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

    def _to_channels(self, x, layout=None):
        if self.per_activation or x.ndim == 2:
            return x.reshape(x.shape[0], -1, 1), "rows"  # (N, D, 1)
        return x, "ncl"  # (N, C, L)

    def _from_channels(self, y, shape, layout):
        return y.reshape(shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "per_activation": self.per_activation}


@register_layer
class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input per channel: statistics over N, H and W."""

    def _check(self, x):
        check_input(self, x, ndim=4, features=self.num_features, dtype=self.dtype)

    def _to_channels(self, x, layout=None):
        N, C, H, W = x.shape
        if layout is None:
            # Follow the input's storage so that neither direction copies it.
            layout = "chwn" if is_chwn(x) else "nchw"
        if layout == "chwn":
            return block_view(x).reshape(1, C, H * W * N), layout  # a copy only if x is stored otherwise
        return x.reshape(N, C, H * W), layout

    def _from_channels(self, y, shape, layout):
        N, C, H, W = shape
        if layout == "chwn":
            return from_block(y.reshape(C, H, W, N))
        return y.reshape(shape)


def batchnorm_forward(x, gamma, beta, running_mean, running_var, *, eps, momentum, train, who="BatchNorm"):
    """Normalise x (A, C, B) per channel over axes 0 and 2; in training also update the
    running statistics (shape (C,)) in place.

    Returns ``(out, cache)`` where cache holds what :func:`batchnorm_backward` needs.
    """
    xp = get_array_module(x)
    A, C, B = x.shape
    axes = (0, 2)
    if train:
        M = A * B
        if M < 2:
            raise ShapeError(f"{who}: training needs more than one value per feature to "
                             f"estimate a variance, got input of {M} row(s)")
        mean = x.mean(axis=axes, keepdims=True)
        xc = x - mean
        var = xp.square(xc).mean(axis=axes, keepdims=True)
        # Update the running statistics in place: other references stay valid.
        m = x.dtype.type(momentum)
        running_mean *= 1 - m
        running_mean += m * mean.reshape(C)
        running_var *= 1 - m
        running_var += (m * M / (M - 1)) * var.reshape(C)
    else:
        var = running_var.reshape(1, C, 1)
        xc = x - running_mean.reshape(1, C, 1)
    inv_std = 1.0 / xp.sqrt(var + x.dtype.type(eps))  # (1, C, 1)
    x_hat = xc
    x_hat *= inv_std
    if gamma is None:
        out = x_hat.copy() if train else x_hat
    else:
        out = x_hat * gamma.reshape(1, C, 1)
        out += beta.reshape(1, C, 1)
    return out, (x_hat, inv_std, gamma, train)


def batchnorm_backward(dout, cache):
    """Gradients of :func:`batchnorm_forward` for dout (A, C, B): returns (dx, dgamma, dbeta).

    With the batch statistics, dx = gamma * inv_std * (dout - mean(dout) - x_hat * mean(dout * x_hat)),
    the means taken per channel; the two sums are dbeta and dgamma, so nothing is summed twice.
    """
    x_hat, inv_std, gamma, train = cache
    A, C, B = dout.shape
    axes = (0, 2)
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    scale = inv_std.reshape(C) if gamma is None else gamma * inv_std.reshape(C)  # (C,)
    if not train:
        # Eval mode: an affine map with constant statistics.
        return dout * scale.reshape(1, C, 1), dgamma, dbeta
    M = A * B
    dx = x_hat * (dgamma / M).reshape(1, C, 1)
    xp = get_array_module(dout)
    xp.subtract(dout, dx, out=dx)
    dx -= (dbeta / M).reshape(1, C, 1)
    dx *= scale.reshape(1, C, 1)
    return dx, dgamma, dbeta
