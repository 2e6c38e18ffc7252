"""2-D convolution by im2col: one matrix product forward, two backward.

Layout. Arrays are (N, C, H, W) at every interface, but a convolution
*stores* its output as a C-contiguous (C, H, W, N) block and returns the
transposed view: the batch is the innermost axis. NumPy treats such arrays
like any other (``np.ascontiguousarray`` gives a row-major copy); layers that
follow read them through their strides, and for the ones here the layout
pays twice:

- the columns matrix is ``col (C*FH*FW, OH*OW*N)``, the transpose of the
  book's ``(N*OH*OW, C*FH*FW)``; from a (C, H, W, N) block, each of its rows
  is copied in runs of OW*N contiguous values (not OW), and
- ``W (FN, C*FH*FW) @ col`` is ``(FN, OH*OW*N)``, which *is* the output block:
  no transpose after the product, and none before the backward products.

Backward: ``dW = dout2 @ col.T`` is one product over the whole batch. For
stride 1, ``dx`` is the "full" correlation of ``dout`` with the flipped
kernel (channels swapped): one more im2col and product, no scatter-add.
Otherwise ``dcol = W.T @ dout2`` goes back through col2im, one strided add
per kernel offset (FH*FW of them), never a loop over pixels or samples.

Row blocks. The columns matrix is FH*FW times larger than the input (9x for
3x3), too large for the processor's cache at batch 100, so writing it and
reading it back costs as much memory traffic as the products themselves. In
training, a stride-1 convolution therefore never builds it whole: its output
columns for a block of output rows are a contiguous slice of ``col``, so the
layer builds that slice in a small work array, multiplies it while it is in
cache, and moves to the next block. Backward rebuilds the same blocks from the
kept (padded) input for ``dW``, and builds ``dx`` in blocks of input rows the
same way. This does the im2col copies twice but moves far less memory: it made
a DeepConvNet training step 1.3-1.4x faster (``benchmarks/step_time.py``).
An eval pass over a large batch works the same way on chunks of samples (it
keeps nothing for backward); the blocks and chunks are shared out among
trainlab's threads (:mod:`trainlab.threads`).

Reference: Saito, *Deep Learning from Scratch*, sec. 7.4 (im2col, Convolution
layer); Chellapilla et al., 2006 (convolution as a matrix product); Dumoulin
& Visin, 2016 (the transposed convolution as a convolution, sec. 4).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainlab import threads
from trainlab.backend import get_array_module
from trainlab.errors import ConfigError, ShapeError
from trainlab.folding import fold_affine, fold_rule
from trainlab.init import InitSpec, check_init_spec, initialise
from trainlab.layers.base import Layer, check_input, register_layer, resolve_dtype
from trainlab.layers.batchnorm import BatchNorm2d
from trainlab.layers.layout import block_view, empty_chwn, from_block, is_chwn  # noqa: F401 (re-exported)

#: In eval mode a batch whose columns matrix would hold more than this many values is convolved
#: in chunks of samples (in row blocks, for stride 1), so evaluating 1000 images at once does not
#: allocate hundreds of megabytes; smaller batches keep their columns, so backward may follow.
EVAL_COL_LIMIT = 1 << 22

#: Training convolutions with stride 1 build the columns matrix a block of output rows at a time,
#: at most about this many values (1 MiB of float32: a core's second-level cache on the machines
#: measured, where it beat 4 MiB blocks by 5-10% once each thread has its own blocks), and multiply
#: each block while it is still in the processor's cache; the whole matrix (9x the input for a 3x3
#: kernel) is never in memory.
#: 0 turns row blocks off (the whole matrix at once, as in eval), for comparisons.
ROW_BLOCK_VALUES = 1 << 18


def pair(value, name: str, owner: str, *, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints as ``(height, width)``, each >= ``minimum`` (ConfigError otherwise)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ConfigError(f"{owner}: {name} must be an int or a pair of ints, got {value!r}")
        items = tuple(value)
    else:
        items = (value, value)
    out = []
    for v in items:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ConfigError(f"{owner}: {name} must be an int or a pair of ints, got {value!r}")
        if v < minimum:
            raise ConfigError(f"{owner}: {name} must be >= {minimum}, got {value!r}")
        out.append(int(v))
    return out[0], out[1]


# ---- memory layout helpers (shared with pooling and blocks) -------------------------


def window_view(block, FH: int, FW: int, SH: int, SW: int, OH: int, OW: int):
    """The (C, FH, FW, OH, OW, N) view of a (padded) (C, H, W, N) block: element
    [c, i, j, oh, ow, n] is block[c, oh*SH + i, ow*SW + j, n]. No copy."""
    xp = get_array_module(block)
    sC, sH, sW, sN = block.strides
    C, N = block.shape[0], block.shape[3]
    return xp.lib.stride_tricks.as_strided(
        block, shape=(C, FH, FW, OH, OW, N), strides=(sC, sH, sW, sH * SH, sW * SW, sN))


def pad_block(x, PH: int, PW: int, value: float = 0.0, out=None):
    """The (C, H + 2*PH, W + 2*PW, N) block of ``x`` (N, C, H, W) padded with ``value``.

    ``out``, when given, is a block of that shape whose border already holds ``value``.
    """
    xp = get_array_module(x)
    N, C, H, W = x.shape
    if out is None:
        out = xp.empty((C, H + 2 * PH, W + 2 * PW, N), x.dtype)
        out.fill(value)
    interior, source = out[:, PH:PH + H, PW:PW + W, :], block_view(x)
    threads.parallel_rows(lambda c: xp.copyto(interior[c], source[c]), C,
                          values_per_row=H * W * N, array=x)
    return out


def im2col(x, FH: int, FW: int, stride=(1, 1), padding=(0, 0), out=None, padded=None):
    """Columns matrix of ``x`` (N, C, H, W) for an FH x FW kernel: shape (C*FH*FW, OH*OW*N).

    Row ``(c, i, j)`` holds the input value under kernel tap (i, j) of channel
    c for every output position (oh, ow, n): ``col @`` a weight reshaped to
    (FN, C*FH*FW) is the convolution stored as a (FN, OH, OW, N) block. Zero
    padding is applied first (into ``padded``, a zero-bordered work block, if
    given); the output size must be whole (see :func:`conv_output_size`).
    ``out`` is an optional C-contiguous array of the result's shape to fill.
    """
    xp = get_array_module(x)
    N, C, H, W = x.shape
    (SH, SW), (PH, PW) = stride, padding
    OH = (H + 2 * PH - FH) // SH + 1
    OW = (W + 2 * PW - FW) // SW + 1
    block = pad_block(x, PH, PW, 0.0, out=padded) if (PH or PW) else block_view(x)
    if out is None:
        out = xp.empty((C * FH * FW, OH * OW * N), x.dtype)
    cols6, windows = out.reshape(C, FH, FW, OH, OW, N), window_view(block, FH, FW, SH, SW, OH, OW)
    # One copy, split over threads by channel.
    threads.parallel_rows(lambda c: xp.copyto(cols6[c], windows[c]), C,
                          values_per_row=FH * FW * OH * OW * N, array=x)
    return out


def col2im(dcol, x_shape, FH: int, FW: int, stride=(1, 1), padding=(0, 0)):
    """Adjoint of :func:`im2col`: add the columns (C*FH*FW, OH*OW*N) back into an (N, C, H, W) array.

    One strided add per kernel offset (i, j); the rows and columns of that
    offset that fall into the padding are skipped, so no padded buffer is
    needed. The result is stored as a (C, H, W, N) block.
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


