"""Composite layers of modern CNNs: residual, branch-and-concatenate, dense, auxiliary head.

Each block is a container: its parameters are its children's (``add_child``),
so optimizers, checkpoints and ``fold_batchnorm`` see one named list. Blocks
keep their sub-layers in :class:`Sequential` children and always look them up
through ``self._children``, so ``fold_batchnorm`` (which rewrites Sequentials
at any depth) can replace them in a copy.

Channel concatenations are written into one array from :func:`empty_channels`
(a kernel: the fast one stores it so that a channel slice is contiguous
memory), so each branch's output is copied once.

References: He et al., 2016, "Deep Residual Learning for Image Recognition"
(post-activation blocks) and "Identity Mappings in Deep Residual Networks"
(pre-activation blocks); Szegedy et al., 2015, "Going Deeper with Convolutions"
(Inception, auxiliary classifiers); Huang et al., 2017, "Densely Connected
Convolutional Networks" (dense blocks, bottleneck and compression).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainlab import kernels
from trainlab.backend import get_array_module
from trainlab.errors import ConfigError, ShapeError
from trainlab.kernels.registry import reference
from trainlab.layers.activations import ReLU
from trainlab.layers.base import Layer, Sequential, check_input, layer_from_spec, layer_to_spec, register_layer, resolve_dtype
from trainlab.layers.batchnorm import BatchNorm2d
from trainlab.layers.conv import Conv2d
from trainlab.layers.linear import Linear
from trainlab.layers.losses import CrossEntropyLoss
from trainlab.layers.pooling import AvgPool2d, GlobalAvgPool2d, MaxPool2d
from trainlab.validation import check_positive, check_real


@reference
def empty_channels(like, channels: int):
    """An uninitialised (N, channels, H, W) array of ``like``'s N, H, W and dtype, to concatenate into."""
    N, _, H, W = like.shape
    return get_array_module(like).empty((N, channels, H, W), like.dtype)


def _rng(rng) -> np.random.Generator:
    return np.random.default_rng() if rng is None else rng


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int, padding: int = 0, *,
                 rng=None, dtype=None) -> Sequential:
    """Conv (no bias: BatchNorm's beta plays its role) -> BatchNorm2d -> ReLU."""
    return Sequential(Conv2d(in_channels, out_channels, kernel_size, padding=padding, bias=False,
                             rng=rng, dtype=dtype),
                      BatchNorm2d(out_channels, dtype=dtype), ReLU())


def _sum(arrays):
    """Sum of gradients without writing into any of them (a child may return its own input)."""
    if len(arrays) == 1:
        return arrays[0]
    total = arrays[0] + arrays[1]  # a new array, safe to add into
    for a in arrays[2:]:
        total += a
    return total


