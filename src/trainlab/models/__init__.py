"""Ready-made networks built from trainlab's layers."""

from trainlab.models.cnn import (
    CNN_MODELS,
    ConvNet,
    DeepConvNet,
    DenseNet,
    InceptionNet,
    ResNet,
    SimpleConvNet,
    count_macs,
    create_model,
)
from trainlab.models.mlp import MultiLayerNet

__all__ = [
    "CNN_MODELS", "ConvNet", "DeepConvNet", "DenseNet", "InceptionNet", "MultiLayerNet", "ResNet",
    "SimpleConvNet", "count_macs", "create_model",
]
