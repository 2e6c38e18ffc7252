"""Fast 2-D convolution: the reference kernel of :mod:`trainlab.layers.conv`, reorganised for speed.

Same arguments, same results (to float rounding); what changes is how the
work moves through memory. What each piece was measured to gain is in
``docs/cnn.md`` ("How the fast convolution is computed", "What limits the speed").

1. Storage. The output is stored as a C-contiguous (FN, OH, OW, N) block and
   returned as its (N, FN, OH, OW) view: the batch is the innermost axis. The
   columns matrix is then ``col (C*FH*FW, OH*OW*N)``, the transpose of the
   book's, and ``W (FN, C*FH*FW) @ col`` *is* the output block: no transpose
   after the product, none before the backward products, and each row of
   ``col`` is copied from a (C, H, W, N) input in runs of OW*N values.
2. Fused bias. ``col`` gets a last row of ones and the weight the bias as its
   last column: ``W x + b`` is one product, and ``[dW | db]`` comes back from one.
3. Row blocks. For stride 1, training never builds ``col`` whole (it is FH*FW
   times the input): the columns of a block of output rows are a contiguous
   slice of it, built in a small work array and multiplied while in cache.
   Backward rebuilds the same blocks from the kept padded input for ``dW``,
   and ``dx`` (the "full" correlation of ``dout`` with the flipped kernel,
   channels swapped) is built the same way, a block of input rows at a time.
4. Threads. Blocks (and the im2col copies, and large products) are shared out
   among trainlab's threads (:mod:`trainlab.kernels.threads`), each with its
   own work array (:mod:`trainlab.kernels.scratch`); partial sums are added
   in part order, so results do not depend on timing.
5. Eval chunks. An eval pass over a large batch keeps nothing for backward and
   works on chunks of samples, as many for each thread, so evaluating 10,000
   images never allocates the whole columns matrix; a batch whose output rows
   are short enough (batch 100 of these networks) runs as training does, in row
   blocks of the whole batch: 7-10% faster eval passes than chunks of samples
   there (``benchmarks/kernel_ab.py --choices eval-whole-rows --eval 100``).

Reference: Chellapilla et al., 2006 (convolution as a matrix product); Dumoulin
& Visin, 2016 (the transposed convolution as a convolution, sec. 4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trainlab.backend import get_array_module
from trainlab.kernels import scratch, threads
from trainlab.kernels.layout import block_view, from_block
from trainlab.kernels.registry import fast

#: An eval pass whose columns matrix would hold more than this many values runs in chunks of samples.
EVAL_COL_LIMIT = 1 << 22
#: An eval pass whose output row holds at most this many column values (all samples) runs as a training
#: pass does, in row blocks of the whole batch; longer rows (a large batch) run in chunks of samples.
EVAL_WHOLE_ROW_VALUES = 1 << 20
#: Stride-1 training passes build the columns of at most about this many values at a time (1 MiB
#: of float32, a core's second-level cache on the machines measured). 0: the whole matrix at once.
ROW_BLOCK_VALUES = 1 << 18


def window_view(block, FH: int, FW: int, SH: int, SW: int, OH: int, OW: int):
    """The (C, FH, FW, OH, OW, N) view of a (padded) (C, H, W, N) block: element
    [c, i, j, oh, ow, n] is block[c, oh*SH + i, ow*SW + j, n]. No copy."""
    xp = get_array_module(block)
    sC, sH, sW, sN = block.strides
    C, N = block.shape[0], block.shape[3]
    return xp.lib.stride_tricks.as_strided(
        block, shape=(C, FH, FW, OH, OW, N), strides=(sC, sH, sW, sH * SH, sW * SW, sN))


def zero_border(block, PH: int, PW: int, value: float = 0.0) -> None:
    """Fill the PH-row and PW-column border of a (C, Hp, Wp, N) block with ``value``."""
    if PH:
        block[:, :PH] = value
        block[:, block.shape[1] - PH:] = value
    if PW:
        block[:, :, :PW] = value
        block[:, :, block.shape[2] - PW:] = value


def pad_block(x, PH: int, PW: int, value: float = 0.0, out=None):
    """The (C, H + 2*PH, W + 2*PW, N) block of ``x`` (N, C, H, W) padded with ``value``.

    ``out``, when given, is a block of that shape whose border already holds ``value``.
    """
    xp = get_array_module(x)
    N, C, H, W = x.shape
    if out is None:
        out = xp.empty((C, H + 2 * PH, W + 2 * PW, N), x.dtype)
        zero_border(out, PH, PW, value)
    interior, source = out[:, PH:PH + H, PW:PW + W, :], block_view(x)
    threads.parallel_rows(lambda c: xp.copyto(interior[c], source[c]), C,
                          values_per_row=H * W * N, array=x)
    return out


def im2col(x, FH: int, FW: int, stride=(1, 1), padding=(0, 0), out=None):
    """Columns of ``x`` (N, C, H, W) for an FH x FW kernel, as (C*FH*FW, OH*OW*N).

    Row ``(c, i, j)`` holds the input value under kernel tap (i, j) of channel c
    for every output position (oh, ow, n). ``out`` is an optional C-contiguous
    array of the result's shape to fill.
    """
    xp = get_array_module(x)
    N, C, H, W = x.shape
    (SH, SW), (PH, PW) = stride, padding
    OH = (H + 2 * PH - FH) // SH + 1
    OW = (W + 2 * PW - FW) // SW + 1
    block = pad_block(x, PH, PW) if (PH or PW) else block_view(x)
    if out is None:
        out = xp.empty((C * FH * FW, OH * OW * N), x.dtype)
    cols6, windows = out.reshape(C, FH, FW, OH, OW, N), window_view(block, FH, FW, SH, SW, OH, OW)
    threads.parallel_rows(lambda c: xp.copyto(cols6[c], windows[c]), C,
                          values_per_row=FH * FW * OH * OW * N, array=x)
    return out


def col2im(dcol, x_shape, FH: int, FW: int, stride=(1, 1), padding=(0, 0)):
    """Adjoint of :func:`im2col`: add the columns (C*FH*FW, OH*OW*N) back into an (N, C, H, W) array.

    One strided add per kernel offset; taps that fall into the padding are
    skipped, so no padded buffer is needed. The result is stored as a (C, H, W, N) block.
    """
    xp = get_array_module(dcol)
    N, C, H, W = x_shape
    (SH, SW), (PH, PW) = stride, padding
    OH = (H + 2 * PH - FH) // SH + 1
    OW = (W + 2 * PW - FW) // SW + 1
    dcol6 = dcol.reshape(C, FH, FW, OH, OW, N)
    dx = xp.zeros((C, H, W, N), dcol.dtype)
    rows = [_valid_range(i, SH, PH, H, OH) for i in range(FH)]
    cols = [_valid_range(j, SW, PW, W, OW) for j in range(FW)]

    def work(c: slice) -> None:  # the channels of one thread
        for i, (oh0, oh1, h0) in enumerate(rows):
            if oh1 <= oh0:
                continue
            hs = slice(h0, h0 + (oh1 - oh0 - 1) * SH + 1, SH)
            for j, (ow0, ow1, w0) in enumerate(cols):
                if ow1 <= ow0:
                    continue
                ws = slice(w0, w0 + (ow1 - ow0 - 1) * SW + 1, SW)
                dx[c, hs, ws, :] += dcol6[c, i, j, oh0:oh1, ow0:ow1, :]  # (C, oh, ow, N)

    threads.parallel_rows(work, C, values_per_row=FH * FW * OH * OW * N, array=dcol)
    return from_block(dx)


def _valid_range(i: int, S: int, P: int, size: int, out_size: int) -> tuple[int, int, int]:
    """Output positions [o0, o1) whose tap at offset i lands inside the unpadded input, and its first index."""
    o0 = max(0, -(-(P - i) // S))  # ceil((P - i) / S)
    o1 = min(out_size, (size - 1 + P - i) // S + 1)
    return o0, o1, o0 * S + i - P


@dataclass
class ConvCache:
    """What the fast backward needs: the columns (whole) or the padded input block (row blocks)."""

    x_shape: tuple
    W: Any
    has_bias: bool
    stride: tuple
    padding: tuple
    col: Any = None
    block: Any = None


def _pointwise(W, stride, padding) -> bool:
    return W.shape[2:] == (1, 1) and tuple(stride) == (1, 1) and tuple(padding) == (0, 0)


def _row_blocks_apply(W, stride, padding) -> bool:
    FH, FW = W.shape[2:]
    PH, PW = padding
    return (ROW_BLOCK_VALUES > 0 and tuple(stride) == (1, 1) and not _pointwise(W, stride, padding)
            and PH < FH and PW < FW)


def _with_bias(W2, b):
    """``[W2 | b]``: the weight with the bias as its last column (for the row of ones in the columns)."""
    return get_array_module(W2).concatenate([W2, b[:, None]], axis=1)


@fast("conv2d_forward")
def conv2d_forward(x, W, b, stride, padding, *, train: bool = True):
    """Fast :func:`trainlab.layers.conv.conv2d_forward`; the output is stored as a (FN, OH, OW, N) block."""
    xp = get_array_module(x)
    stride, padding = tuple(stride), tuple(padding)
    N, C = x.shape[:2]
    FN, _, FH, FW = W.shape
    (SH, SW), (PH, PW) = stride, padding
    OH = (x.shape[2] + 2 * PH - FH) // SH + 1
    OW = (x.shape[3] + 2 * PW - FW) // SW + 1
    W2 = W.reshape(FN, C * FH * FW)  # (FN, C*FH*FW)
    cache = ConvCache(tuple(x.shape), W, b is not None, stride, padding)
    rows = _row_blocks_apply(W, stride, padding)
    if rows and (train or (C * FH * FW + (b is not None)) * OW * N <= EVAL_WHOLE_ROW_VALUES):
        # Training, or an eval pass whose output rows are short enough to be done for the whole batch
        # (as in training; the padded input is kept, so that a backward pass may follow).
        cache.block = pad_block(x, PH, PW)  # a copy with a zero border, kept for backward
        windows = window_view(cache.block, FH, FW, 1, 1, OH, OW)
        out = _correlate_in_row_blocks(windows, W2 if b is None else _with_bias(W2, b), ones=b is not None)
        return from_block(out.reshape(FN, OH, OW, N)), cache
    pointwise = _pointwise(W, stride, padding)
    if train or N * C * FH * FW * OH * OW <= EVAL_COL_LIMIT or pointwise:
        fused = b is not None and not pointwise
        cache.col = _columns(x, FH, FW, stride, padding, ones=fused)  # (C*FH*FW [+ 1], OH*OW*N)
        out2 = threads.matmul(_with_bias(W2, b) if fused else W2, cache.col)  # (FN, OH*OW*N)
        if b is not None and not fused:
            out2 += b[:, None]
        return from_block(out2.reshape(FN, OH, OW, N)), cache
    if rows:
        return _forward_eval_row_blocks(x, W2, b, (FH, FW, OH, OW), padding), None
    out = xp.empty((FN, OH, OW, N), x.dtype)
    step = max(1, EVAL_COL_LIMIT // (C * FH * FW * OH * OW))
    for n0 in range(0, N, step):
        n1 = min(N, n0 + step)
        chunk = threads.matmul(W2, im2col(x[n0:n1], FH, FW, stride, padding))  # (FN, OH*OW*n)
        if b is not None:
            chunk += b[:, None]
        out[..., n0:n1] = chunk.reshape(FN, OH, OW, n1 - n0)
    return from_block(out), None


@fast("conv2d_backward")
def conv2d_backward(dout, cache: ConvCache, *, input_grad: bool = True):
    """Fast :func:`trainlab.layers.conv.conv2d_backward`: ``(dx or None, dW, db or None)``."""
    if cache.block is not None:
        return _backward_row_blocks(dout, cache, input_grad)
    xp = get_array_module(dout)
    N, C, H, W = cache.x_shape
    FN, _, FH, FW = cache.W.shape
    (PH, PW) = cache.padding
    dout2 = block_view(dout).reshape(FN, -1)  # (FN, OH*OW*N); free when dout is stored CHWN
    # (col @ dout2.T).T: the same numbers, but OpenBLAS runs this orientation of a
    # short-and-very-wide product faster (docs/cnn.md).
    grad = threads.matmul(cache.col, dout2.T).T  # (FN, C*FH*FW [+ 1])
    K = C * FH * FW
    dW = xp.ascontiguousarray(grad[:, :K]).reshape(FN, C, FH, FW)
    db = None
    if cache.has_bias:
        # With the row of ones in col, the bias gradient is grad's last column.
        db = grad[:, K].copy() if grad.shape[1] > K else dout2.sum(axis=1)
    if not input_grad:
        return None, dW, db
    W2 = cache.W.reshape(FN, K)
    if _pointwise(cache.W, cache.stride, cache.padding):
        return from_block(threads.matmul(W2.T, dout2).reshape(C, H, W, N)), dW, db
    if cache.stride == (1, 1) and PH < FH and PW < FW:
        # Stride 1: dx is the "full" correlation of dout with the flipped kernel, channels swapped.
        W_flip = _flipped(cache.W)
        dcols = im2col(dout, FH, FW, (1, 1), (FH - 1 - PH, FW - 1 - PW))  # (FN*FH*FW, H*W*N)
        return from_block(threads.matmul(W_flip, dcols).reshape(C, H, W, N)), dW, db
    with scratch.borrowed("conv-dcol", (K, dout2.shape[1]), dout2.dtype, xp) as dcol:
        threads.matmul(W2.T, dout2, out=dcol)  # (C*FH*FW, OH*OW*N)
        dx = col2im(dcol, cache.x_shape, FH, FW, cache.stride, cache.padding)
    return dx, dW, db


def _flipped(W):
    """The kernel turned by 180 degrees with in and out channels swapped, as (C, FN*FH*FW)."""
    FN, C, FH, FW = W.shape
    return W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).reshape(C, FN * FH * FW)


def _columns(x, FH: int, FW: int, stride, padding, *, ones: bool):
    """im2col of x into a new array, with a last row of ones when ``ones``; a 1x1 convolution's
    columns are x itself (a view when x is stored CHWN)."""
    xp = get_array_module(x)
    if FH == FW == 1 and stride == (1, 1) and padding == (0, 0) and not ones:
        return block_view(x).reshape(x.shape[1], -1)  # (C, H*W*N)
    N, C, H, W = x.shape
    (SH, SW), (PH, PW) = stride, padding
    OH, OW = (H + 2 * PH - FH) // SH + 1, (W + 2 * PW - FW) // SW + 1
    K = C * FH * FW
    col = xp.empty((K + ones, OH * OW * N), x.dtype)
    if ones:
        col[K].fill(1)
    im2col(x, FH, FW, stride, padding, out=col[:K])
    return col


def _row_blocks(rows_per_output_row: int, n_rows: int) -> list[tuple[int, int]]:
    """The (r0, r1) blocks of output rows: at most ROW_BLOCK_VALUES column values each, and at
    least one block per thread, so that every thread has blocks to work on."""
    height = max(1, min(n_rows, ROW_BLOCK_VALUES // max(1, rows_per_output_row)))
    height = max(1, min(height, -(-n_rows // threads.get_num_threads())))
    return [(r0, min(n_rows, r0 + height)) for r0 in range(0, n_rows, height)]


def _block_work_array(windows, blocks, ones: bool):
    """A work array for the columns of the largest block: (K [+ 1], height*OW*N), its ones row set once."""
    xp = get_array_module(windows)
    C, FH, FW, OH, OW, N = windows.shape
    K = C * FH * FW
    height = max(r1 - r0 for r0, r1 in blocks)

    def prepare(work):
        if ones:
            work[K].fill(1)  # stays: only the rows above it are ever rewritten

    tag = "conv-rows+1" if ones else "conv-rows"
    return scratch.borrowed(tag, (K + ones, height * OW * N), windows.dtype, xp, prepare=prepare)


def _block_columns(windows, work, r0: int, r1: int):
    """Columns of output rows [r0, r1) in the work array: (K [+ 1], (r1 - r0)*OW*N)."""
    C, FH, FW, OH, OW, N = windows.shape
    K = C * FH * FW
    cols = work[:, :(r1 - r0) * OW * N]
    cols[:K].reshape(C, FH, FW, r1 - r0, OW, N)[...] = windows[:, :, :, r0:r1]
    return cols


def _correlate_in_row_blocks(windows, Wmat, *, ones: bool):
    """``Wmat @ columns(windows)`` as (rows of Wmat, OH*OW*N), built one block of output rows at a time."""
    xp = get_array_module(windows)
    C, FH, FW, OH, OW, N = windows.shape
    out = xp.empty((Wmat.shape[0], OH * OW * N), windows.dtype)
    blocks = _row_blocks(C * FH * FW * OW * N, OH)

    def work(_part: int, first: int, stop: int) -> None:
        with _block_work_array(windows, blocks[first:stop], ones) as buffer:
            for r0, r1 in blocks[first:stop]:
                xp.matmul(Wmat, _block_columns(windows, buffer, r0, r1), out=out[:, r0 * OW * N:r1 * OW * N])

    threads.run_parts(work, len(blocks), array=windows)
    return out


def _forward_eval_row_blocks(x, W2, b, sizes, padding):
    """Eval forward pass of a large batch: chunks of samples shared out among the threads, each
    padded and correlated in blocks of output rows. Nothing is kept for backward."""
    xp = get_array_module(x)
    N = x.shape[0]
    FN, K = W2.shape
    FH, FW, OH, OW = sizes
    PH, PW = padding
    Wb = W2 if b is None else _with_bias(W2, b)
    out = xp.empty((FN, OH, OW, N), x.dtype)
    # Chunks small enough that one output row's columns fit a row block, as many for each thread:
    # at batch 100, chunks of 72 and 28 samples left one thread idle for most of the pass.
    parts = threads.get_num_threads()
    count = -(-N // max(1, ROW_BLOCK_VALUES // (K * OW)))
    count = min(N, -(-count // parts) * parts)
    bounds = [(N * k // count, N * (k + 1) // count) for k in range(count)]

    def work(_part: int, first: int, stop: int) -> None:
        for n0, n1 in bounds[first:stop]:
            windows = window_view(pad_block(x[n0:n1], PH, PW), FH, FW, 1, 1, OH, OW)
            # Inside a part this runs in the part's own thread, with a work array of its own.
            result = _correlate_in_row_blocks(windows, Wb, ones=b is not None)
            out[..., n0:n1] = result.reshape(FN, OH, OW, n1 - n0)

    threads.run_parts(work, len(bounds), array=x)
    return from_block(out)


def _backward_row_blocks(dout, cache: ConvCache, input_grad: bool):
    xp = get_array_module(dout)
    N, C, H, W = cache.x_shape
    FN, _, FH, FW = cache.W.shape
    PH, PW = cache.padding
    OH, OW = dout.shape[2], dout.shape[3]
    K = C * FH * FW
    dout2 = block_view(dout).reshape(FN, -1)  # (FN, OH*OW*N); free when dout is stored CHWN
    fused = cache.has_bias
    windows = window_view(cache.block, FH, FW, 1, 1, OH, OW)
    blocks = _row_blocks(K * OW * N, OH)

    def work(_part: int, first: int, stop: int):
        grad = xp.zeros((K + fused, FN), dout2.dtype)  # [dW | db] transposed, summed over blocks
        with _block_work_array(windows, blocks[first:stop], fused) as buffer:
            for r0, r1 in blocks[first:stop]:
                # (cols @ dout.T) rather than (dout @ cols.T): OpenBLAS runs this orientation faster.
                grad += _block_columns(windows, buffer, r0, r1) @ dout2[:, r0 * OW * N:r1 * OW * N].T
        return grad

    partial = threads.run_parts(work, len(blocks), array=dout2)
    grad = partial[0]
    for more in partial[1:]:  # in part order, so the sum does not depend on timing
        grad += more
    dW = xp.ascontiguousarray(grad[:K].T).reshape(FN, C, FH, FW)
    db = grad[K].copy() if fused else None
    if not input_grad:
        return None, dW, db
    # dx: the "full" correlation of dout with the flipped kernel, a block of input rows at a time.
    DH, DW = FH - 1 - PH, FW - 1 - PW
    shape = (FN, OH + 2 * DH, OW + 2 * DW, N)
    with scratch.borrowed(f"padded{DH},{DW}", shape, dout.dtype, xp,
                          prepare=lambda block: zero_border(block, DH, DW)) as dblock:
        pad_block(dout, DH, DW, out=dblock)
        dx = _correlate_in_row_blocks(window_view(dblock, FH, FW, 1, 1, H, W), _flipped(cache.W), ones=False)
    return from_block(dx.reshape(C, H, W, N)), dW, db