@register_layer
class ResidualBlock(Layer):
    """Pre-activation residual block: x + F(x) with F = BN-ReLU-Conv3x3-BN-ReLU-Conv3x3.

    The shortcut is the identity when the shape is kept; when ``stride > 1``
    or the channel count changes, it is a 1x1 convolution with that stride,
    applied (as in the paper's code) to the pre-activated input BN-ReLU(x).

    Shapes: (N, in_channels, H, W) -> (N, out_channels, OH, OW), OH = (H - 1) / stride + 1
    (a whole number: with stride 2, H must be odd, e.g. 25 -> 13 -> 7).

    Children: ``preact`` (BN, ReLU), ``residual`` (Conv, BN, ReLU, Conv) and,
    when projecting, ``shortcut`` (Conv 1x1).

    Reference: He et al., 2016, "Identity Mappings in Deep Residual Networks", fig. 4(e).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, *,
                 rng: np.random.Generator | None = None, dtype=None) -> None:
        super().__init__()
        check_positive("ResidualBlock", in_channels=in_channels, out_channels=out_channels, stride=stride)
        self.in_channels, self.out_channels, self.stride = int(in_channels), int(out_channels), int(stride)
        self.dtype = resolve_dtype(dtype)
        rng, dt = _rng(rng), self.dtype
        self.add_child("preact", Sequential(BatchNorm2d(in_channels, dtype=dt), ReLU()))
        self.add_child("residual", Sequential(
            Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False, rng=rng, dtype=dt),
            BatchNorm2d(out_channels, dtype=dt), ReLU(),
            Conv2d(out_channels, out_channels, 3, padding=1, bias=False, rng=rng, dtype=dt)))
        if self.projects:
            self.add_child("shortcut", Conv2d(in_channels, out_channels, 1, stride=stride, bias=False,
                                              rng=rng, dtype=dt))

    @property
    def projects(self) -> bool:
        return self.stride != 1 or self.in_channels != self.out_channels

    def forward(self, x, *, train: bool):
        check_input(self, x, ndim=4, features=self.in_channels, dtype=self.dtype)
        c = self._children
        a = c["preact"].forward(x, train=train)
        out = c["residual"].forward(a, train=train)
        shortcut = c["shortcut"].forward(a, train=train) if self.projects else x
        if out.shape != shortcut.shape:
            raise ShapeError(f"{self.describe()}: residual branch gives {tuple(out.shape)} but the "
                             f"shortcut gives {tuple(shortcut.shape)}")
        out += shortcut  # out is the last convolution's fresh output
        return out

    def backward(self, dout):
        c = self._children
        da = c["residual"].backward(dout)
        if self.projects:
            return c["preact"].backward(da + c["shortcut"].backward(dout))
        return c["preact"].backward(da) + dout

    def get_config(self) -> dict[str, Any]:
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "stride": self.stride, "dtype": self.dtype.name}


@register_layer
class PostActResidualBlock(Layer):
    """The original (post-activation) residual block: ReLU(x + F(x)) with F = Conv3x3-BN-ReLU-Conv3x3-BN.

    The ReLU comes after the addition, so the shortcut's signal passes a ReLU
    in every block; in :class:`ResidualBlock` (pre-activation) it reaches the
    next block unchanged. The shortcut is the identity when the shape is
    kept; when ``stride > 1`` or the channel count changes, a 1x1 convolution
    with that stride followed by BatchNorm (the paper's projection shortcut).

    Shapes: (N, in_channels, H, W) -> (N, out_channels, OH, OW), OH = (H - 1) / stride + 1.

    Children: ``residual`` (Conv, BN, ReLU, Conv, BN), ``relu`` (after the
    addition) and, when projecting, ``shortcut`` (Conv 1x1, BN).

    Reference: He et al., 2016, "Deep Residual Learning for Image Recognition", fig. 2 and sec. 3.3;
    the "original" block of fig. 4(a) in "Identity Mappings in Deep Residual Networks".
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, *,
                 rng: np.random.Generator | None = None, dtype=None) -> None:
        super().__init__()
        check_positive("PostActResidualBlock", in_channels=in_channels, out_channels=out_channels, stride=stride)
        self.in_channels, self.out_channels, self.stride = int(in_channels), int(out_channels), int(stride)
        self.dtype = resolve_dtype(dtype)
        rng, dt = _rng(rng), self.dtype
        self.add_child("residual", Sequential(
            Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False, rng=rng, dtype=dt),
            BatchNorm2d(out_channels, dtype=dt), ReLU(),
            Conv2d(out_channels, out_channels, 3, padding=1, bias=False, rng=rng, dtype=dt),
            BatchNorm2d(out_channels, dtype=dt)))
        self.add_child("relu", ReLU())
        if self.projects:
            self.add_child("shortcut", Sequential(
                Conv2d(in_channels, out_channels, 1, stride=stride, bias=False, rng=rng, dtype=dt),
                BatchNorm2d(out_channels, dtype=dt)))

    @property
    def projects(self) -> bool:
        return self.stride != 1 or self.in_channels != self.out_channels

    def forward(self, x, *, train: bool):
        check_input(self, x, ndim=4, features=self.in_channels, dtype=self.dtype)
        c = self._children
        out = c["residual"].forward(x, train=train)
        shortcut = c["shortcut"].forward(x, train=train) if self.projects else x
        if out.shape != shortcut.shape:
            raise ShapeError(f"{self.describe()}: residual branch gives {tuple(out.shape)} but the "
                             f"shortcut gives {tuple(shortcut.shape)}")
        out = out + shortcut  # a new array: BatchNorm's output may be kept for its backward
        return c["relu"].forward(out, train=train)

    def backward(self, dout):
        c = self._children
        d = c["relu"].backward(dout)
        dx = c["residual"].backward(d)
        return _sum([dx, c["shortcut"].backward(d) if self.projects else d])

    def get_config(self) -> dict[str, Any]:
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "stride": self.stride, "dtype": self.dtype.name}


