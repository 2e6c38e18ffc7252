"""PyTorch twins of the networks the benchmarks train: the same layers in the same order, the same weights.

Each twin is written out in PyTorch from the trainlab model's config (not
translated layer by layer), then takes the trainlab model's initial weights:
the parameters are copied in order, their shapes asserted equal (a Linear
weight is stored transposed in trainlab, (in, out)), and so is their count.
A wrong stride, padding, pool or branch shows up as a failed copy, or as
different outputs in ``tests/benchmarks/test_torch_models.py``.

Where trainlab runs ReLU after a max pool (``relu_after_pool``, the same
function as before it) the twin does too; pre-activation ResNet blocks stay
pre-activation. InceptionNet's auxiliary classifiers act in training only, and
:func:`training_loss` adds their weighted losses as trainlab's Trainer does.
DenseNet's dense blocks concatenate with ``torch.cat`` (PyTorch's usual form;
trainlab writes every layer's output into one preallocated array instead).

    import torch_models
    model = torch_models.twin_for("resnet20")     # or torch_twin(a trainlab model)
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from common import NETWORKS, trainlab_model
from torch import nn

from trainlab.models import DeepConvNet, DenseNet, InceptionNet, MultiLayerNet, ResNet, SimpleConvNet

#: Hidden channels of an auxiliary classifier (trainlab's AuxiliaryHead default).
AUX_HIDDEN = 64
ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


class GlobalAvgPool2d(nn.Module):
    """(N, C, H, W) -> (N, C): the mean of each channel."""

    def forward(self, x):
        return x.mean((2, 3))


def conv_bn_relu(cin: int, cout: int, k: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class ResidualBlock(nn.Module):
    """Pre-activation: x + F(x), F = BN-ReLU-Conv3x3-BN-ReLU-Conv3x3; a projection reads BN-ReLU(x)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.preact = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU())
        self.residual = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                                      nn.Conv2d(cout, cout, 3, 1, 1, bias=False))
        self.shortcut = nn.Conv2d(cin, cout, 1, stride, bias=False) if stride != 1 or cin != cout else None

    def forward(self, x):
        a = self.preact(x)
        return self.residual(a) + (x if self.shortcut is None else self.shortcut(a))


