"""Fast batch normalisation: the reference of :mod:`trainlab.layers.batchnorm`, without copies, in thread parts.

1. Storage. The input is viewed as a 3-D (A, C, B) array and the statistics
   are taken over axes 0 and 2. Every layout met here has such a view without
   a copy: (N, C) is (N, C, 1), (N, C, L) is itself, a row-major (N, C, H, W)
   array is (N, C, H*W), and a (C, H, W, N) block from the fast convolution is
   (1, C, H*W*N); the output keeps the input's storage.
2. Fewer passes. Backward uses the closed form
   dx = gamma * inv_std * (dout - mean(dout) - x_hat * mean(dout * x_hat)),
   whose two sums are dbeta and dgamma, so nothing is summed twice.
   On a (1, C, B) view (every (C, H, W, N) block) the per-channel sums are
   BLAS products: a row's sum is its product with a vector of ones, a sum of
   squares or of ``dout * x_hat`` one dot product per row, so no temporary
   array is written and each sum is one read of its rows (``benchmarks/step_costs.py``
   prints both forms of the sums side by side); the sums differ from pairwise
   summation in the last bits (relative 1e-7 in float32).
3. Threads. Channels are independent: on large inputs each thread normalises
   its own channels (the running statistics are updated through views of the
   buffers) and writes its slice of the output.
"""

from __future__ import annotations

from trainlab.backend import get_array_module
from trainlab.kernels import threads
from trainlab.kernels.layout import block_view, from_block, is_chwn
from trainlab.kernels.registry import fast


def _to_3d(x, layout=None):
    """x as (A, C, B) and the layout tag that says how to go back."""
    if x.ndim == 4:
        N, C, H, W = x.shape
        layout = layout or ("chwn" if is_chwn(x) else "nchw")
        if layout == "chwn":
            return block_view(x).reshape(1, C, H * W * N), layout  # a copy only if x is stored otherwise
        return x.reshape(N, C, H * W), layout
    if x.ndim == 2:
        return x.reshape(x.shape[0], x.shape[1], 1), "nc"
    return x.reshape(x.shape[0], x.shape[1], -1), "ncl"


def _from_3d(y, shape, layout):
    if layout == "chwn":
        N, C, H, W = shape
        return from_block(y.reshape(C, H, W, N))
    return y.reshape(shape)


