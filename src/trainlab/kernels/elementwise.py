"""Fast element-wise kernels and products: the references of :mod:`trainlab.layers.activations` and
:mod:`trainlab.layers.linear`, split over trainlab's threads when the arrays are large.

1. ReLU on a large dense array (a convolution's output) runs as flat passes in
   parts, one per thread, over memory in storage order, and keeps the input's
   storage for the output and the mask (so a (C, H, W, N) block stays one).
2. A Linear layer's products go through :func:`trainlab.kernels.threads.matmul`,
   which splits large products over the threads.
"""

from __future__ import annotations

from trainlab.backend import get_array_module
from trainlab.kernels import threads
from trainlab.kernels.layout import flat_view, memory_order
from trainlab.kernels.registry import fast


@fast("relu_forward")
def relu_forward(x):
    """Fast :func:`trainlab.layers.activations.relu_forward`."""
    xp = get_array_module(x)
    order = memory_order(x)
    if order is None or x.size < 2 * threads.PART_MIN_VALUES:
        return xp.maximum(x, 0), x > 0
    out, mask = xp.empty_like(x), xp.empty_like(x, dtype=bool)
    x1, out1, mask1 = flat_view(x, order), flat_view(out, order), flat_view(mask, order)

    def work(part: slice) -> None:
        xp.greater(x1[part], 0, out=mask1[part])
        xp.maximum(x1[part], 0, out=out1[part])

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
