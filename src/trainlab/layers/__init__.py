"""Layers with explicit forward and backward passes."""

from trainlab.layers.activations import ACTIVATIONS, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh, softmax
from trainlab.layers.base import (
    LAYER_TYPES,
    Layer,
    Parameter,
    Sequential,
    layer_from_spec,
    layer_to_spec,
    register_layer,
)
from trainlab.layers.batchnorm import BatchNorm1d, BatchNorm2d
from trainlab.layers.dropout import Dropout
from trainlab.layers.linear import Flatten, Linear
from trainlab.layers.losses import CrossEntropyLoss, Loss, MSELoss, SoftmaxWithLoss

__all__ = [
    "ACTIVATIONS", "LAYER_TYPES", "BatchNorm1d", "BatchNorm2d", "CrossEntropyLoss", "Dropout",
    "Flatten", "Layer", "LeakyReLU", "Linear", "Loss", "MSELoss", "Parameter", "ReLU", "Sequential",
    "Sigmoid", "Softmax", "SoftmaxWithLoss", "Tanh", "layer_from_spec", "layer_to_spec",
    "register_layer", "softmax",
]