@fast("batchnorm_forward")
def batchnorm_forward(x, gamma, beta, running_mean, running_var, *, eps: float, momentum: float, train: bool):
    """Fast :func:`trainlab.layers.batchnorm.batchnorm_forward`."""
    x3, layout = _to_3d(x)

    def normalise(c: slice, out=None):
        return _forward_3d(x3[:, c], None if gamma is None else gamma[c], None if beta is None else beta[c],
                           running_mean[c], running_var[c], eps=eps, momentum=momentum, train=train, out=out)

    C = x3.shape[1]
    if C > 1 and x3.size >= 2 * threads.PART_MIN_VALUES and threads.parallel_enabled(x3):
        xp = get_array_module(x3)
        out = xp.empty(x3.shape, x3.dtype)

        def work(_part: int, c0: int, c1: int):
            _, cache = normalise(slice(c0, c1), out[:, c0:c1])  # each part writes its channels of out
            return c0, c1, cache

        min_channels = -(-threads.PART_MIN_VALUES // (x3.size // C))
        parts = threads.run_parts(work, C, min_items=min_channels, array=x3)
        return _from_3d(out, x.shape, layout), (layout, x.shape, parts, None)
    out, cache = normalise(slice(None))
    return _from_3d(out, x.shape, layout), (layout, x.shape, None, cache)


@fast("batchnorm_backward")
def batchnorm_backward(dout, cache):
    """Fast :func:`trainlab.layers.batchnorm.batchnorm_backward`."""
    layout, shape, parts, whole = cache
    d3, _ = _to_3d(dout, layout)
    if parts is None:
        dx, dgamma, dbeta = _backward_3d(d3, whole)
        return _from_3d(dx, shape, layout), dgamma, dbeta
    xp = get_array_module(d3)
    C = d3.shape[1]
    dx = xp.empty(d3.shape, d3.dtype)
    dgamma, dbeta = xp.empty(C, d3.dtype), xp.empty(C, d3.dtype)

    def work(_part: int, first: int, stop: int) -> None:
        for c0, c1, part_cache in parts[first:stop]:
            _, dgamma[c0:c1], dbeta[c0:c1] = _backward_3d(d3[:, c0:c1], part_cache, out=dx[:, c0:c1])

    threads.run_parts(work, len(parts), array=d3)
    return _from_3d(dx, shape, layout), dgamma, dbeta


def _channel_sums(a2):
    """Row sums of a (C, B) array as one BLAS product with a vector of ones: (C,)."""
    xp = get_array_module(a2)
    return a2 @ xp.ones(a2.shape[1], a2.dtype)


def _channel_dots(a2, b2):
    """Per-row dot products of two (C, B) arrays, one BLAS dot each (no temporary): (C,)."""
    xp = get_array_module(a2)
    return xp.matmul(a2[:, None, :], b2[:, :, None]).reshape(a2.shape[0])


def _forward_3d(x, gamma, beta, running_mean, running_var, *, eps, momentum, train, out=None):
    """Normalise x (A, C, B) per channel over axes 0 and 2; in training update the running statistics.

    ``out``, when given, is an (A, C, B) array (a view) that receives the result.
    """
    xp = get_array_module(x)
    A, C, B = x.shape
    axes = (0, 2)
    if out is None:
        out = xp.empty(x.shape, x.dtype)
    g3 = None if gamma is None else gamma.reshape(1, C, 1)
    b3 = None if beta is None else beta.reshape(1, C, 1)
    if not train:
        # Running statistics: (x - mean) * (inv_std * gamma) + beta in the output itself. No x_hat is
        # written: backward (rarely called after an eval pass) rebuilds it from x.
        mean3 = running_mean.reshape(1, C, 1).copy()
        inv_std = 1.0 / xp.sqrt(running_var.reshape(1, C, 1) + x.dtype.type(eps))
        xp.subtract(x, mean3, out=out)
        out *= inv_std if g3 is None else inv_std * g3
        if b3 is not None:
            out += b3
        return out, (None, inv_std, gamma, False, x, mean3)
    M = A * B
    if A == 1:  # rows of channels: the sums as BLAS products
        mean = (_channel_sums(x[0]) / x.dtype.type(M)).reshape(1, C, 1)
        xc = x - mean
        var = (_channel_dots(xc[0], xc[0]) / x.dtype.type(M)).reshape(1, C, 1)
    else:
        mean = x.mean(axis=axes, keepdims=True)
        xc = x - mean
        var = xp.square(xc).mean(axis=axes, keepdims=True)
    m = x.dtype.type(momentum)
    running_mean *= 1 - m
    running_mean += m * mean.reshape(C)
    running_var *= 1 - m
    running_var += (m * M / (M - 1)) * var.reshape(C)
    inv_std = 1.0 / xp.sqrt(var + x.dtype.type(eps))  # (1, C, 1)
    x_hat = xc
    x_hat *= inv_std
    if g3 is None:
        out[...] = x_hat
    else:
        xp.multiply(x_hat, g3, out=out)
        out += b3
    return out, (x_hat, inv_std, gamma, True, None, None)


def _backward_3d(dout, cache, out=None):
    """Gradients of :func:`_forward_3d` for dout (A, C, B): (dx, dgamma, dbeta); dx into ``out`` when given."""
    x_hat, inv_std, gamma, train, x, mean = cache
    A, C, B = dout.shape
    if x_hat is None:  # after an eval pass: rebuild x_hat from the input
        x_hat = (x - mean) * inv_std
    axes = (0, 2)
    if A == 1:
        dbeta, dgamma = _channel_sums(dout[0]), _channel_dots(dout[0], x_hat[0])
    else:
        dbeta = dout.sum(axis=axes)
        dgamma = (dout * x_hat).sum(axis=axes)
    scale = inv_std.reshape(C) if gamma is None else gamma * inv_std.reshape(C)  # (C,)
    xp = get_array_module(dout)
    dx = xp.empty(dout.shape, dout.dtype) if out is None else out
    scale3 = scale.reshape(1, C, 1)
    if not train:
        xp.multiply(dout, scale3, out=dx)
        return dx, dgamma, dbeta
    M = A * B
    k_gamma, k_beta = (dgamma / M).reshape(1, C, 1), (dbeta / M).reshape(1, C, 1)
    xp.multiply(x_hat, k_gamma, out=dx)
    xp.subtract(dout, dx, out=dx)
    dx -= k_beta
    dx *= scale3
    return dx, dgamma, dbeta
