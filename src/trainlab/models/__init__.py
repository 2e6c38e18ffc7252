"""Ready-made networks built from trainlab's layers."""

from trainlab.models.mlp import MultiLayerNet

__all__ = ["MultiLayerNet"]