def conv_output_size(size: int, kernel: int, stride: int, padding: int, *, who: str, axis: str) -> int:
    """(size + 2*padding - kernel) / stride + 1, insisting that it is a whole number."""
    span = size + 2 * padding - kernel
    if span < 0:
        raise ShapeError(f"{who}: kernel {axis} {kernel} is larger than the padded input {axis} "
                         f"{size + 2 * padding} (input {size} + 2*padding {padding})")
    if span % stride:
        raise ShapeError(f"{who}: output {axis} is not a whole number: (input {size} + 2*padding {padding} "
                         f"- kernel {kernel}) = {span} is not divisible by stride {stride} "
                         f"({span}/{stride} + 1 = {span / stride + 1:g}); change the padding or the stride")
    return span // stride + 1


@register_layer
class Conv2d(Layer):
    """2-D convolution (cross-correlation, as in PyTorch) of NCHW input.

    Shapes: x (N, C, H, W) -> out (N, FN, OH, OW) with
    OH = (H + 2*PH - FH) / SH + 1 and OW likewise; unlike PyTorch, a
    fractional output size is an error rather than silently dropping the last
    rows. The weight is (FN, C, FH, FW), PyTorch's layout; the bias (FN,).
    The output is stored as a (FN, OH, OW, N) block (see the module docstring);
    any input layout is accepted.

    Parameters
    ----------
    in_channels, out_channels : int
        C and FN.
    kernel_size, stride, padding : int or (int, int)
        (FH, FW), (SH, SW) and zero padding (PH, PW).
    bias : bool, default True
    weight_init : str or float, default 'he'
        Initialiser name or std; fan_in = C*FH*FW (see :mod:`trainlab.init`).
        The bias starts at zero (as in the book).
    input_grad : bool, default True
        Initial value of :attr:`Layer.needs_input_grad`: whether ``backward``
        computes ``dx``. A network's first convolution does not need it
        (nothing upstream learns); with ``False`` backward skips the product
        and col2im and returns None. The Trainer also turns it off for a
        model's first layer while it trains.
    rng : numpy.random.Generator, optional
    dtype : floating dtype, default float32

    Reference: Saito, *Deep Learning from Scratch*, sec. 7.2 and 7.4.
    """

    splits_over_threads = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 bias: bool = True, *, weight_init: InitSpec = "he", input_grad: bool = True,
                 rng: np.random.Generator | None = None, dtype=None) -> None:
        super().__init__()
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ConfigError(f"Conv2d {name} must be a positive int, got {v!r}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2d", minimum=1)
        self.stride = pair(stride, "stride", "Conv2d", minimum=1)
        self.padding = pair(padding, "padding", "Conv2d", minimum=0)
        self.weight_init = check_init_spec(weight_init)
        self.needs_input_grad = bool(input_grad)
        self.dtype = resolve_dtype(dtype)
        rng = np.random.default_rng() if rng is None else rng
        FN, C, (FH, FW) = self.out_channels, self.in_channels, self.kernel_size
        W = initialise(weight_init, (FN, C, FH, FW), fan_in=C * FH * FW, fan_out=FN * FH * FW,
                       rng=rng, dtype=self.dtype)
        self.weight = self.add_parameter("weight", W, decay=True)
        self.bias = self.add_parameter("bias", np.zeros(FN, self.dtype), decay=False) if bias else None
        self._col = None
        self._block = None  # the (padded) input block kept by a row-block forward pass
        self._x_shape = None
        self._scratch: dict[str, Any] = {}  # reused work arrays (never returned to the caller)

    # ---- shapes and checks ----------------------------------------------------
    def output_shape(self, x_shape) -> tuple[int, int, int, int]:
        """(N, FN, OH, OW) for an input of shape (N, C, H, W); raises ShapeError when it does not fit."""
        N, C, H, W = x_shape
        (FH, FW), (SH, SW), (PH, PW) = self.kernel_size, self.stride, self.padding
        who = self.describe()
        OH = conv_output_size(H, FH, SH, PH, who=who, axis="height")
        OW = conv_output_size(W, FW, SW, PW, who=who, axis="width")
        return N, self.out_channels, OH, OW

    def _check(self, x) -> None:
        check_input(self, x, ndim=4, dtype=self.dtype)
        if x.shape[1] != self.in_channels:
            raise ShapeError(f"{self.describe()}: expected {self.in_channels} input channels (axis 1 of "
                             f"NCHW), got input of shape {tuple(x.shape)}")

    def _buffer(self, name: str, shape, dtype, xp):
        buf = self._scratch.get(name)
        if buf is None or buf.shape != tuple(shape) or buf.dtype != dtype or get_array_module(buf) is not xp:
            buf = self._scratch[name] = xp.empty(shape, dtype)
        return buf

    def _is_pointwise(self) -> bool:
        return self.kernel_size == (1, 1) and self.stride == (1, 1) and self.padding == (0, 0)

    def _columns(self, x, *, reuse: bool, ones: bool = False):
        """im2col of x; a 1x1 convolution's columns are x itself (a view when x is stored CHWN).

        With ``ones`` the matrix gets a last row of ones, so that a weight with the
        bias as its last column gives ``W x + b`` in one product (and ``[dW | db]`` back).
        """
        if self._is_pointwise():
            return block_view(x).reshape(x.shape[1], -1)  # (C, H*W*N)
        FH, FW = self.kernel_size
        return self._im2col(x, FH, FW, self.stride, self.padding, "x" if reuse else None, ones=ones)

    def _im2col(self, x, FH: int, FW: int, stride, padding, key: str | None, *, ones: bool = False):
        """im2col into work arrays kept under ``key`` (fresh arrays when key is None)."""
        xp = get_array_module(x)
        N, C, H, W = x.shape
        (SH, SW), (PH, PW) = stride, padding
        OH, OW = (H + 2 * PH - FH) // SH + 1, (W + 2 * PW - FW) // SW + 1
        padded = None
        if key and (PH or PW):
            # The padded block's border stays zero between calls, so only the interior is rewritten.
            old = self._scratch.get(f"{key}-padded")
            padded = self._buffer(f"{key}-padded", (C, H + 2 * PH, W + 2 * PW, N), x.dtype, xp)
            if padded is not old:
                padded.fill(0)
        rows = C * FH * FW
        if not key:
            return im2col(x, FH, FW, stride, padding, padded=padded)
        old = self._scratch.get(f"{key}-col")
        col = self._buffer(f"{key}-col", (rows + ones, OH * OW * N), x.dtype, xp)
        if ones and col is not old:
            col[rows].fill(1)  # stays: im2col rewrites only the rows above it
        im2col(x, FH, FW, stride, padding, out=col[:rows], padded=padded)
        return col

    # ---- training passes in blocks of output rows ------------------------------------
    def _uses_row_blocks(self) -> bool:
        FH, FW = self.kernel_size
        PH, PW = self.padding
        return (ROW_BLOCK_VALUES > 0 and self.stride == (1, 1) and not self._is_pointwise()
                and PH < FH and PW < FW)

    def _row_block_height(self, rows_per_output_row: int, n_rows: int) -> int:
        return max(1, min(n_rows, ROW_BLOCK_VALUES // max(1, rows_per_output_row)))

    def _padded_block(self, x, key: str, PH: int, PW: int):
        """A copy of x (N, C, H, W) as a (C, H + 2*PH, W + 2*PW, N) work block with a zero border."""
        xp = get_array_module(x)
        N, C, H, W = x.shape
        old = self._scratch.get(key)
        block = self._buffer(key, (C, H + 2 * PH, W + 2 * PW, N), x.dtype, xp)
        if block is not old and (PH or PW):
            block.fill(0)  # the border stays zero: later calls rewrite only the interior
        return pad_block(x, PH, PW, out=block)

    def _row_block_columns(self, windows, r0: int, r1: int, key: str, *, ones: bool):
        """Columns of output rows [r0, r1): (K [+ 1], (r1 - r0)*OW*N), in a reused work array."""
        xp = get_array_module(windows)
        C, FH, FW, OH, OW, N = windows.shape
        K, n = C * FH * FW, (r1 - r0) * OW * N
        height = self._row_block_height(K * OW * N, OH)
        old = self._scratch.get(key)
        work = self._buffer(key, (K + ones, height * OW * N), windows.dtype, xp)
        if ones and work is not old:
            work[K].fill(1)  # stays: only the rows above it are rewritten
        cols = work[:, :n]
        cols[:K].reshape(C, FH, FW, r1 - r0, OW, N)[...] = windows[:, :, :, r0:r1]
        return cols

    def _forward_row_blocks(self, x, W2, OH: int, OW: int):
        """Training forward pass of a stride-1 convolution, one block of output rows at a time.

        Each block's columns are built into a small work array and multiplied at once,
        so the product reads them from cache; backward rebuilds them from the kept input.
        """
        xp = get_array_module(x)
        N, C, H, W = x.shape
        FN, (FH, FW), (PH, PW) = self.out_channels, self.kernel_size, self.padding
        block = self._padded_block(x, "x-block", PH, PW)
        windows = window_view(block, FH, FW, 1, 1, OH, OW)
        fused = self.bias is not None
        Wb = xp.concatenate([W2, self.bias.data[:, None]], axis=1) if fused else W2  # (FN, K [+ 1])
        out = self._correlate_in_row_blocks(windows, Wb, "x-cols", ones=fused)
        self._block, self._col, self._x_shape = block, None, x.shape
        return from_block(out.reshape(FN, OH, OW, N))

    def _row_blocks(self, rows_per_output_row: int, n_rows: int) -> list[tuple[int, int]]:
        """The (r0, r1) blocks of output rows: at most ROW_BLOCK_VALUES column values each, and at
        least one block per thread, so that every thread has blocks to work on."""
        height = self._row_block_height(rows_per_output_row, n_rows)
        height = max(1, min(height, -(-n_rows // threads.get_num_threads())))
        return [(r0, min(n_rows, r0 + height)) for r0 in range(0, n_rows, height)]

    def _forward_eval_row_blocks(self, x, W2, OH: int, OW: int):
        """Eval forward pass of a large batch: chunks of samples shared out among the threads,
        each chunk padded and then correlated in blocks of output rows like a training pass
        (one output row of a chunk fills at most about ROW_BLOCK_VALUES column values).
        Nothing is kept for backward."""
        xp = get_array_module(x)
        N, C, H, W = x.shape
        FN, (FH, FW), (PH, PW) = self.out_channels, self.kernel_size, self.padding
        fused = self.bias is not None
        Wb = xp.concatenate([W2, self.bias.data[:, None]], axis=1) if fused else W2
        out = xp.empty((FN, OH, OW, N), x.dtype)
        chunk = max(1, ROW_BLOCK_VALUES // (C * FH * FW * OW))
        starts = list(range(0, N, chunk))

        def work(part: int, first: int, stop: int) -> None:
            for n0 in starts[first:stop]:
                n1 = min(N, n0 + chunk)
                block = pad_block(x[n0:n1], PH, PW)  # a fresh zero-bordered block of the chunk
                windows = window_view(block, FH, FW, 1, 1, OH, OW)
                # Inside a part this runs in the part's own thread, with the part's work array.
                result = self._correlate_in_row_blocks(windows, Wb, f"eval-cols-{part}", ones=fused)
                out[..., n0:n1] = result.reshape(FN, OH, OW, n1 - n0)

        threads.run_parts(work, len(starts), array=x)
        return from_block(out)

    def _correlate_in_row_blocks(self, windows, Wmat, key: str, *, ones: bool):
        """``Wmat @ columns(windows)`` as (rows of Wmat, OH*OW*N), built one block of output rows at a time.

        The blocks are shared out among the threads (:mod:`trainlab.threads`), each with its own work array.
        """
        xp = get_array_module(windows)
        C, FH, FW, OH, OW, N = windows.shape
        out = xp.empty((Wmat.shape[0], OH * OW * N), windows.dtype)
        blocks = self._row_blocks(C * FH * FW * OW * N, OH)

        def work(part: int, first: int, stop: int) -> None:
            for r0, r1 in blocks[first:stop]:
                cols = self._row_block_columns(windows, r0, r1, f"{key}-{part}", ones=ones)
                xp.matmul(Wmat, cols, out=out[:, r0 * OW * N:r1 * OW * N])

        threads.run_parts(work, len(blocks), array=windows)
        return out

    def _backward_row_blocks(self, dout):
        xp = get_array_module(dout)
        N, C, H, W = self._x_shape
        FN, (FH, FW), (PH, PW) = self.out_channels, self.kernel_size, self.padding
        OH, OW = dout.shape[2], dout.shape[3]
        K = C * FH * FW
        dout2 = block_view(dout).reshape(FN, -1)  # (FN, OH*OW*N); free when dout is stored CHWN
        fused = self.bias is not None
        windows = window_view(self._block, FH, FW, 1, 1, OH, OW)
        blocks = self._row_blocks(K * OW * N, OH)

        def work(part: int, first: int, stop: int):
            grad = xp.zeros((K + fused, FN), dout2.dtype)  # [dW | db] transposed, summed over blocks
            for r0, r1 in blocks[first:stop]:
                cols = self._row_block_columns(windows, r0, r1, f"x-cols-{part}", ones=fused)
                # (cols @ dout.T) rather than (dout @ cols.T): OpenBLAS runs this orientation faster.
                grad += cols @ dout2[:, r0 * OW * N:r1 * OW * N].T
            return grad

        partial = threads.run_parts(work, len(blocks), array=dout2)
        grad = partial[0]
        for more in partial[1:]:  # in part order, so the sum does not depend on timing
            grad += more
        self.weight.grad = xp.ascontiguousarray(grad[:K].T).reshape(FN, C, FH, FW)
        if fused:
            self.bias.grad = grad[K].copy()
        if not self.needs_input_grad:
            return None
        # dx is the "full" correlation of dout with the flipped kernel, channels swapped,
        # built a block of input rows at a time like the forward pass.
        W_flip = self.weight.data[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).reshape(C, FN * FH * FW)
        dblock = self._padded_block(dout, "dout-block", FH - 1 - PH, FW - 1 - PW)
        dx = self._correlate_in_row_blocks(window_view(dblock, FH, FW, 1, 1, H, W), W_flip, "dout-cols", ones=False)
        return from_block(dx.reshape(C, H, W, N))

    # ---- the protocol -------------------------------------------------------------
    def forward(self, x, *, train: bool):
        self._check(x)
        xp = get_array_module(x)
        N, FN, OH, OW = self.output_shape(x.shape)
        C, (FH, FW) = self.in_channels, self.kernel_size
        W2 = self.weight.data.reshape(FN, C * FH * FW)  # (FN, C*FH*FW)
        per_sample = C * FH * FW * OH * OW
        if train and self._uses_row_blocks():
            return self._forward_row_blocks(x, W2, OH, OW)
        self._block = None
        if train or N * per_sample <= EVAL_COL_LIMIT or self._is_pointwise():
            fused = self.bias is not None and not self._is_pointwise()
            col = self._columns(x, reuse=True, ones=fused)  # (C*FH*FW [+ 1], OH*OW*N)
            if fused:
                out2 = threads.matmul(xp.concatenate([W2, self.bias.data[:, None]], axis=1), col)  # (FN, OH*OW*N)
            else:
                out2 = threads.matmul(W2, col)
                if self.bias is not None:
                    out2 += self.bias.data[:, None]
            self._col, self._x_shape = col, x.shape
            return from_block(out2.reshape(FN, OH, OW, N))  # (N, FN, OH, OW), stored CHWN
        # Eval of a large batch: chunks of samples, each written into its slice of the output.
        self._col = None
        if self._uses_row_blocks():
            return self._forward_eval_row_blocks(x, W2, OH, OW)
        out = xp.empty((FN, OH, OW, N), x.dtype)
        step = max(1, EVAL_COL_LIMIT // per_sample)
        for n0 in range(0, N, step):
            n1 = min(N, n0 + step)
            chunk = threads.matmul(W2, self._columns(x[n0:n1], reuse=False))  # (FN, OH*OW*n)
            if self.bias is not None:
                chunk += self.bias.data[:, None]
            out[..., n0:n1] = chunk.reshape(FN, OH, OW, n1 - n0)
        return from_block(out)

    def backward(self, dout):
        if self._block is not None:
            return self._backward_row_blocks(dout)
        if self._col is None:
            raise RuntimeError(f"{self.describe()}: backward needs the columns of the last forward pass; "
                               "there was none, or it was an eval pass over a batch large enough to be "
                               "done in chunks (call forward(x, train=True) first)")
        xp = get_array_module(dout)
        N, C, H, W = self._x_shape
        FN, (FH, FW), (PH, PW) = self.out_channels, self.kernel_size, self.padding
        dout2 = block_view(dout).reshape(FN, -1)  # (FN, OH*OW*N); free when dout is stored CHWN
        # Computed as (col @ dout2.T).T: the same numbers, but OpenBLAS runs this orientation
        # of a short-and-very-wide product 10-35% faster (measured at DeepConvNet's sizes).
        grad = threads.matmul(self._col, dout2.T).T  # (FN, C*FH*FW [+ 1])
        CK = C * FH * FW
        self.weight.grad = xp.ascontiguousarray(grad[:, :CK]).reshape(FN, C, FH, FW)
        if self.bias is not None:
            # With the row of ones in col, the bias gradient is grad's last column.
            self.bias.grad = grad[:, CK].copy() if grad.shape[1] > CK else dout2.sum(axis=1)
        if not self.needs_input_grad:
            return None
        W2 = self.weight.data.reshape(FN, C * FH * FW)
        if self._is_pointwise():
            return from_block(threads.matmul(W2.T, dout2).reshape(C, H, W, N))
        if self.stride == (1, 1) and PH < FH and PW < FW:
            # Stride 1: dx is the "full" correlation of dout with the flipped kernel, channels
            # swapped: one im2col of dout and one product, no scatter-add at all.
            W_flip = self.weight.data[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).reshape(C, FN * FH * FW)
            dcols = self._im2col(dout, FH, FW, (1, 1), (FH - 1 - PH, FW - 1 - PW), "dout")  # (FN*FH*FW, H*W*N)
            return from_block(threads.matmul(W_flip, dcols).reshape(C, H, W, N))
        dcol = self._buffer("dcol", (C * FH * FW, dout2.shape[1]), dout2.dtype, xp)
        threads.matmul(W2.T, dout2, out=dcol)  # (C*FH*FW, OH*OW*N)
        return col2im(dcol, self._x_shape, FH, FW, self.stride, self.padding)

    def get_config(self) -> dict[str, Any]:
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": list(self.padding), "bias": self.bias is not None,
                "weight_init": self.weight_init, "input_grad": self.needs_input_grad, "dtype": self.dtype.name}

    def macs(self, x_shape) -> int:
        """Multiply-adds of one forward pass over an input of shape (N, C, H, W)."""
        N, FN, OH, OW = self.output_shape(x_shape)
        FH, FW = self.kernel_size
        return N * FN * OH * OW * self.in_channels * FH * FW

    def __getstate__(self):
        # Work arrays and the cached columns are not part of the layer's state: copies
        # (fold_batchnorm, the Trainer's NaN probe) and pickles leave them behind.
        state = self.__dict__.copy()
        state["_scratch"], state["_col"], state["_block"] = {}, None, None
        return state


@fold_rule(Conv2d, BatchNorm2d)
def fold_conv_batchnorm(conv: Conv2d, bn: BatchNorm2d) -> Conv2d:
    """A Conv2d equal to ``bn(conv(x))`` in eval mode.

    W' = W * s[:, None, None, None] and b' = (b - mean) * s + beta, with
    s = gamma / sqrt(running_var + eps), per output channel.
    """
    if bn.num_features != conv.out_channels:
        raise ShapeError(f"{bn.describe()} has {bn.num_features} channels but {conv.describe()} "
                         f"produces {conv.out_channels}")
    return fold_affine(conv, bn, conv.out_channels, channel_axis=0)
