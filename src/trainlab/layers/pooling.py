"""Pooling of NCHW input: max, average (PyTorch semantics) and global average.

Every window is visited through its kernel offsets: for offset (i, j) one
strided view of the input (rows i, i + SH, ...; columns j, j + SW, ...)
holds that tap of every window at once, so a pool costs KH*KW vectorised
passes, never a loop over pixels or samples.

- Max pooling pads with -inf and, like PyTorch, sends the gradient of a
  window to its first maximum in row-major order (ties do not split it).
- Average pooling pads with zeros and divides by KH*KW everywhere
  (PyTorch's default ``count_include_pad=True``).
- Output size is floor((H + 2P - K) / S) + 1 (PyTorch's ``ceil_mode=False``);
  padding may be at most half the kernel, as in PyTorch.

Reference: Saito, *Deep Learning from Scratch*, sec. 7.3 and 7.4.4 (Pooling layer);
``torch.nn.MaxPool2d`` / ``AvgPool2d`` for the padding and tie conventions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainlab import threads
from trainlab.backend import get_array_module
from trainlab.errors import ConfigError, DTypeError, ShapeError
from trainlab.layers.base import Layer, check_input, register_layer
from trainlab.layers.conv import block_view, empty_chwn, from_block, pad_block, pair


class _Pool2d(Layer):
    """Shared configuration, shape checks and window offsets.

    The kernels work on the input as a C-contiguous (C, H, W, N) *block*, the
    layout convolutions return (other inputs are copied into it once, which
    padding does anyway): every tap then runs over N contiguous values, and
    NumPy's element-wise passes never mix layouts. The output is stored the
    same way, as an (N, C, OH, OW) view of a (C, OH, OW, N) block.
    """

    splits_over_threads = True

    def __init__(self, kernel_size, stride=None, padding=0) -> None:
        super().__init__()
        name = type(self).__name__
        self.kernel_size = pair(kernel_size, "kernel_size", name, minimum=1)
        self.stride = self.kernel_size if stride is None else pair(stride, "stride", name, minimum=1)
        self.padding = pair(padding, "padding", name, minimum=0)
        for p, k in zip(self.padding, self.kernel_size):
            if 2 * p > k:
                raise ConfigError(f"{name}: padding {self.padding} must be at most half the kernel "
                                  f"{self.kernel_size} (as in PyTorch)")
        self._x_shape = None
        self._arg = self._padded = None

    def output_shape(self, x_shape) -> tuple[int, int, int, int]:
        N, C, H, W = x_shape
        (KH, KW), (SH, SW), (PH, PW) = self.kernel_size, self.stride, self.padding
        if H + 2 * PH < KH or W + 2 * PW < KW:
            raise ShapeError(f"{self.describe()}: kernel {KH}x{KW} is larger than the padded input "
                             f"{H + 2 * PH}x{W + 2 * PW} (input {H}x{W}, padding {PH}x{PW})")
        return N, C, (H + 2 * PH - KH) // SH + 1, (W + 2 * PW - KW) // SW + 1

    def _prepare(self, x, fill: float):
        """Check x; return (padded block, OH, OW) and remember the input's shape."""
        check_input(self, x, ndim=4)
        if not np.issubdtype(x.dtype, np.floating):
            raise DTypeError(f"{self.describe()}: input must be floating point, got {x.dtype}; "
                             f"convert it with x.astype(np.float32)")
        _, _, OH, OW = self.output_shape(x.shape)
        self._x_shape = x.shape
        PH, PW = self.padding
        if PH or PW:
            return pad_block(x, PH, PW, fill), OH, OW  # (C, Hp, Wp, N)
        xp = get_array_module(x)
        return xp.ascontiguousarray(block_view(x)), OH, OW  # a view when x is stored CHWN

    def _block_shape(self, H: int, W: int) -> tuple[int, int, int, int]:
        N, C = self._x_shape[:2]
        return C, H, W, N

    def _taps(self, OH: int, OW: int):
        """(k, index): the part of the padded block under kernel offset k = i*KW + j, for every window."""
        (KH, KW), (SH, SW) = self.kernel_size, self.stride
        for i in range(KH):
            for j in range(KW):
                yield i * KW + j, (slice(None), slice(i, i + SH * (OH - 1) + 1, SH),
                                   slice(j, j + SW * (OW - 1) + 1, SW))

    def _overlapping(self) -> bool:
        return any(s < k for s, k in zip(self.stride, self.kernel_size))

    def _grad_block(self, xp, dtype):
        """Zeros of the padded input's block shape."""
        H, W = self._x_shape[2:]
        PH, PW = self.padding
        return xp.zeros(self._block_shape(H + 2 * PH, W + 2 * PW), dtype)

    def _dout_block(self, dout):
        """dout (N, C, OH, OW) as a contiguous (C, OH, OW, N) block."""
        return get_array_module(dout).ascontiguousarray(block_view(dout))

    def _crop(self, dblock):
        """dx from the padded gradient block: the interior, as an (N, C, H, W) view."""
        H, W = self._x_shape[2:]
        PH, PW = self.padding
        return from_block(dblock[:, PH:PH + H, PW:PW + W] if (PH or PW) else dblock)

    def get_config(self) -> dict[str, Any]:
        return {"kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": list(self.padding)}


