"""Pooling of NCHW input: max, average (PyTorch semantics) and global average.

The book's algorithm (sec. 7.4.4): unfold the windows with im2col, one window
per row, take the maximum (or the mean) of each row, and reshape. Backward
sends each window's gradient to the position of its maximum (or shares it
equally among the window) and folds the rows back with col2im.

- Max pooling pads with -inf and, like PyTorch, sends the gradient of a
  window to its first maximum in row-major order (ties do not split it).
- Average pooling pads with zeros and divides by KH*KW everywhere
  (PyTorch's default ``count_include_pad=True``).
- Output size is floor((H + 2P - K) / S) + 1 (PyTorch's ``ceil_mode=False``);
  padding may be at most half the kernel, as in PyTorch.

The ``*_forward``/``*_backward`` functions are the reference kernels; the
layers call them through :mod:`trainlab.kernels` (fast version:
:mod:`trainlab.kernels.pool`).

Reference: Saito, *Deep Learning from Scratch*, sec. 7.3 and 7.4.4 (Pooling layer);
``torch.nn.MaxPool2d`` / ``AvgPool2d`` for the padding and tie conventions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainlab import kernels
from trainlab.backend import get_array_module
from trainlab.errors import ConfigError, DTypeError, ShapeError
from trainlab.kernels.registry import reference
from trainlab.layers.base import Layer, check_input, check_pair, register_layer
from trainlab.layers.conv import col2im, im2col


def _windows(x, kernel_size, stride, padding, pad_value: float):
    """Every window of every channel as a row: (N*OH*OW*C, KH*KW), and (OH, OW)."""
    N, C, H, W = x.shape
    (KH, KW), (SH, SW), (PH, PW) = kernel_size, stride, padding
    OH, OW = (H + 2 * PH - KH) // SH + 1, (W + 2 * PW - KW) // SW + 1
    col = im2col(x, KH, KW, stride, padding, pad_value=pad_value)  # (N*OH*OW, C*KH*KW)
    return col.reshape(-1, KH * KW), (OH, OW)


@reference
def max_pool2d_forward(x, kernel_size, stride, padding, *, train: bool = True):
    """The maximum of each KH x KW window of x (N, C, H, W): ``(out (N, C, OH, OW), cache)``."""
    N, C = x.shape[:2]
    col, (OH, OW) = _windows(x, kernel_size, stride, padding, -np.inf)
    arg = col.argmax(axis=1)  # the first maximum of each window, in row-major order
    out = col.max(axis=1).reshape(N, OH, OW, C).transpose(0, 3, 1, 2)  # (N, C, OH, OW)
    return get_array_module(x).ascontiguousarray(out), (x.shape, arg, kernel_size, stride, padding)


@reference
def max_pool2d_backward(dout, cache):
    """Gradient of :func:`max_pool2d_forward`: each window's dout goes to its maximum."""
    xp = get_array_module(dout)
    x_shape, arg, kernel_size, stride, padding = cache
    KH, KW = kernel_size
    dout = dout.transpose(0, 2, 3, 1)  # (N, OH, OW, C), the order of im2col's rows
    dmax = xp.zeros((dout.size, KH * KW), dout.dtype)
    dmax[xp.arange(arg.size), arg] = dout.reshape(-1)
    dcol = dmax.reshape(dout.shape[0] * dout.shape[1] * dout.shape[2], -1)  # (N*OH*OW, C*KH*KW)
    return col2im(dcol, x_shape, KH, KW, stride, padding)


@reference
def avg_pool2d_forward(x, kernel_size, stride, padding, *, train: bool = True):
    """The mean of each KH x KW window of x, zero padding counted: ``(out (N, C, OH, OW), cache)``."""
    N, C = x.shape[:2]
    col, (OH, OW) = _windows(x, kernel_size, stride, padding, 0.0)
    out = col.mean(axis=1).reshape(N, OH, OW, C).transpose(0, 3, 1, 2)  # (N, C, OH, OW)
    return get_array_module(x).ascontiguousarray(out), (x.shape, kernel_size, stride, padding)


@reference
def avg_pool2d_backward(dout, cache):
    """Gradient of :func:`avg_pool2d_forward`: each window's dout shared equally among its KH*KW taps."""
    xp = get_array_module(dout)
    x_shape, kernel_size, stride, padding = cache
    KH, KW = kernel_size
    dout = dout.transpose(0, 2, 3, 1).reshape(-1, 1)  # (N*OH*OW*C, 1)
    dcol = xp.repeat(dout / (KH * KW), KH * KW, axis=1)  # (N*OH*OW*C, KH*KW)
    N, C = x_shape[:2]
    return col2im(dcol.reshape(-1, C * KH * KW), x_shape, KH, KW, stride, padding)


