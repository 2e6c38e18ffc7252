"""2-D convolution by im2col: one matrix product forward, two backward.

The book's algorithm (sec. 7.4): unfold every receptive field of the input
into a row of a "columns" matrix (im2col), multiply it by the filters laid out
as columns, and reshape the product into the output. Backward is the
product's two gradients, and col2im adds the columns' gradient back into the
input's shape::

    col = im2col(x)               # (N*OH*OW, C*FH*FW)
    out = col @ W.T + b           # (N*OH*OW, FN)  -> reshape to (N, FN, OH, OW)
    dW  = dout.T @ col            # (FN, C*FH*FW)  -> reshape to (FN, C, FH, FW)
    dx  = col2im(dout @ W)        # (N*OH*OW, C*FH*FW) -> (N, C, H, W)

These functions are the reference kernels: :class:`Conv2d` calls them through
:mod:`trainlab.kernels`, which runs a faster version with the same meaning
(:mod:`trainlab.kernels.conv`) unless ``kernels.use("reference")`` is set.

Reference: Saito, *Deep Learning from Scratch*, sec. 7.2 and 7.4 (im2col, the
Convolution layer); Chellapilla et al., 2006 (convolution as a matrix product).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainlab import kernels
from trainlab.backend import get_array_module
from trainlab.errors import ShapeError
from trainlab.init import InitSpec, check_init_spec, initialise
from trainlab.kernels.registry import reference
from trainlab.layers.base import Layer, check_input, check_pair, register_layer, resolve_dtype
from trainlab.validation import check_positive


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


def im2col(x, FH: int, FW: int, stride=(1, 1), padding=(0, 0), pad_value: float = 0.0):
    """The columns matrix of ``x`` (N, C, H, W) for an FH x FW kernel: shape (N*OH*OW, C*FH*FW).

    Row ``(n, oh, ow)`` holds the receptive field of output position (oh, ow)
    of sample n, channel by channel. One strided copy per kernel offset
    (FH*FW of them), never a loop over pixels or samples. The output size is
    ``(H + 2*PH - FH) // SH + 1`` (and likewise for the width).
    """
    xp = get_array_module(x)
    N, C, H, W = x.shape
    (SH, SW), (PH, PW) = stride, padding
    OH = (H + 2 * PH - FH) // SH + 1
    OW = (W + 2 * PW - FW) // SW + 1
    img = xp.pad(x, [(0, 0), (0, 0), (PH, PH), (PW, PW)], constant_values=pad_value)
    col = xp.empty((N, C, FH, FW, OH, OW), x.dtype)
    for i in range(FH):
        for j in range(FW):
            col[:, :, i, j] = img[:, :, i:i + SH * OH:SH, j:j + SW * OW:SW]  # (N, C, OH, OW)
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(N * OH * OW, -1)  # (N*OH*OW, C*FH*FW)


def col2im(col, x_shape, FH: int, FW: int, stride=(1, 1), padding=(0, 0)):
    """The adjoint of :func:`im2col`: add each row of ``col`` (N*OH*OW, C*FH*FW) back into (N, C, H, W).

    Where receptive fields overlap, their values add up (that is the gradient
    of a value used by several output positions); values that fell into the
    padding are dropped.
    """
    xp = get_array_module(col)
    N, C, H, W = x_shape
    (SH, SW), (PH, PW) = stride, padding
    OH = (H + 2 * PH - FH) // SH + 1
    OW = (W + 2 * PW - FW) // SW + 1
    col = col.reshape(N, OH, OW, C, FH, FW).transpose(0, 3, 4, 5, 1, 2)  # (N, C, FH, FW, OH, OW)
    img = xp.zeros((N, C, H + 2 * PH + SH - 1, W + 2 * PW + SW - 1), col.dtype)
    for i in range(FH):
        for j in range(FW):
            img[:, :, i:i + SH * OH:SH, j:j + SW * OW:SW] += col[:, :, i, j]
    return xp.ascontiguousarray(img[:, :, PH:PH + H, PW:PW + W])  # (N, C, H, W)


@reference
def conv2d_forward(x, W, b, stride, padding, *, train: bool = True):
    """Convolve x (N, C, H, W) with W (FN, C, FH, FW) plus b (FN,) or None: ``(out, cache)``.

    ``out`` is (N, FN, OH, OW); ``cache`` holds what :func:`conv2d_backward` needs.
    """
    FN, C, FH, FW = W.shape
    N, _, H, Wd = x.shape
    (SH, SW), (PH, PW) = stride, padding
    OH, OW = (H + 2 * PH - FH) // SH + 1, (Wd + 2 * PW - FW) // SW + 1
    col = im2col(x, FH, FW, stride, padding)  # (N*OH*OW, C*FH*FW)
    col_W = W.reshape(FN, -1).T  # (C*FH*FW, FN)
    out = col @ col_W  # (N*OH*OW, FN)
    if b is not None:
        out += b
    out = out.reshape(N, OH, OW, FN).transpose(0, 3, 1, 2)  # (N, FN, OH, OW)
    return get_array_module(x).ascontiguousarray(out), (x.shape, col, W, b is not None, stride, padding)


@reference
def conv2d_backward(dout, cache, *, input_grad: bool = True):
    """Gradients of :func:`conv2d_forward` for dout (N, FN, OH, OW): ``(dx or None, dW, db or None)``."""
    x_shape, col, W, has_bias, stride, padding = cache
    FN, C, FH, FW = W.shape
    dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)  # (N*OH*OW, FN)
    db = dout.sum(axis=0) if has_bias else None
    dW = (dout.T @ col).reshape(FN, C, FH, FW)  # (FN, C*FH*FW) -> (FN, C, FH, FW)
    if not input_grad:
        return None, dW, db
    dcol = dout @ W.reshape(FN, -1)  # (N*OH*OW, C*FH*FW)
    return col2im(dcol, x_shape, FH, FW, stride, padding), dW, db


@register_layer
class Conv2d(Layer):
    """2-D convolution (cross-correlation, as in PyTorch) of NCHW input.

    Shapes: x (N, C, H, W) -> out (N, FN, OH, OW) with OH = (H + 2*PH - FH) / SH + 1
    and OW likewise; unlike PyTorch, a fractional output size is an error rather
    than silently dropping the last rows. The weight is (FN, C, FH, FW),
    PyTorch's layout; the bias (FN,).

    Parameters
    ----------
    in_channels, out_channels : int
        C and FN.
    kernel_size, stride, padding : int or (int, int)
        (FH, FW), (SH, SW) and zero padding (PH, PW).
    bias : bool, default True
    weight_init : str or float, default 'he'
        Initialiser name or std; fan_in = C*FH*FW (see :mod:`trainlab.init`). The bias starts at zero.
    input_grad : bool, default True
        Initial :attr:`Layer.needs_input_grad`: with False, backward skips ``dx`` and returns None
        (a network's first convolution; the Trainer turns it off there while it trains).
    rng : numpy.random.Generator, optional
    dtype : floating dtype, default float32

    Reference: Saito, *Deep Learning from Scratch*, sec. 7.2 and 7.4.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 bias: bool = True, *, weight_init: InitSpec = "he", input_grad: bool = True,
                 rng: np.random.Generator | None = None, dtype=None) -> None:
        super().__init__()
        check_positive("Conv2d", in_channels=in_channels, out_channels=out_channels)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = check_pair(kernel_size, "kernel_size", "Conv2d", minimum=1)
        self.stride = check_pair(stride, "stride", "Conv2d", minimum=1)
        self.padding = check_pair(padding, "padding", "Conv2d", minimum=0)
        self.weight_init = check_init_spec(weight_init)
        self.needs_input_grad = bool(input_grad)
        self.dtype = resolve_dtype(dtype)
        rng = np.random.default_rng() if rng is None else rng
        FN, C, (FH, FW) = self.out_channels, self.in_channels, self.kernel_size
        W = initialise(weight_init, (FN, C, FH, FW), fan_in=C * FH * FW, fan_out=FN * FH * FW,
                       rng=rng, dtype=self.dtype)
        self.weight = self.add_parameter("weight", W, decay=True)
        self.bias = self.add_parameter("bias", np.zeros(FN, self.dtype), decay=False) if bias else None
        self._cache = None

    def output_shape(self, x_shape) -> tuple[int, int, int, int]:
        """(N, FN, OH, OW) for an input of shape (N, C, H, W); raises ShapeError when it does not fit."""
        N, C, H, W = x_shape
        (FH, FW), (SH, SW), (PH, PW) = self.kernel_size, self.stride, self.padding
        OH = conv_output_size(H, FH, SH, PH, who=self.describe(), axis="height")
        OW = conv_output_size(W, FW, SW, PW, who=self.describe(), axis="width")
        return N, self.out_channels, OH, OW

    def forward(self, x, *, train: bool):
        check_input(self, x, ndim=4, dtype=self.dtype)
        if x.shape[1] != self.in_channels:
            raise ShapeError(f"{self.describe()}: expected {self.in_channels} input channels (axis 1 of "
                             f"NCHW), got input of shape {tuple(x.shape)}")
        self.output_shape(x.shape)  # checks that the output size is whole
        b = None if self.bias is None else self.bias.data
        out, self._cache = kernels.conv2d_forward(x, self.weight.data, b, self.stride, self.padding,
                                                  train=train)
        return out

    def backward(self, dout):
        if self._cache is None:
            raise RuntimeError(f"{self.describe()}: backward needs the cache of a forward pass; there was "
                               "none, or it was an eval pass over a batch large enough to be done in chunks "
                               "(call forward(x, train=True) first)")
        dx, self.weight.grad, db = kernels.conv2d_backward(dout, self._cache, input_grad=self.needs_input_grad)
        if self.bias is not None:
            self.bias.grad = db
        return dx

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