@register_layer
class MaxPool2d(_Pool2d):
    """Maximum over each KH x KW window.

    Shapes: x (N, C, H, W) -> (N, C, OH, OW). ``stride`` defaults to the kernel size.
    The offset of each window's (first) maximum is kept for backward.
    """

    def forward(self, x, *, train: bool):
        xp = get_array_module(x)
        block, OH, OW = self._prepare(x, -np.inf)
        out = xp.empty(self._block_shape(OH, OW), x.dtype)
        if train:
            self._arg, self._padded = self._argmax(block, out), None
            return from_block(out)

        # Eval: the maximum alone; the window offsets are found later only if backward asks.
        def work(c: slice) -> None:
            for k, at in self._taps(OH, OW):
                if k == 0:
                    out[c] = block[c][at]
                else:
                    xp.maximum(out[c], block[c][at], out=out[c])

        self._in_channel_parts(work, block)
        self._arg, self._padded = None, block
        return from_block(out)

    def _in_channel_parts(self, work, block) -> None:
        """``work(channels)`` over parts of the channel axis of a (C, H, W, N) block, one part per thread."""
        threads.parallel_rows(work, block.shape[0], values_per_row=block[0].size, array=block)

    def _argmax(self, block, out):
        """Fill ``out`` with each window's maximum; return the offset k of its first maximum."""
        xp = get_array_module(block)
        KH, KW = self.kernel_size
        itype = np.uint8 if KH * KW <= 256 else np.int32
        arg = xp.zeros(out.shape, itype)

        def work(c: slice) -> None:
            better = xp.empty(out[c].shape, np.bool_)
            step = xp.empty(out[c].shape, itype)
            for k, at in self._taps(*out.shape[1:3]):
                v = block[c][at]  # tap k of every window
                if k == 0:
                    out[c] = v
                    continue
                # Strictly greater, so ties keep the first maximum. The running maximum's offset is
                # the last k at which it rose, i.e. max over k of k * better_k; arithmetic on the
                # mask is several times faster than masked copies.
                xp.greater(v, out[c], out=better)
                xp.maximum(out[c], v, out=out[c])
                xp.multiply(better, itype(k), out=step)
                xp.maximum(arg[c], step, out=arg[c])

        self._in_channel_parts(work, block)
        return arg

    def backward(self, dout):
        xp = get_array_module(dout)
        dblock = self._dout_block(dout)
        if self._arg is None:
            if self._padded is None:
                raise RuntimeError(f"{self.describe()}: backward called before forward")
            self._arg = self._argmax(self._padded, xp.empty_like(dblock))
            self._padded = None
        arg = self._arg
        dx = self._grad_block(xp, dblock.dtype)
        overlapping = self._overlapping()

        def work(c: slice) -> None:
            hit = xp.empty(arg[c].shape, np.bool_)
            for k, at in self._taps(*arg.shape[1:3]):
                xp.equal(arg[c], k, out=hit)
                if overlapping:
                    dx[c][at] += dblock[c] * hit
                else:
                    xp.multiply(dblock[c], hit, out=dx[c][at])

        self._in_channel_parts(work, dx)
        return self._crop(dx)


@register_layer
class AvgPool2d(_Pool2d):
    """Mean over each KH x KW window, zero padding counted (PyTorch's default).

    Shapes: x (N, C, H, W) -> (N, C, OH, OW). ``stride`` defaults to the kernel size.
    """

    def forward(self, x, *, train: bool):
        xp = get_array_module(x)
        block, OH, OW = self._prepare(x, 0.0)
        KH, KW = self.kernel_size
        out = xp.empty(self._block_shape(OH, OW), x.dtype)
        for k, at in self._taps(OH, OW):
            if k == 0:
                out[...] = block[at]
            else:
                out += block[at]
        out *= out.dtype.type(1.0 / (KH * KW))
        return from_block(out)

    def backward(self, dout):
        xp = get_array_module(dout)
        KH, KW = self.kernel_size
        share = self._dout_block(dout) * dout.dtype.type(1.0 / (KH * KW))  # each tap's part of the gradient
        dx = self._grad_block(xp, dout.dtype)
        overlapping = self._overlapping()
        for k, at in self._taps(*share.shape[1:3]):
            if overlapping:
                dx[at] += share
            else:
                dx[at] = share
        return self._crop(dx)


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
        xp = get_array_module(dout)
        N, C, H, W = self._x_shape
        dx = empty_chwn(xp, N, C, H, W, dout.dtype)
        dx[...] = dout.reshape(N, C, 1, 1) * dout.dtype.type(1.0 / (H * W))
        return dx

    def get_config(self) -> dict[str, Any]:
        return {"keepdim": self.keepdim}