class PostActResidualBlock(nn.Module):
    """The original block: ReLU(x + F(x)), F = Conv3x3-BN-ReLU-Conv3x3-BN; projection Conv1x1-BN."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.residual = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                                      nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.shortcut = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                         if stride != 1 or cin != cout else None)

    def forward(self, x):
        return F.relu(self.residual(x) + (x if self.shortcut is None else self.shortcut(x)))


class InceptionBlock(nn.Module):
    """Branches 1x1 | 1x1-3x3 | 1x1-5x5 | maxpool3x3-1x1, each conv with BN-ReLU, concatenated."""

    def __init__(self, cin: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, pool_proj: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList([
            nn.Sequential(*conv_bn_relu(cin, c1, 1)),
            nn.Sequential(*conv_bn_relu(cin, c3r, 1), *conv_bn_relu(c3r, c3, 3)),
            nn.Sequential(*conv_bn_relu(cin, c5r, 1), *conv_bn_relu(c5r, c5, 5)),
            nn.Sequential(nn.MaxPool2d(3, 1, 1), *conv_bn_relu(cin, pool_proj, 1))])

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], 1)


class AuxiliaryHead(nn.Module):
    """The identity for the trunk; in training it keeps ``logits`` of AvgPool2-Conv1x1-ReLU-GAP-Linear."""

    def __init__(self, cin: int, n_classes: int, weight: float) -> None:
        super().__init__()
        self.weight = weight
        self.head = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(cin, AUX_HIDDEN, 1), nn.ReLU(), GlobalAvgPool2d(),
                                  nn.Linear(AUX_HIDDEN, n_classes))
        self.logits = None

    def forward(self, x):
        self.logits = self.head(x) if self.training else None
        return x


class DenseBlock(nn.Module):
    """Layer l: BN-ReLU-Conv1x1(4k)-BN-ReLU-Conv3x3(k) on all earlier features; k new channels each."""

    def __init__(self, cin: int, k: int, n_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Sequential(nn.BatchNorm2d(cin + i * k), nn.ReLU(), nn.Conv2d(cin + i * k, 4 * k, 1, bias=False),
                          nn.BatchNorm2d(4 * k), nn.ReLU(), nn.Conv2d(4 * k, k, 3, padding=1, bias=False))
            for i in range(n_layers))

    def forward(self, x):
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)


def mlp(c: dict) -> list[nn.Module]:
    layers, sizes = [], [c["input_size"], *c["hidden_sizes"]]
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers.append(nn.Linear(fan_in, fan_out))
        layers += [nn.BatchNorm1d(fan_out)] if c["use_batchnorm"] else []
        layers.append(ACTIVATIONS[c["activation"]]())
        layers += [nn.Dropout(c["dropout"])] if c["dropout"] else []
    return layers + [nn.Linear(sizes[-1], c["output_size"])]


def simple_convnet(c: dict) -> list[nn.Module]:
    C, H, W = c["input_shape"]
    k, s, p = c["filter_size"], c["stride"], c["padding"]
    oh, ow = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
    stage = [nn.MaxPool2d(2), nn.ReLU()] if c["relu_after_pool"] else [nn.ReLU(), nn.MaxPool2d(2)]
    return [nn.Conv2d(C, c["filter_num"], k, s, p), *stage, nn.Flatten(),
            nn.Linear(c["filter_num"] * (oh // 2) * (ow // 2), c["hidden_size"]), nn.ReLU(),
            nn.Linear(c["hidden_size"], c["n_classes"])]


def deep_convnet(c: dict) -> list[nn.Module]:
    C, H, W = c["input_shape"]
    layers: list[nn.Module] = []
    for item in [(C, 16, 1), (16, 16, 1), None, (16, 32, 1), (32, 32, 2), None, (32, 64, 1), (64, 64, 1), None]:
        if item is None:  # conv - pool - ReLU, or the book's conv - ReLU - pool
            layers.insert(len(layers) - 1 if c["relu_after_pool"] else len(layers), nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(item[0], item[1], 3, padding=item[2]), nn.ReLU()]
    h, w = (H // 2 + 2) // 4, (W // 2 + 2) // 4
    layers += [nn.Flatten(), nn.Linear(64 * h * w, c["hidden_size"]), nn.ReLU()]
    layers += [nn.Dropout(c["dropout"])] if c["dropout"] else []
    return layers + [nn.Linear(c["hidden_size"], c["n_classes"])]


def resnet(c: dict) -> list[nn.Module]:
    widths, pre = c["widths"], c["preactivation"]
    layers: list[nn.Module] = [nn.Conv2d(c["input_shape"][0], widths[0], 4, bias=False)]  # 28 -> 25
    layers += [] if pre else [nn.BatchNorm2d(widths[0]), nn.ReLU()]
    cin = widths[0]
    for s, width in enumerate(widths):
        for b in range(c["blocks_per_stage"]):
            layers.append((ResidualBlock if pre else PostActResidualBlock)(cin, width, 2 if s > 0 and b == 0 else 1))
            cin = width
    layers += [nn.BatchNorm2d(cin), nn.ReLU()] if pre else []
    return layers + [GlobalAvgPool2d(), nn.Linear(cin, c["n_classes"])]


def inception(c: dict) -> list[nn.Module]:
    sizes, n, aux = InceptionNet.BLOCKS, c["n_classes"], c["aux_weight"]
    layers: list[nn.Module] = [nn.Conv2d(c["input_shape"][0], 32, 3, padding=1, bias=False), nn.BatchNorm2d(32),
                               nn.ReLU(), nn.MaxPool2d(2), InceptionBlock(*sizes["a"]), InceptionBlock(*sizes["b"])]
    layers += [AuxiliaryHead(88, n, aux)] if aux else []
    layers += [nn.MaxPool2d(2), InceptionBlock(*sizes["c"])]
    layers += [AuxiliaryHead(112, n, aux)] if aux else []
    layers += [InceptionBlock(*sizes["d"]), GlobalAvgPool2d()]
    layers += [nn.Dropout(c["dropout"])] if c["dropout"] else []
    return layers + [nn.Linear(144, n)]


def densenet(c: dict) -> list[nn.Module]:
    k, per_block = c["growth_rate"], c["layers_per_block"]
    cin = 2 * k
    layers: list[nn.Module] = [nn.Conv2d(c["input_shape"][0], cin, 3, padding=1, bias=False), nn.MaxPool2d(2)]
    for i, n in enumerate(per_block):
        layers.append(DenseBlock(cin, k, n))
        cin += n * k
        if i < len(per_block) - 1:  # transition: BN-ReLU-Conv1x1(compression * C)-AvgPool2
            out = int(np.floor(cin * c["compression"]))
            layers += [nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, out, 1, bias=False), nn.AvgPool2d(2)]
            cin = out
    return layers + [nn.BatchNorm2d(cin), nn.ReLU(), GlobalAvgPool2d(), nn.Linear(cin, c["n_classes"])]


BUILDERS = {MultiLayerNet: mlp, SimpleConvNet: simple_convnet, DeepConvNet: deep_convnet, ResNet: resnet,
            InceptionNet: inception, DenseNet: densenet}


def copy_weights(ours, theirs: nn.Module) -> None:
    """Copy trainlab model ``ours``'s parameters into ``theirs``, in order, asserting equal shapes."""
    mine = list(ours.named_parameters())
    other = list(theirs.named_parameters())
    assert len(mine) == len(other), f"{len(mine)} trainlab parameters against {len(other)} torch parameters"
    with torch.no_grad():
        for (name, p), (torch_name, q) in zip(mine, other):
            value = p.data.T if p.data.ndim == 2 else p.data  # trainlab's Linear weight is (in, out)
            assert tuple(q.shape) == value.shape, f"{name} {value.shape} against {torch_name} {tuple(q.shape)}"
            q.copy_(torch.from_numpy(np.ascontiguousarray(value)))


