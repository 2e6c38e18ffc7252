"""Fast pooling: the reference of :mod:`trainlab.layers.pooling`, tap by tap on (C, H, W, N) blocks.

1. Storage. The input is read as a C-contiguous (C, H, W, N) block, the
   layout the fast convolution returns (other inputs are copied into it once,
   which padding does anyway): every kernel tap is then one strided view that
   runs over N contiguous values, and the output is stored the same way.
2. No columns. A pool costs KH*KW vectorised passes over those views (the
   reference builds an im2col matrix KH*KW times the input).
3. Deferred argmax. An eval pass computes the maxima only; the offsets of the
   maxima are found later, only if backward asks for them.
4. Threads. Channels are independent: large passes run in channel parts, one per thread.
"""

from __future__ import annotations

import numpy as np

from trainlab.backend import get_array_module
from trainlab.kernels import threads
from trainlab.kernels.conv import pad_block
from trainlab.kernels.layout import block_view, empty_chwn, from_block
from trainlab.kernels.registry import fast


def _block(x, padding, fill: float):
    """x (N, C, H, W) as a padded C-contiguous (C, Hp, Wp, N) block (a view when x is stored CHWN, unpadded)."""
    PH, PW = padding
    if PH or PW:
        return pad_block(x, PH, PW, fill)
    return get_array_module(x).ascontiguousarray(block_view(x))


def _taps(kernel_size, stride, OH: int, OW: int):
    """(k, index): the part of the padded block under kernel offset k = i*KW + j, for every window."""
    (KH, KW), (SH, SW) = kernel_size, stride
    for i in range(KH):
        for j in range(KW):
            yield i * KW + j, (slice(None), slice(i, i + SH * (OH - 1) + 1, SH),
                               slice(j, j + SW * (OW - 1) + 1, SW))


def _overlapping(kernel_size, stride) -> bool:
    return any(s < k for s, k in zip(stride, kernel_size))


def _output_hw(x_shape, kernel_size, stride, padding) -> tuple[int, int]:
    (KH, KW), (SH, SW), (PH, PW) = kernel_size, stride, padding
    return (x_shape[2] + 2 * PH - KH) // SH + 1, (x_shape[3] + 2 * PW - KW) // SW + 1


def _grad_block(xp, x_shape, padding, dtype):
    """Zeros of the padded input's (C, Hp, Wp, N) block shape."""
    N, C, H, W = x_shape
    PH, PW = padding
    return xp.zeros((C, H + 2 * PH, W + 2 * PW, N), dtype)


def _crop(dblock, x_shape, padding):
    """dx from the padded gradient block: the interior, as an (N, C, H, W) view."""
    H, W = x_shape[2:]
    PH, PW = padding
    return from_block(dblock[:, PH:PH + H, PW:PW + W] if (PH or PW) else dblock)


def _in_channel_parts(work, block) -> None:
    """``work(channels)`` over parts of the channel axis of a (C, H, W, N) block, one part per thread."""
    threads.parallel_rows(work, block.shape[0], values_per_row=block[0].size, array=block)


def _prepare(x, kernel_size, stride, padding, fill: float):
    """(config, padded input block, empty (C, OH, OW, N) output block, OH, OW) of a pooling pass."""
    config = (tuple(x.shape), tuple(kernel_size), tuple(stride), tuple(padding))
    N, C = x.shape[:2]
    OH, OW = _output_hw(x.shape, kernel_size, stride, padding)
    out = get_array_module(x).empty((C, OH, OW, N), x.dtype)
    return config, _block(x, padding, fill), out, OH, OW


@fast("max_pool2d_forward")
def max_pool2d_forward(x, kernel_size, stride, padding, *, train: bool = True):
    """Fast :func:`trainlab.layers.pooling.max_pool2d_forward`."""
    xp = get_array_module(x)
    config, block, out, OH, OW = _prepare(x, kernel_size, stride, padding, -np.inf)
    kernel_size, stride = config[1], config[2]
    if train:
        return from_block(out), [config, _argmax(block, out, kernel_size, stride), None]

    def work(c: slice) -> None:  # eval: the maxima alone
        for k, at in _taps(kernel_size, stride, OH, OW):
            if k == 0:
                out[c] = block[c][at]
            else:
                xp.maximum(out[c], block[c][at], out=out[c])

    _in_channel_parts(work, block)
    return from_block(out), [config, None, block]


