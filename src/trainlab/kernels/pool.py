"""Fast pooling: the reference of :mod:`trainlab.layers.pooling`, tap by tap on (C, H, W, N) blocks.

1. Storage. The input is read as a C-contiguous (C, H, W, N) block, the
   layout the fast convolution returns (other inputs are copied into it once,
   which padding does anyway): every kernel tap is then one strided view that
   runs over N contiguous values, and the output is stored the same way.
2. No columns. A pool costs KH*KW vectorised passes over those views (the
   reference builds an im2col matrix KH*KW times the input).
3. Deferred argmax. An eval pass computes the maxima only; the offsets of the
   maxima are found later, only if backward asks for them.
4. Shared row maxima. Windows that overlap with stride 1 (Inception's 3x3
   pool) share most of their values, so the maximum is taken in two passes:
   over each row of the window (KW taps, for every row of the padded input),
   then over those row maxima (KH taps): KH + KW taps instead of KH * KW. The
   first maximum in the window's row-major order is the first row whose row
   maximum is largest, at that row's first maximum, so the offsets are the
   reference's; backward sends the gradient down the same two steps.
5. Threads. Channels are independent: large passes run in channel parts, one per thread.
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


def _shared_rows(kernel_size, stride) -> bool:
    """Whether a max pool runs in two passes (row maxima, then their maxima): windows overlapping with stride 1."""
    return tuple(stride) == (1, 1) and kernel_size[0] > 1 and kernel_size[1] > 1


def _running_max(out, taps, arg=None) -> None:
    """``out = max over taps`` (``out`` already holds tap 0); with ``arg``, the index of each first maximum.

    A later tap replaces the maximum only when strictly greater, so ties keep the first; its index
    is the last tap at which the maximum rose, i.e. the largest ``t * rose_t`` (arithmetic on the
    mask is several times faster than masked copies).
    """
    xp = get_array_module(out)
    better = step = None
    if arg is not None:
        better, step = xp.empty(out.shape, np.bool_), xp.empty(out.shape, arg.dtype)
    for t, v in taps:
        if arg is not None:
            xp.greater(v, out, out=better)
            xp.maximum(out, v, out=out)
            xp.multiply(better, arg.dtype.type(t), out=step)
            xp.maximum(arg, step, out=arg)
        else:
            xp.maximum(out, v, out=out)


def _max_in_two_passes(block, out, kernel_size, offsets: bool):
    """Stride-1 window maxima of a padded (C, Hp, Wp, N) block into ``out`` (C, OH, OW, N) through the
    row maxima; with ``offsets``, returns (row of each window's maximum (C, OH, OW, N), column of each
    row maximum (C, Hp, OW, N)), both uint8."""
    xp = get_array_module(block)
    KH, KW = kernel_size
    C, Hp = block.shape[:2]
    OH, OW = out.shape[1:3]
    row_arg = xp.zeros(out.shape, np.uint8) if offsets else None
    col_arg = xp.zeros((C, Hp, OW, block.shape[3]), np.uint8) if offsets else None

    def work(c: slice) -> None:
        b = block[c]
        rows = xp.empty((b.shape[0], Hp, OW, b.shape[3]), b.dtype)  # each row's maximum over KW columns
        rows[...] = b[:, :, 0:OW]
        _running_max(rows, ((j, b[:, :, j:j + OW]) for j in range(1, KW)),
                     None if col_arg is None else col_arg[c])
        o = out[c]
        o[...] = rows[:, 0:OH]
        _running_max(o, ((i, rows[:, i:i + OH]) for i in range(1, KH)), None if row_arg is None else row_arg[c])

    _in_channel_parts(work, block)
    return None if row_arg is None else (row_arg, col_arg)


@fast("max_pool2d_forward")
def max_pool2d_forward(x, kernel_size, stride, padding, *, train: bool = True):
    """Fast :func:`trainlab.layers.pooling.max_pool2d_forward`."""
    xp = get_array_module(x)
    config, block, out, OH, OW = _prepare(x, kernel_size, stride, padding, -np.inf)
    kernel_size, stride = config[1], config[2]
    if _shared_rows(kernel_size, stride):
        if train:
            return from_block(out), [config, _max_in_two_passes(block, out, kernel_size, True), None]
        _max_in_two_passes(block, out, kernel_size, False)
        return from_block(out), [config, None, block]
    if train:
        return from_block(out), [config, _argmax(block, out, kernel_size, stride), None]

    def work(c: slice) -> None:  # eval: the maxima alone
        taps = ((k, block[c][at]) for k, at in _taps(kernel_size, stride, OH, OW))
        out[c] = next(taps)[1]
        _running_max(out[c], taps)

    _in_channel_parts(work, block)
    return from_block(out), [config, None, block]


def _argmax(block, out, kernel_size, stride):
    """Fill ``out`` with each window's maximum; return the offset k of its first maximum."""
    xp = get_array_module(block)
    KH, KW = kernel_size
    itype = np.uint8 if KH * KW <= 256 else np.int32
    arg = xp.zeros(out.shape, itype)

    def work(c: slice) -> None:
        taps = ((k, block[c][at]) for k, at in _taps(kernel_size, stride, *out.shape[1:3]))  # tap k of every window
        out[c] = next(taps)[1]
        _running_max(out[c], taps, arg[c])

    _in_channel_parts(work, block)
    return arg


@fast("max_pool2d_backward")
def max_pool2d_backward(dout, cache):
    """Fast :func:`trainlab.layers.pooling.max_pool2d_backward`."""
    xp = get_array_module(dout)
    (x_shape, kernel_size, stride, padding), arg, padded = cache
    dblock = xp.ascontiguousarray(block_view(dout))  # (C, OH, OW, N)
    shared = _shared_rows(kernel_size, stride)
    if arg is None:  # the forward pass was an eval pass: find the maxima's offsets now, once
        maxima = xp.empty_like(dblock)
        arg = cache[1] = (_max_in_two_passes(padded, maxima, kernel_size, True) if shared
                          else _argmax(padded, maxima, kernel_size, stride))
        cache[2] = None
    dx = _grad_block(xp, x_shape, padding, dblock.dtype)
    if shared:
        return _crop(_backward_two_passes(dblock, arg, kernel_size, dx), x_shape, padding)
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


def _backward_two_passes(dblock, arg, kernel_size, dx):
    """The gradient of :func:`_max_in_two_passes` into the zero padded block ``dx``: each window's
    gradient to its maximum's row maximum, then each row maximum's to its column."""
    xp = get_array_module(dblock)
    row_arg, col_arg = arg
    KH, KW = kernel_size
    OH, OW = dblock.shape[1:3]

    def work(c: slice) -> None:
        d = dblock[c]
        drows = xp.zeros(col_arg[c].shape, d.dtype)  # (C, Hp, OW, N): the gradient of each row maximum
        hit = xp.empty(d.shape, np.bool_)
        for i in range(KH):
            xp.equal(row_arg[c], i, out=hit)
            drows[:, i:i + OH] += d * hit
        hit = xp.empty(drows.shape, np.bool_)
        for j in range(KW):
            xp.equal(col_arg[c], j, out=hit)
            dx[c][:, :, j:j + OW] += drows * hit

    _in_channel_parts(work, dx)
    return dx


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
