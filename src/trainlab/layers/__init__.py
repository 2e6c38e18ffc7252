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
from trainlab.layers.blocks import (
    AuxiliaryHead, Concat, DenseBlock, InceptionBlock, PostActResidualBlock, ResidualBlock, Transition,
)
from trainlab.layers.conv import Conv2d, col2im, conv2d_backward, conv2d_forward, im2col
from trainlab.layers.dropout import Dropout
from trainlab.layers.linear import Flatten, Linear
from trainlab.layers.losses import CrossEntropyLoss, Loss, MSELoss, SoftmaxWithLoss
from trainlab.layers.pooling import AvgPool2d, GlobalAvgPool2d, MaxPool2d

__all__ = [
    "ACTIVATIONS", "LAYER_TYPES", "BatchNorm1d", "BatchNorm2d", "CrossEntropyLoss", "Dropout",
    "Flatten", "Layer", "LeakyReLU", "Linear", "Loss", "MSELoss", "Parameter", "ReLU", "Sequential",
    "Sigmoid", "Softmax", "SoftmaxWithLoss", "Tanh", "layer_from_spec", "layer_to_spec",
    "register_layer", "softmax",
    # convolutional layers and blocks
    "AuxiliaryHead", "AvgPool2d", "Concat", "Conv2d", "DenseBlock", "GlobalAvgPool2d", "InceptionBlock",
    "MaxPool2d", "PostActResidualBlock", "ResidualBlock", "Transition", "col2im", "conv2d_backward",
    "conv2d_forward", "im2col",
]
