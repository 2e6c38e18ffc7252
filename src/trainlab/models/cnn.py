"""Convolutional networks for 28x28 images: the book's two, and small ResNet, Inception and DenseNet.

Every model is a :class:`Sequential` built from trainlab's layers, takes its
constructor arguments as its config (so checkpoints rebuild it), returns
class scores (logits), and reports

- ``num_parameters()``: trainable values (auxiliary heads included);
- ``flops_per_sample()``: multiply-adds (MACs) of the convolutions and fully
  connected layers in one eval-mode forward pass of one image. Bias adds,
  BatchNorm, activations and pooling are not counted, nor are auxiliary heads
  (they run only in training). One MAC is two floating-point operations.

Each model's first convolution skips its input gradient by default
(``input_grad=False``: nothing upstream learns), so ``backward`` returns
None; pass ``input_grad=True`` to get d loss / d image (saliency, gradient checks).

Sizes are chosen so every strided convolution divides evenly (trainlab
refuses fractional output sizes): the ResNet's 4x4 stem gives 25x25, then
25 -> 13 -> 7.

ReLU after the pool. The book's two networks end each stage with
"conv - ReLU - max pool"; here they run it as "conv - max pool - ReLU"
(``relu_after_pool=True``, the default). ReLU is monotone, so the largest of
a window's rectified values is the rectified largest value, max(relu(x)) =
relu(max(x)), and the gradients agree too: either way a window's gradient
reaches only its first maximum, times 1 when that maximum is positive and 0
otherwise. Outputs, gradients and parameters are the book's (the tests compare
both orders); the ReLU passes, forward and backward, touch a quarter of the
values. ``relu_after_pool=False`` builds the book's order.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from trainlab.errors import ConfigError
from trainlab.init import InitSpec, check_init_spec
from trainlab.layers.activations import ReLU
from trainlab.layers.base import Layer, Sequential, register_layer, resolve_dtype
from trainlab.layers.batchnorm import BatchNorm2d
from trainlab.layers.blocks import (
    AuxiliaryHead, DenseBlock, InceptionBlock, PostActResidualBlock, ResidualBlock, Transition,
)
from trainlab.layers.conv import Conv2d
from trainlab.layers.dropout import Dropout
from trainlab.layers.linear import Flatten, Linear
from trainlab.layers.pooling import GlobalAvgPool2d, MaxPool2d
from trainlab.registry import Registry

#: CNN classes by name: ``create_model("deep-convnet", seed=1)``.
CNN_MODELS: Registry[type] = Registry("CNN model")


def _shape(input_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or min(shape) <= 0:
        raise ConfigError(f"input_shape must be (C, H, W) with positive sizes, got {input_shape!r}")
    return shape  # type: ignore[return-value]


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def count_macs(model: Layer, input_shape: Sequence[int]) -> int:
    """Multiply-adds of Conv2d and Linear layers in one eval forward pass of one sample.

    Runs ``model`` on one zero image with each Conv2d/Linear wrapped to count.
    """
    total = [0]
    wrapped = []

    def wrap(layer):
        original = layer.forward

        def forward(x, *, train):
            if isinstance(layer, Conv2d):
                total[0] += layer.macs(x.shape)
            else:
                total[0] += x.shape[0] * layer.in_features * layer.out_features
            return original(x, train=train)

        layer.forward = forward
        wrapped.append(layer)

    for m in model.modules():
        if isinstance(m, (Conv2d, Linear)):
            wrap(m)
    try:
        dtype = next((p.dtype for p in model.parameters()), np.float32)
        model.forward(np.zeros((1, *input_shape), dtype), train=False)
    finally:
        for layer in wrapped:
            del layer.forward  # back to the class's method
    return total[0]


class ConvNet(Sequential):
    """Shared part of the CNN models: config, FLOPs, the book's predict/accuracy."""

    input_shape: tuple[int, int, int]

    def _finish(self, config: dict[str, Any]) -> None:
        self._config = config
        self.input_shape = _shape(config["input_shape"])
        self.dtype = resolve_dtype(config.get("dtype"))

    def get_config(self) -> dict[str, Any]:
        return dict(self._config)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "ConvNet":
        return cls(**config)

    def flops_per_sample(self) -> int:
        """Multiply-adds of the convolutions and linear layers for one image at inference (see module doc)."""
        return count_macs(self, self.input_shape)

    def predict(self, x, *, train: bool = False):
        """Class scores (N, n_classes)."""
        return self.forward(x, train=train)

    def accuracy(self, x, t, batch_size: int = 500) -> float:
        """Fraction of samples whose highest score is the label (index or one-hot)."""
        from trainlab.training import accuracy

        return accuracy(self, x, t, batch_size)


