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

from trainlab.errors import ConfigError, ShapeError
from trainlab.layers.base import Layer, check_input, register_layer, resolve_dtype


class _BatchNorm(Layer):
    """Shared machinery: subclasses map their input to a 2-D (rows, features) view."""

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

    # Subclasses: x -> (rows, C) and back.
    def _to_rows(self, x):
        raise NotImplementedError

    def _from_rows(self, rows, shape):
        raise NotImplementedError

    def _check(self, x):
        raise NotImplementedError

    def forward(self, x, *, train: bool):
        self._check(x)
        self._shape = x.shape
        rows = self._to_rows(x)  # (M, C)
        out, self._cache = batchnorm_forward(
            rows, self.weight.data if self.affine else None, self.bias.data if self.affine else None,
            self._buffers["running_mean"], self._buffers["running_var"],
            eps=self.eps, momentum=self.momentum, train=train, who=self.describe())
        if train:
            self._buffers["num_batches_tracked"] = self._buffers["num_batches_tracked"] + 1
        return self._from_rows(out, x.shape)

    def backward(self, dout):
        drows = self._to_rows(dout)
        dx, dgamma, dbeta = batchnorm_backward(drows, self._cache)
        if self.affine:
            self.weight.grad = dgamma
            self.bias.grad = dbeta
        return self._from_rows(dx, self._shape)

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

    def _to_rows(self, x):
        if self.per_activation or x.ndim == 2:
            return x.reshape(x.shape[0], -1)  # (N, D)
        N, C, L = x.shape
        return x.transpose(0, 2, 1).reshape(N * L, C)  # (N*L, C)

    def _from_rows(self, rows, shape):
        if self.per_activation or len(shape) == 2:
            return rows.reshape(shape)
        N, C, L = shape
        return rows.reshape(N, L, C).transpose(0, 2, 1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "per_activation": self.per_activation}


@register_layer
class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input per channel: statistics over N, H and W."""

    def _check(self, x):
        check_input(self, x, ndim=4, features=self.num_features, dtype=self.dtype)

    def _to_rows(self, x):
        N, C, H, W = x.shape
        return x.transpose(0, 2, 3, 1).reshape(N * H * W, C)  # (N*H*W, C)

    def _from_rows(self, rows, shape):
        N, C, H, W = shape
        return rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)


def batchnorm_forward(x, gamma, beta, running_mean, running_var, *, eps, momentum, train, who="BatchNorm"):
    """Normalise the columns of x (M, C); in training also update the running statistics in place.

    Returns ``(out, cache)`` where cache holds what :func:`batchnorm_backward` needs.
    """
    if train:
        M = x.shape[0]
        if M < 2:
            raise ShapeError(f"{who}: training needs more than one value per feature to "
                             f"estimate a variance, got input of {M} row(s)")
        mean = x.mean(axis=0)
        xc = x - mean
        var = (xc * xc).mean(axis=0)
        # Update the running statistics in place: other references stay valid.
        m = x.dtype.type(momentum)
        running_mean *= 1 - m
        running_mean += m * mean
        running_var *= 1 - m
        running_var += (m * M / (M - 1)) * var
    else:
        mean, var = running_mean, running_var
        xc = x - mean
    inv_std = 1.0 / np.sqrt(var + x.dtype.type(eps))  # (C,)
    x_hat = xc * inv_std  # (M, C)
    out = x_hat * gamma + beta if gamma is not None else x_hat
    return out, (x_hat, inv_std, gamma, train)


def batchnorm_backward(dout, cache):
    """Gradients of :func:`batchnorm_forward`: returns (dx, dgamma, dbeta)."""
    x_hat, inv_std, gamma, train = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma if gamma is not None else dout
    if not train:
        # Eval mode: an affine map with constant statistics.
        return dx_hat * inv_std, dgamma, dbeta
    # d/dx of (x - mean) / sqrt(var + eps) with batch mean and variance:
    # dx = inv_std / M * (M * dx_hat - sum(dx_hat) - x_hat * sum(dx_hat * x_hat))
    dx = dx_hat - dx_hat.mean(axis=0) - x_hat * (dx_hat * x_hat).mean(axis=0)
    dx *= inv_std
    return dx, dgamma, dbeta
