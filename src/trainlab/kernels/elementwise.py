"""Fast element-wise kernels and products: the references of :mod:`trainlab.layers.activations` and
:mod:`trainlab.layers.linear`, split over trainlab's threads when the arrays are large.

1. ReLU on a large dense array (a convolution's output) runs as flat passes in
   parts, one per thread, over memory in storage order, and keeps the input's
   storage for the output and the mask (so a (C, H, W, N) block stays one).
   The maximum is taken against a block of zeros, a slice of the pass at a
   time: NumPy's ``maximum`` of two arrays runs its vector loop, but against
   the scalar 0 it runs about 3x slower (``benchmarks/step_costs.py``).
2. A Linear layer's products go through :func:`trainlab.kernels.threads.matmul`,
   which splits large products over the threads.
"""

from __future__ import annotations

import numpy as np

from trainlab.backend import get_array_module
from trainlab.kernels import threads
from trainlab.kernels.layout import flat_view, memory_order
from trainlab.kernels.registry import fast


#: Values of the zero block :func:`relu_forward` takes the maximum against (256 KiB of float32).
ZERO_BLOCK_VALUES = 1 << 16
_zero_blocks: dict = {}


def zero_block(xp, dtype):
    """A read-only block of :data:`ZERO_BLOCK_VALUES` zeros of ``dtype``, made once per array module."""
    key = (xp.__name__, str(dtype))
    block = _zero_blocks.get(key)
    if block is None:
        block = xp.zeros(ZERO_BLOCK_VALUES, dtype)
        if isinstance(block, np.ndarray):
            block.flags.writeable = False
        block = _zero_blocks.setdefault(key, block)
    return block


def relu_pass(x1, out1, mask1) -> None:
    """``mask1 = x1 > 0`` (unless None) and ``out1 = max(x1, 0)`` for 1-D arrays, a zero block's length
    at a time: both steps of a slice run while it is in cache."""
    xp = get_array_module(x1)
    zeros = zero_block(xp, x1.dtype)
    n = zeros.size
    for start in range(0, x1.size, n):
        stop = min(x1.size, start + n)
        piece = x1[start:stop]
        if mask1 is not None:
            xp.greater(piece, 0, out=mask1[start:stop])
        xp.maximum(piece, zeros[:stop - start], out=out1[start:stop])


@fast("relu_forward")
def relu_forward(x):
    """Fast :func:`trainlab.layers.activations.relu_forward`."""
    xp = get_array_module(x)
    order = memory_order(x)
    if order is None or x.size < ZERO_BLOCK_VALUES:  # small arrays: two plain passes cost less
        return xp.maximum(x, 0), x > 0
    out, mask = xp.empty_like(x), xp.empty_like(x, dtype=bool)
    x1, out1, mask1 = flat_view(x, order), flat_view(out, order), flat_view(mask, order)

    def work(part: slice) -> None:
        relu_pass(x1[part], out1[part], mask1[part])

    threads.parallel_rows(work, x1.size, array=x)
    return out, mask


@fast("relu_backward")
def relu_backward(dout, mask):
    """Fast :func:`trainlab.layers.activations.relu_backward`."""
    xp = get_array_module(dout)
    order = memory_order(dout)
    if dout.size < 2 * threads.PART_MIN_VALUES or order is None or order != memory_order(mask):
        return dout * mask
    dx = xp.empty_like(dout)
    d1, dx1, mask1 = flat_view(dout, order), flat_view(dx, order), flat_view(mask, order)
    threads.parallel_rows(lambda part: xp.multiply(d1[part], mask1[part], out=dx1[part]), d1.size, array=dout)
    return dx


@fast("linear_forward")
def linear_forward(x, W, b):
    """Fast :func:`trainlab.layers.linear.linear_forward`."""
    out = threads.matmul(x, W)  # (N, out)
    if b is not None:
        out += b
    return out


@fast("linear_backward")
def linear_backward(dout, x, W, *, input_grad: bool = True):
    """Fast :func:`trainlab.layers.linear.linear_backward`."""
    dW = threads.matmul(x.T, dout)  # (in, out)
    db = dout.sum(axis=0)
    return (threads.matmul(dout, W.T) if input_grad else None), dW, db