def _check_flag(value, name: str) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{name} must be True or False, got {value!r}")


def _config(local: dict[str, Any]) -> dict[str, Any]:
    """A model's constructor arguments as JSON values."""
    out = {k: v for k, v in local.items() if k not in ("self", "__class__")}
    out["input_shape"] = list(_shape(out["input_shape"]))
    out["dtype"] = resolve_dtype(out.get("dtype")).name
    if isinstance(out.get("seed"), np.random.Generator):
        out["seed"] = 0
    for k, v in out.items():
        if isinstance(v, tuple):
            out[k] = list(v)
    return out


@register_layer
class SimpleConvNet(ConvNet):
    """The book's CNN: Conv(30 5x5) - ReLU - MaxPool 2 - Linear(100) - ReLU - Linear(10).

    Shapes: (N, 1, 28, 28) -> (N, 10). 2.8% of its MACs are in the linear layers.
    The layers run as Conv - MaxPool - ReLU unless ``relu_after_pool=False``:
    the same network (see the module notes), with a quarter of the ReLU work.

    Reference: Saito, *Deep Learning from Scratch*, sec. 7.5 (ch07/simple_convnet.py).
    """

    def __init__(self, input_shape: Sequence[int] = (1, 28, 28), filter_num: int = 30, filter_size: int = 5,
                 padding: int = 0, stride: int = 1, hidden_size: int = 100, n_classes: int = 10,
                 weight_init: InitSpec = "he", input_grad: bool = False, seed: int | np.random.Generator = 0,
                 dtype=None, relu_after_pool: bool = True) -> None:
        config = _config(locals())
        _check_flag(relu_after_pool, "relu_after_pool")
        C, H, W = _shape(input_shape)
        check_init_spec(weight_init)
        rng, dt = _rng(seed), resolve_dtype(dtype)
        conv = Conv2d(C, filter_num, filter_size, stride, padding, weight_init=weight_init,
                      input_grad=input_grad, rng=rng, dtype=dt)
        _, _, OH, OW = conv.output_shape((1, C, H, W))
        stage = [MaxPool2d(2), ReLU()] if relu_after_pool else [ReLU(), MaxPool2d(2)]
        super().__init__(conv, *stage, Flatten(),
                         Linear(filter_num * (OH // 2) * (OW // 2), hidden_size, weight_init=weight_init,
                                rng=rng, dtype=dt),
                         ReLU(), Linear(hidden_size, n_classes, weight_init=weight_init, rng=rng, dtype=dt))
        self._finish(config)


@register_layer
class DeepConvNet(ConvNet):
    """The book's VGG-like network: six 3x3 convolutions, three max pools, two linear layers.

    conv16-conv16-pool-conv32-conv32(pad 2)-pool-conv64-conv64-pool-Linear(50)-ReLU-Dropout(0.5)-Linear(10),
    ReLU after every convolution, He initialisation. The padding of 2 on the
    fourth convolution makes 14 -> 16, so the pools give 28 -> 14, 16 -> 8, 8 -> 4.
    The book also puts dropout on the logits; here the scores are left alone.
    A ReLU followed by a pool runs after the pool instead (conv - pool - ReLU)
    unless ``relu_after_pool=False``: the same network (see the module notes),
    with a quarter of the ReLU work.

    Reference: Saito, *Deep Learning from Scratch*, sec. 8.1 (ch08/deep_convnet.py).
    """

    def __init__(self, input_shape: Sequence[int] = (1, 28, 28), hidden_size: int = 50, n_classes: int = 10,
                 dropout: float = 0.5, weight_init: InitSpec = "he", input_grad: bool = False,
                 seed: int | np.random.Generator = 0, dtype=None, relu_after_pool: bool = True) -> None:
        config = _config(locals())
        _check_flag(relu_after_pool, "relu_after_pool")
        C, H, W = _shape(input_shape)
        check_init_spec(weight_init)
        rng, dt = _rng(seed), resolve_dtype(dtype)
        plan = [(C, 16, 1), (16, 16, 1), None, (16, 32, 1), (32, 32, 2), None, (32, 64, 1), (64, 64, 1), None]
        layers: list[Layer] = []
        for item in plan:
            if item is None:
                # Before the stage's last ReLU (see the module notes), or after it as in the book.
                layers.insert(len(layers) - 1 if relu_after_pool else len(layers), MaxPool2d(2))
                continue
            cin, cout, pad = item
            layers += [Conv2d(cin, cout, 3, padding=pad, weight_init=weight_init, rng=rng, dtype=dt,
                              input_grad=input_grad or bool(layers)), ReLU()]
        h, w = (H // 2 + 2) // 4, (W // 2 + 2) // 4
        layers += [Flatten(), Linear(64 * h * w, hidden_size, weight_init=weight_init, rng=rng, dtype=dt), ReLU()]
        if dropout:
            layers.append(Dropout(dropout, rng=rng))
        layers.append(Linear(hidden_size, n_classes, weight_init=weight_init, rng=rng, dtype=dt))
        super().__init__(*layers)
        self._finish(config)


@register_layer
class ResNet(ConvNet):
    """A small ResNet for 28x28 images, pre-activation by default.

    Conv 4x4 (widths[0]) -> 25x25; stage s: ``blocks_per_stage`` residual blocks of
    widths[s] channels, the first of stages 2, 3, ... with stride 2 (25 -> 13 -> 7);
    then global average pool - Linear.

    ``preactivation=True``: :class:`ResidualBlock` (BN-ReLU-Conv inside, identity
    shortcuts untouched), and BN - ReLU before the pool. ``preactivation=False``:
    the original form, stem Conv-BN-ReLU and :class:`PostActResidualBlock`
    (Conv-BN-ReLU inside, ReLU after each addition), straight to the pool.

    Reference: He et al., 2016, "Identity Mappings in Deep Residual Networks" (CIFAR ResNets, sec. 5);
    He et al., 2016, "Deep Residual Learning for Image Recognition" (the post-activation form).
    """

    def __init__(self, input_shape: Sequence[int] = (1, 28, 28), widths: Sequence[int] = (16, 32, 64),
                 blocks_per_stage: int = 1, n_classes: int = 10, input_grad: bool = False,
                 seed: int | np.random.Generator = 0, dtype=None, preactivation: bool = True) -> None:
        config = _config(locals())
        _check_flag(preactivation, "preactivation")
        C, H, W = _shape(input_shape)
        widths = [int(w) for w in widths]
        if not widths or min(widths) <= 0 or int(blocks_per_stage) <= 0:
            raise ConfigError(f"ResNet needs positive widths and blocks_per_stage, got {widths}, {blocks_per_stage}")
        rng, dt = _rng(seed), resolve_dtype(dtype)
        block_cls = ResidualBlock if preactivation else PostActResidualBlock
        layers: list[Layer] = [Conv2d(C, widths[0], 4, bias=False, input_grad=input_grad, rng=rng, dtype=dt)]
        if not preactivation:
            layers += [BatchNorm2d(widths[0], dtype=dt), ReLU()]
        cin = widths[0]
        for s, width in enumerate(widths):
            for b in range(int(blocks_per_stage)):
                stride = 2 if (s > 0 and b == 0) else 1
                layers.append(block_cls(cin, width, stride, rng=rng, dtype=dt))
                cin = width
        if preactivation:
            layers += [BatchNorm2d(cin, dtype=dt), ReLU()]
        layers += [GlobalAvgPool2d(), Linear(cin, n_classes, rng=rng, dtype=dt)]
        super().__init__(*layers)
        self._finish(config)


@register_layer
class InceptionNet(ConvNet):
    """A small GoogLeNet for 28x28 images, with two auxiliary classifiers.

    Conv3x3(32)-BN-ReLU - MaxPool 2 (14x14) - Inception a, b - [aux 1] - MaxPool 2 (7x7)
    - Inception c - [aux 2] - Inception d - global average pool - Dropout - Linear.
    The auxiliary heads (weight ``aux_weight`` each) act only in training.

    Reference: Szegedy et al., 2015, "Going Deeper with Convolutions" (table 1, sec. 5).
    """

    BLOCKS = {
        "a": (32, 16, 16, 24, 4, 8, 8),        # -> 56 channels
        "b": (56, 24, 24, 32, 8, 16, 16),      # -> 88
        "c": (88, 32, 32, 48, 8, 16, 16),      # -> 112
        "d": (112, 48, 32, 64, 8, 16, 16),     # -> 144
    }

    def __init__(self, input_shape: Sequence[int] = (1, 28, 28), n_classes: int = 10, aux_weight: float = 0.3,
                 dropout: float = 0.2, input_grad: bool = False, seed: int | np.random.Generator = 0,
                 dtype=None) -> None:
        config = _config(locals())
        C, H, W = _shape(input_shape)
        rng, dt = _rng(seed), resolve_dtype(dtype)
        b = {k: InceptionBlock(*v, rng=rng, dtype=dt) for k, v in self.BLOCKS.items()}
        layers: list[Layer] = [Conv2d(C, 32, 3, padding=1, bias=False, input_grad=input_grad, rng=rng, dtype=dt),
                               BatchNorm2d(32, dtype=dt), ReLU(), MaxPool2d(2), b["a"], b["b"]]
        if aux_weight:
            layers.append(AuxiliaryHead(b["b"].out_channels, n_classes, aux_weight, rng=rng, dtype=dt))
        layers += [MaxPool2d(2), b["c"]]
        if aux_weight:
            layers.append(AuxiliaryHead(b["c"].out_channels, n_classes, aux_weight, rng=rng, dtype=dt))
        layers += [b["d"], GlobalAvgPool2d()]
        if dropout:
            layers.append(Dropout(dropout, rng=rng))
        layers.append(Linear(b["d"].out_channels, n_classes, rng=rng, dtype=dt))
        super().__init__(*layers)
        self._finish(config)


@register_layer
class DenseNet(ConvNet):
    """A small DenseNet-BC for 28x28 images.

    Conv3x3(2k)-MaxPool 2 (14x14) - DenseBlock - Transition (7x7) - DenseBlock
    - BN - ReLU - global average pool - Linear, with growth rate k, bottleneck
    layers and compression 0.5.

    Reference: Huang et al., 2017, "Densely Connected Convolutional Networks" (DenseNet-BC, sec. 3-4).
    """

    def __init__(self, input_shape: Sequence[int] = (1, 28, 28), growth_rate: int = 12,
                 layers_per_block: Sequence[int] = (4, 4), compression: float = 0.5, n_classes: int = 10,
                 input_grad: bool = False, seed: int | np.random.Generator = 0, dtype=None) -> None:
        config = _config(locals())
        C, H, W = _shape(input_shape)
        per_block = [int(n) for n in layers_per_block]
        if not per_block or min(per_block) <= 0:
            raise ConfigError(f"DenseNet layers_per_block must be positive, got {layers_per_block!r}")
        rng, dt = _rng(seed), resolve_dtype(dtype)
        cin = 2 * int(growth_rate)
        layers: list[Layer] = [Conv2d(C, cin, 3, padding=1, bias=False, input_grad=input_grad, rng=rng, dtype=dt),
                               MaxPool2d(2)]
        for i, n in enumerate(per_block):
            block = DenseBlock(cin, growth_rate, n, rng=rng, dtype=dt)
            layers.append(block)
            cin = block.out_channels
            if i < len(per_block) - 1:
                trans = Transition(cin, compression, rng=rng, dtype=dt)
                layers.append(trans)
                cin = trans.out_channels
        layers += [BatchNorm2d(cin, dtype=dt), ReLU(), GlobalAvgPool2d(), Linear(cin, n_classes, rng=rng, dtype=dt)]
        super().__init__(*layers)
        self._finish(config)


CNN_MODELS.add("simple-convnet", SimpleConvNet, aliases=("simple", "simpleconvnet"))
CNN_MODELS.add("deep-convnet", DeepConvNet, aliases=("deep", "deepconvnet"))
CNN_MODELS.add("resnet", ResNet)
CNN_MODELS.add("inception", InceptionNet, aliases=("inceptionnet", "googlenet"))
CNN_MODELS.add("densenet", DenseNet)


def create_model(name: str, **kwargs) -> ConvNet:
    """Build a CNN by registry name (``CNN_MODELS.names()``) with constructor keyword arguments."""
    return CNN_MODELS.get(name)(**kwargs)