def torch_twin(model) -> nn.Sequential:
    """The PyTorch network of trainlab ``model`` (any of BUILDERS' classes, any config) with its weights."""
    config = model.get_config()
    twin = nn.Sequential(*BUILDERS[type(model)](config))
    twin.to(torch.float64 if np.dtype(config.get("dtype", "float32")) == np.float64 else torch.float32)
    theirs = sum(p.numel() for p in twin.parameters())
    assert theirs == model.num_parameters(), f"parameters: trainlab {model.num_parameters():,}, torch {theirs:,}"
    copy_weights(model, twin)
    return twin


def twin_for(name: str, seed: int = 0, **overrides) -> nn.Sequential:
    """The twin of benchmark network ``name`` (common.NETWORKS), with the weights trainlab draws from ``seed``."""
    return torch_twin(trainlab_model(name, seed, **overrides))


def training_loss(model: nn.Module, scores, t):
    """Softmax cross-entropy, plus weight * cross-entropy of every auxiliary head's logits (as trainlab's Trainer)."""
    loss = F.cross_entropy(scores, t)
    for m in model.modules():
        if isinstance(m, AuxiliaryHead) and m.logits is not None:
            loss = loss + m.weight * F.cross_entropy(m.logits, t)
    return loss


__all__ = ["NETWORKS", "AuxiliaryHead", "copy_weights", "torch_twin", "trainlab_model", "training_loss", "twin_for"]
