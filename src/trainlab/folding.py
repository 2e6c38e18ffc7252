"""Fold batch normalisation into the layer before it, for inference.

In eval mode BatchNorm is an affine map per feature, y = x * s + c with
s = gamma / sqrt(running_var + eps) and c = beta - running_mean * s. When it
follows a Linear layer (x W + b), the pair is one Linear layer:

    W' = W * s            (each output column scaled)
    b' = (b - mean) * s + beta

so inference skips the BatchNorm pass entirely. Convolutions fold the same
way per output channel; their rule registers itself in :data:`FOLD_RULES`.

Reference: Jacob et al., 2018 (sec. 3.2), and common practice in inference engines.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import numpy as np

from trainlab.errors import ShapeError
from trainlab.layers.base import Layer, Sequential, layer_from_spec, layer_to_spec, register_layer, replace_children
from trainlab.layers.batchnorm import BatchNorm1d, BatchNorm2d, _BatchNorm
from trainlab.layers.conv import Conv2d
from trainlab.layers.linear import Linear

#: (type of the layer before, type of the BatchNorm) -> function(layer, bn) -> folded layer
FOLD_RULES: dict[tuple[type, type], Callable[[Layer, _BatchNorm], Layer]] = {}


def fold_rule(before: type, bn: type):
    """Decorator registering how a BatchNorm of type ``bn`` folds into a layer of type ``before``."""

    def decorate(fn):
        FOLD_RULES[(before, bn)] = fn
        return fn

    return decorate


def fold_affine(layer: Layer, bn: _BatchNorm, n_out: int, channel_axis: int) -> Layer:
    """A copy of ``layer`` (weight and optional bias) with ``bn``'s eval-mode map folded in.

    The weight is scaled by s = gamma / sqrt(running_var + eps) along ``channel_axis`` (the
    layer's output axis) and the bias becomes (b - mean) * s + beta; a layer without a bias
    gets one. The arithmetic is done in float64 and cast back to the layer's dtype.
    """
    scale, shift = bn.scale_and_shift()  # float64, (n_out,)
    folded = copy.deepcopy(layer)
    dt = layer.weight.data.dtype
    shape = [1] * layer.weight.data.ndim
    shape[channel_axis] = n_out
    W = layer.weight.data.astype(np.float64) * scale.reshape(shape)
    b = layer.bias.data.astype(np.float64) if layer.bias is not None else 0.0
    if folded.bias is None:
        folded.bias = folded.add_parameter("bias", np.zeros(n_out, dt), decay=False)
    folded.weight.data = W.astype(dt)
    folded.bias.data = (b * scale + shift).astype(dt)
    return folded


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


@fold_rule(Linear, BatchNorm1d)
def fold_linear_batchnorm(linear: Linear, bn: BatchNorm1d) -> Linear:
    """A Linear equal to ``bn(linear(x))`` in eval mode (its weight is (in, out): columns scale)."""
    if bn.per_activation and bn.num_features != linear.out_features:
        raise ValueError(f"{bn.describe()} does not match {linear.describe()}")
    return fold_affine(linear, bn, linear.out_features, channel_axis=1)


def _foldable(before: Layer, after: Layer):
    for (before_type, bn_type), rule in FOLD_RULES.items():
        if type(before) is before_type and type(after) is bn_type:
            return rule
    return None


@register_layer
class FoldedModel(Sequential):
    """A model after :func:`fold_batchnorm`: its layers, plus what inference needs from the original.

    A model class such as ``MultiLayerNet`` or ``DeepConvNet`` describes itself by
    its constructor arguments, which would rebuild the BatchNorms that folding
    removed, so the folded copy is this class instead: a Sequential that saves
    its actual layers, remembers which class it came from (``source``) and the
    shape of one input sample, and keeps the models' inference interface
    (``predict``, ``accuracy``, ``flops_per_sample``). Checkpoints rebuild it.
    """

    def __init__(self, *layers: Layer, source: str | None = None,
                 input_shape: tuple[int, ...] | list[int] | None = None) -> None:
        super().__init__(*layers)
        self.source = source
        self.input_shape = tuple(int(s) for s in input_shape) if input_shape is not None else None

    def predict(self, x, *, train: bool = False):
        """Class scores, as the original model's ``predict`` gives them in eval mode."""
        return self.forward(x, train=train)

    def accuracy(self, x, t, batch_size: int = 1000) -> float:
        """Fraction of samples whose highest score is the label (index or one-hot)."""
        from trainlab.training import accuracy

        return accuracy(self, x, t, batch_size)

    def flops_per_sample(self) -> int:
        """Multiply-adds of the convolutions and linear layers for one sample (folding removes none)."""
        if self.input_shape is None:
            raise ValueError("this folded model does not know its input shape; "
                             "fold a model that has input_shape or input_size")
        from trainlab.models.cnn import count_macs

        return count_macs(self, self.input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "source": self.source,
                "input_shape": list(self.input_shape) if self.input_shape is not None else None}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "FoldedModel":
        return cls(*[layer_from_spec(spec) for spec in config["layers"]],
                   source=config.get("source"), input_shape=config.get("input_shape"))

    def extra_repr(self) -> str:
        return f"source={self.source!r}, input_shape={self.input_shape!r}"


def _input_shape(model: Layer) -> tuple[int, ...] | None:
    if getattr(model, "input_shape", None) is not None:
        return tuple(model.input_shape)
    if getattr(model, "input_size", None) is not None:  # MultiLayerNet: flat vectors
        return (int(model.input_size),)
    return None


def fold_batchnorm(model: Layer) -> Layer:
    """Return an inference copy of ``model`` with each foldable BatchNorm merged into the layer before it.

    The copy's eval-mode output equals the original's eval-mode output to
    float rounding; the original is not modified. Only Sequential containers
    (at any depth) are rewritten; a BatchNorm that does not directly follow a
    foldable layer stays as it is. A plain :class:`Sequential` folds into a
    plain Sequential; a model class built on one (``MultiLayerNet``, the CNNs)
    folds into a :class:`FoldedModel`, which keeps ``predict``, ``accuracy``
    and ``flops_per_sample``. The result is meant for inference: do not train
    it (the BatchNorms it lost no longer normalise).
    """
    folded = _fold(copy.deepcopy(model))
    if isinstance(model, Sequential) and type(model) not in (Sequential, FoldedModel):
        return FoldedModel(*folded.layers, source=type(model).__name__, input_shape=_input_shape(model))
    if isinstance(model, FoldedModel):  # folding twice keeps what the first fold recorded
        return FoldedModel(*folded.layers, source=model.source, input_shape=model.input_shape)
    return folded


def _fold(layer: Layer) -> Layer:
    if isinstance(layer, Sequential):
        children = [_fold(child) for child in layer.layers]
        out: list[Layer] = []
        for child in children:
            rule = _foldable(out[-1], child) if out else None
            if rule is not None:
                out[-1] = rule(out[-1], child)
            else:
                out.append(child)
        folded = Sequential(*out)
        return folded
    if layer._children:
        before = {name: layer_to_spec(child) for name, child in layer.children()}
        children = {name: _fold(child) for name, child in list(layer.children())}
        if any(layer_to_spec(child) != before[name] for name, child in children.items()):
            replace_children(layer, children)  # so checkpoints save the folded children, not the config's
        else:
            for name, child in children.items():
                layer.add_child(name, child)
    return layer