@reference
def global_avg_pool2d_backward(dout, x_shape):
    """Gradient of the mean over H and W: dout (N, C) spread evenly over (N, C, H, W)."""
    xp = get_array_module(dout)
    N, C, H, W = x_shape
    return xp.broadcast_to(dout.reshape(N, C, 1, 1) / (H * W), x_shape).copy()


class _Pool2d(Layer):
    """Shared configuration and checks; subclasses name their kernels."""

    forward_kernel = backward_kernel = ""

    def __init__(self, kernel_size, stride=None, padding=0) -> None:
        super().__init__()
        name = type(self).__name__
        self.kernel_size = check_pair(kernel_size, "kernel_size", name, minimum=1)
        self.stride = self.kernel_size if stride is None else check_pair(stride, "stride", name, minimum=1)
        self.padding = check_pair(padding, "padding", name, minimum=0)
        for p, k in zip(self.padding, self.kernel_size):
            if 2 * p > k:
                raise ConfigError(f"{name}: padding {self.padding} must be at most half the kernel "
                                  f"{self.kernel_size} (as in PyTorch)")
        self._cache = None

    def output_shape(self, x_shape) -> tuple[int, int, int, int]:
        N, C, H, W = x_shape
        (KH, KW), (SH, SW), (PH, PW) = self.kernel_size, self.stride, self.padding
        if H + 2 * PH < KH or W + 2 * PW < KW:
            raise ShapeError(f"{self.describe()}: kernel {KH}x{KW} is larger than the padded input "
                             f"{H + 2 * PH}x{W + 2 * PW} (input {H}x{W}, padding {PH}x{PW})")
        return N, C, (H + 2 * PH - KH) // SH + 1, (W + 2 * PW - KW) // SW + 1

    def forward(self, x, *, train: bool):
        check_input(self, x, ndim=4)
        if not np.issubdtype(x.dtype, np.floating):
            raise DTypeError(f"{self.describe()}: input must be floating point, got {x.dtype}; "
                             f"convert it with x.astype(np.float32)")
        self.output_shape(x.shape)
        out, self._cache = kernels.lookup(self.forward_kernel)(x, self.kernel_size, self.stride, self.padding,
                                                               train=train)
        return out

    def backward(self, dout):
        if self._cache is None:
            raise RuntimeError(f"{self.describe()}: backward called before forward")
        return kernels.lookup(self.backward_kernel)(dout, self._cache)

    def get_config(self) -> dict[str, Any]:
        return {"kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": list(self.padding)}


@register_layer
class MaxPool2d(_Pool2d):
    """Maximum over each KH x KW window.

    Shapes: x (N, C, H, W) -> (N, C, OH, OW). ``stride`` defaults to the kernel size.
    """

    forward_kernel, backward_kernel = "max_pool2d_forward", "max_pool2d_backward"


@register_layer
class AvgPool2d(_Pool2d):
    """Mean over each KH x KW window, zero padding counted (PyTorch's default).

    Shapes: x (N, C, H, W) -> (N, C, OH, OW). ``stride`` defaults to the kernel size.
    """

    forward_kernel, backward_kernel = "avg_pool2d_forward", "avg_pool2d_backward"


@register_layer
class GlobalAvgPool2d(Layer):
    """Mean over all of H and W: (N, C, H, W) -> (N, C), or (N, C, 1, 1) with ``keepdim=True``.

    Reference: Lin et al., 2014 ("Network in Network", global average pooling).
    """

    def __init__(self, keepdim: bool = False) -> None:
        super().__init__()
        self.keepdim = bool(keepdim)
        self._x_shape = None

    def forward(self, x, *, train: bool):
        check_input(self, x, ndim=4)
        if not np.issubdtype(x.dtype, np.floating):
            raise DTypeError(f"{self.describe()}: input must be floating point, got {x.dtype}")
        self._x_shape = x.shape
        return x.mean(axis=(2, 3), keepdims=self.keepdim)  # (N, C[, 1, 1])

    def backward(self, dout):
        if self._x_shape is None:
            raise RuntimeError(f"{self.describe()}: backward called before forward")
        return kernels.global_avg_pool2d_backward(dout, self._x_shape)

    def get_config(self) -> dict[str, Any]:
        return {"keepdim": self.keepdim}