@register_layer
class Concat(Layer):
    """Apply each branch to the same input and concatenate the outputs along channels.

    Shapes: x -> (N, sum of the branches' channels, H', W'); every branch must
    give the same N, H' and W'. Backward splits ``dout`` by channel and sums
    the branches' input gradients. Children are named "0", "1", ...
    """

    def __init__(self, *branches: Layer) -> None:
        super().__init__()
        if len(branches) == 1 and isinstance(branches[0], (list, tuple)):
            branches = tuple(branches[0])
        if not branches:
            raise ConfigError("Concat needs at least one branch")
        for i, branch in enumerate(branches):
            self.add_child(str(i), branch)
        self._splits: list[tuple[int, int]] = []

    def forward(self, x, *, train: bool):
        outs = [branch.forward(x, train=train) for branch in self._children.values()]
        shapes = [tuple(o.shape) for o in outs]
        if any(len(s) != 4 or s[0] != shapes[0][0] or s[2:] != shapes[0][2:] for s in shapes):
            raise ShapeError(f"{self.describe()}: branches give outputs of shapes {shapes}; "
                             f"all need the same N, H and W to be concatenated")
        N, _, H, W = shapes[0]
        C = sum(s[1] for s in shapes)
        out = kernels.empty_channels(outs[0], C)  # (N, C, H, W)
        self._splits, c0 = [], 0
        for o in outs:
            c1 = c0 + o.shape[1]
            out[:, c0:c1] = o
            self._splits.append((c0, c1))
            c0 = c1
        return out

    def backward(self, dout):
        grads = [branch.backward(dout[:, c0:c1])
                 for branch, (c0, c1) in zip(self._children.values(), self._splits)]
        return _sum(grads)

    def get_config(self) -> dict[str, Any]:
        return {"branches": [layer_to_spec(b) for b in self._children.values()]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Concat":
        return cls(*[layer_from_spec(spec) for spec in config["branches"]])


@register_layer
class InceptionBlock(Concat):
    """GoogLeNet's Inception module: four branches concatenated along channels.

    Branches (each convolution followed by BatchNorm and ReLU):
    1x1 (c1); 1x1 (c3r) -> 3x3 (c3); 1x1 (c5r) -> 5x5 (c5);
    3x3 max pool (stride 1, padding 1) -> 1x1 (pool_proj).
    Shapes: (N, in_channels, H, W) -> (N, c1 + c3 + c5 + pool_proj, H, W).

    Reference: Szegedy et al., 2015, fig. 2(b); BatchNorm after each convolution as in
    Ioffe & Szegedy, 2015 (Inception-BN).
    """

    def __init__(self, in_channels: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, pool_proj: int,
                 *, rng: np.random.Generator | None = None, dtype=None) -> None:
        check_positive("InceptionBlock", in_channels=in_channels, c1=c1, c3r=c3r, c3=c3, c5r=c5r, c5=c5,
                  pool_proj=pool_proj)
        rng, dt = _rng(rng), resolve_dtype(dtype)

        def unit(cin, cout, k):
            return conv_bn_relu(cin, cout, k, padding=k // 2, rng=rng, dtype=dt)

        super().__init__(
            unit(in_channels, c1, 1),
            Sequential(*unit(in_channels, c3r, 1), *unit(c3r, c3, 3)),
            Sequential(*unit(in_channels, c5r, 1), *unit(c5r, c5, 5)),
            Sequential(MaxPool2d(3, stride=1, padding=1), *unit(in_channels, pool_proj, 1)))
        self.sizes = {"in_channels": int(in_channels), "c1": int(c1), "c3r": int(c3r), "c3": int(c3),
                      "c5r": int(c5r), "c5": int(c5), "pool_proj": int(pool_proj)}
        self.dtype = dt

    @property
    def out_channels(self) -> int:
        s = self.sizes
        return s["c1"] + s["c3"] + s["c5"] + s["pool_proj"]

    def forward(self, x, *, train: bool):
        check_input(self, x, ndim=4, features=self.sizes["in_channels"], dtype=self.dtype)
        return super().forward(x, train=train)

    def get_config(self) -> dict[str, Any]:
        return {**self.sizes, "dtype": self.dtype.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "InceptionBlock":
        return cls(**config)


@register_layer
class DenseBlock(Layer):
    """Dense block: each layer sees the concatenation of the block input and all earlier outputs.

    Layer l (children "0", "1", ...): BN-ReLU-Conv1x1(4k)-BN-ReLU-Conv3x3(k)
    with ``bottleneck=True`` (DenseNet-B), else BN-ReLU-Conv3x3(k); k is the
    growth rate. Shapes: (N, C, H, W) -> (N, C + n_layers * k, H, W).

    All features live in one buffer: layer l reads a channel prefix of it
    (a view, no concatenation copy) and writes its k new channels after it. Backward walks the layers in reverse, adding each
    layer's input gradient into the prefix.

    Reference: Huang et al., 2017, sec. 3 (dense connectivity, bottleneck layers).
    """

    def __init__(self, in_channels: int, growth_rate: int, n_layers: int, bottleneck: bool = True, *,
                 rng: np.random.Generator | None = None, dtype=None) -> None:
        super().__init__()
        check_positive("DenseBlock", in_channels=in_channels, growth_rate=growth_rate, n_layers=n_layers)
        self.in_channels, self.growth_rate, self.n_layers = int(in_channels), int(growth_rate), int(n_layers)
        self.bottleneck = bool(bottleneck)
        self.dtype = resolve_dtype(dtype)
        rng, dt, k = _rng(rng), self.dtype, self.growth_rate
        for i in range(self.n_layers):
            cin = self.in_channels + i * k
            if self.bottleneck:
                layer = Sequential(BatchNorm2d(cin, dtype=dt), ReLU(),
                                   Conv2d(cin, 4 * k, 1, bias=False, rng=rng, dtype=dt),
                                   BatchNorm2d(4 * k, dtype=dt), ReLU(),
                                   Conv2d(4 * k, k, 3, padding=1, bias=False, rng=rng, dtype=dt))
            else:
                layer = Sequential(BatchNorm2d(cin, dtype=dt), ReLU(),
                                   Conv2d(cin, k, 3, padding=1, bias=False, rng=rng, dtype=dt))
            self.add_child(str(i), layer)

    @property
    def out_channels(self) -> int:
        return self.in_channels + self.n_layers * self.growth_rate

    def forward(self, x, *, train: bool):
        check_input(self, x, ndim=4, features=self.in_channels, dtype=self.dtype)
        N, C, H, W = x.shape
        k = self.growth_rate
        features = kernels.empty_channels(x, self.out_channels)  # (N, C + n_layers*k, H, W)
        features[:, :C] = x
        for i, layer in enumerate(self._children.values()):
            cin = C + i * k
            y = layer.forward(features[:, :cin], train=train)  # (N, k, H, W)
            if y.shape != (N, k, H, W):
                raise ShapeError(f"{self.describe()}: layer {i} gives {tuple(y.shape)}, expected {(N, k, H, W)}")
            features[:, cin:cin + k] = y
        return features

    def backward(self, dout):
        k, C = self.growth_rate, self.in_channels
        grad = kernels.empty_channels(dout, dout.shape[1])
        grad[...] = dout  # accumulated in place below, so never dout itself
        for i in reversed(range(self.n_layers)):
            cin = C + i * k
            grad[:, :cin] += self._children[str(i)].backward(grad[:, cin:cin + k])
        return grad[:, :C]

    def get_config(self) -> dict[str, Any]:
        return {"in_channels": self.in_channels, "growth_rate": self.growth_rate,
                "n_layers": self.n_layers, "bottleneck": self.bottleneck, "dtype": self.dtype.name}


@register_layer
class Transition(Sequential):
    """DenseNet transition: BN-ReLU-Conv1x1(floor(compression * C)) then 2x2 average pooling.

    Shapes: (N, C, H, W) -> (N, floor(compression * C), H // 2, W // 2).

    Reference: Huang et al., 2017, sec. 3 (transition layers, compression).
    """

    def __init__(self, in_channels: int, compression: float = 0.5, *,
                 rng: np.random.Generator | None = None, dtype=None) -> None:
        check_positive("Transition", in_channels=in_channels)
        check_real("Transition", "compression", compression, low=0.0, low_open=True, high=1.0)
        out = int(np.floor(in_channels * compression))
        if out < 1:
            raise ConfigError(f"Transition: compression {compression} of {in_channels} channels leaves none")
        dt = resolve_dtype(dtype)
        super().__init__(BatchNorm2d(in_channels, dtype=dt), ReLU(),
                         Conv2d(in_channels, out, 1, bias=False, rng=_rng(rng), dtype=dt), AvgPool2d(2))
        self.in_channels, self.compression, self.out_channels = int(in_channels), float(compression), out
        self.dtype = dt

    def get_config(self) -> dict[str, Any]:
        return {"in_channels": self.in_channels, "compression": self.compression, "dtype": self.dtype.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Transition":
        return cls(**config)


@register_layer
class AuxiliaryHead(Layer):
    """An auxiliary classifier on an intermediate feature map (GoogLeNet), the identity for the trunk.

    In train mode the head computes logits from its input with
    AvgPool2d(2) -> Conv1x1(hidden) -> ReLU -> GlobalAvgPool2d -> Linear(n_classes)
    (global pooling instead of the paper's fixed-size flatten, so the head
    fits any feature-map size >= 2x2) and passes the input on unchanged.
    :meth:`auxiliary_loss` (called by the Trainer after the forward pass)
    returns ``weight * cross_entropy(logits, t)``; backward then returns
    ``dout`` plus the head's gradient with respect to the feature map. In
    eval mode the head does nothing, and a backward with no auxiliary loss
    asked for adds nothing (the head's gradients are zero).

    Reference: Szegedy et al., 2015, sec. 5 (auxiliary classifiers, weight 0.3).
    """

    def __init__(self, in_channels: int, n_classes: int, weight: float = 0.3, *, hidden: int = 64,
                 rng: np.random.Generator | None = None, dtype=None) -> None:
        super().__init__()
        check_positive("AuxiliaryHead", in_channels=in_channels, n_classes=n_classes, hidden=hidden)
        check_real("AuxiliaryHead", "weight", weight, low=0.0)
        self.in_channels, self.n_classes, self.hidden = int(in_channels), int(n_classes), int(hidden)
        self.loss_weight = float(weight)
        self.dtype = resolve_dtype(dtype)
        rng, dt = _rng(rng), self.dtype
        self.add_child("head", Sequential(AvgPool2d(2), Conv2d(in_channels, hidden, 1, rng=rng, dtype=dt),
                                          ReLU(), GlobalAvgPool2d(), Linear(hidden, n_classes, rng=rng, dtype=dt)))
        self.loss_fn = CrossEntropyLoss()
        self.logits = None
        self._dlogits = None

    def forward(self, x, *, train: bool):
        check_input(self, x, ndim=4, features=self.in_channels, dtype=self.dtype)
        self._dlogits = None
        self.logits = self._children["head"].forward(x, train=True) if train else None
        return x

    def auxiliary_loss(self, t) -> float:
        """weight * cross-entropy of the head's logits from the last training forward pass."""
        if self.logits is None:
            raise RuntimeError(f"{self.describe()}: auxiliary_loss needs a forward pass in train mode first")
        loss = self.loss_fn.forward(self.logits, t)
        self._dlogits = self.loss_fn.backward(self.loss_weight)  # d(weight * loss) / d logits
        return self.loss_weight * loss

    def backward(self, dout):
        head = self._children["head"]
        if self._dlogits is None:
            for p in head.parameters():
                p.grad = get_array_module(p.data).zeros_like(p.data)
            return dout
        return dout + head.backward(self._dlogits)

    def get_config(self) -> dict[str, Any]:
        return {"in_channels": self.in_channels, "n_classes": self.n_classes, "weight": self.loss_weight,
                "hidden": self.hidden, "dtype": self.dtype.name}