def _argmax(block, out, kernel_size, stride):
    """Fill ``out`` with each window's maximum; return the offset k of its first maximum."""
    xp = get_array_module(block)
    KH, KW = kernel_size
    itype = np.uint8 if KH * KW <= 256 else np.int32
    arg = xp.zeros(out.shape, itype)

    def work(c: slice) -> None:
        better = xp.empty(out[c].shape, np.bool_)
        step = xp.empty(out[c].shape, itype)
        for k, at in _taps(kernel_size, stride, *out.shape[1:3]):
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

    _in_channel_parts(work, block)
    return arg


@fast("max_pool2d_backward")
def max_pool2d_backward(dout, cache):
    """Fast :func:`trainlab.layers.pooling.max_pool2d_backward`."""
    xp = get_array_module(dout)
    (x_shape, kernel_size, stride, padding), arg, padded = cache
    dblock = xp.ascontiguousarray(block_view(dout))  # (C, OH, OW, N)
    if arg is None:  # the forward pass was an eval pass: find the maxima's offsets now, once
        arg = cache[1] = _argmax(padded, xp.empty_like(dblock), kernel_size, stride)
        cache[2] = None
    dx = _grad_block(xp, x_shape, padding, dblock.dtype)
    overlapping = _overlapping(kernel_size, stride)

    def work(c: slice) -> None:
        hit = xp.empty(arg[c].shape, np.bool_)
        for k, at in _taps(kernel_size, stride, *arg.shape[1:3]):
            xp.equal(arg[c], k, out=hit)
            if overlapping:
                dx[c][at] += dblock[c] * hit
            else:
                xp.multiply(dblock[c], hit, out=dx[c][at])

    _in_channel_parts(work, dx)
    return _crop(dx, x_shape, padding)


@fast("avg_pool2d_forward")
def avg_pool2d_forward(x, kernel_size, stride, padding, *, train: bool = True):
    """Fast :func:`trainlab.layers.pooling.avg_pool2d_forward`."""
    config, block, out, OH, OW = _prepare(x, kernel_size, stride, padding, 0.0)
    kernel_size, stride = config[1], config[2]
    KH, KW = kernel_size
    for k, at in _taps(kernel_size, stride, OH, OW):
        if k == 0:
            out[...] = block[at]
        else:
            out += block[at]
    out *= out.dtype.type(1.0 / (KH * KW))
    return from_block(out), config


@fast("avg_pool2d_backward")
def avg_pool2d_backward(dout, cache):
    """Fast :func:`trainlab.layers.pooling.avg_pool2d_backward`."""
    xp = get_array_module(dout)
    x_shape, kernel_size, stride, padding = cache
    KH, KW = kernel_size
    share = xp.ascontiguousarray(block_view(dout)) * dout.dtype.type(1.0 / (KH * KW))  # each tap's part
    dx = _grad_block(xp, x_shape, padding, dout.dtype)
    overlapping = _overlapping(kernel_size, stride)
    for k, at in _taps(kernel_size, stride, *share.shape[1:3]):
        if overlapping:
            dx[at] += share
        else:
            dx[at] = share
    return _crop(dx, x_shape, padding)


@fast("global_avg_pool2d_backward")
def global_avg_pool2d_backward(dout, x_shape):
    """Fast :func:`trainlab.layers.pooling.global_avg_pool2d_backward`: dx stored as a (C, H, W, N) block."""
    xp = get_array_module(dout)
    N, C, H, W = x_shape
    dx = empty_chwn(xp, N, C, H, W, dout.dtype)
    dx[...] = dout.reshape(N, C, 1, 1) * dout.dtype.type(1.0 / (H * W))
    return dx
