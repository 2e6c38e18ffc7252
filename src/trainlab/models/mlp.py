"""The book's extended multi-layer perceptron (MultiLayerNetExtend), built from layers."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from trainlab.errors import ConfigError
from trainlab.init import InitSpec, check_init_spec
from trainlab.layers.activations import ACTIVATIONS
from trainlab.layers.base import Sequential, register_layer, resolve_dtype
from trainlab.layers.batchnorm import BatchNorm1d
from trainlab.layers.dropout import Dropout
from trainlab.layers.linear import Linear
from trainlab.layers.losses import CrossEntropyLoss
from trainlab.regularization import add_l2_gradient, l2_penalty


@register_layer
class MultiLayerNet(Sequential):
    """Linear -> [BatchNorm1d] -> activation -> [Dropout], repeated, then a Linear to the scores.

    The output is the class scores (logits); :meth:`loss` applies softmax
    cross-entropy and, when ``weight_decay > 0``, the L2 penalty
    0.5 * weight_decay * sum ||W||^2 over the Linear weights, as in the book.

    Parameters
    ----------
    input_size : int
        Features per sample (784 for MNIST).
    hidden_sizes : sequence of int
        Nodes of each hidden layer, e.g. [100, 100, 100, 100].
    output_size : int
        Number of classes.
    activation : {'relu', 'sigmoid', 'tanh', 'leaky-relu'}, default 'relu'
    weight_init : str or float, default 'he'
        Initialiser name or std for every Linear; the book's 'relu' and
        'sigmoid' name He and Xavier (see :mod:`trainlab.init`).
    use_batchnorm : bool, default False
    dropout : float, default 0.0
        Drop probability after each hidden activation (0 disables it).
    inverted_dropout : bool, default True
        PyTorch's inverted dropout; False gives the book's form (see :class:`Dropout`).
    weight_decay : float, default 0.0
        L2 strength (the book's ``weight_decay_lambda``).
    seed : int or numpy.random.Generator, default 0
        Source of initial weights and dropout masks.
    dtype : floating dtype, default float32

    Shapes: x (N, input_size) -> scores (N, output_size).

    Reference: Saito, *Deep Learning from Scratch*, sec. 6.1-6.4 (common/multi_layer_net_extend.py).
    """

    def __init__(self, input_size: int, hidden_sizes: Sequence[int], output_size: int,
                 activation: str = "relu", weight_init: InitSpec = "he",
                 use_batchnorm: bool = False, dropout: float = 0.0, weight_decay: float = 0.0,
                 seed: int | np.random.Generator = 0, dtype=None, *, inverted_dropout: bool = True) -> None:
        hidden_sizes = [int(h) for h in hidden_sizes]
        if int(input_size) <= 0 or int(output_size) <= 0 or any(h <= 0 for h in hidden_sizes):
            raise ConfigError(f"MultiLayerNet sizes must be positive, got input {input_size}, "
                              f"hidden {hidden_sizes}, output {output_size}")
        if weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {weight_decay}")
        act_cls = ACTIVATIONS.get(activation)
        check_init_spec(weight_init)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        dt = resolve_dtype(dtype)
        layers = []
        sizes = [int(input_size), *hidden_sizes]
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            layers.append(Linear(fan_in, fan_out, weight_init=weight_init, rng=rng, dtype=dt))
            if use_batchnorm:
                layers.append(BatchNorm1d(fan_out, dtype=dt))
            layers.append(act_cls())
            if dropout:
                layers.append(Dropout(dropout, inverted=inverted_dropout, rng=rng))
        layers.append(Linear(sizes[-1], int(output_size), weight_init=weight_init, rng=rng, dtype=dt))
        super().__init__(*layers)
        self.input_size, self.hidden_sizes, self.output_size = int(input_size), hidden_sizes, int(output_size)
        self.activation, self.weight_init = activation, weight_init
        self.use_batchnorm, self.dropout = bool(use_batchnorm), float(dropout)
        self.inverted_dropout = bool(inverted_dropout)
        self.weight_decay = float(weight_decay)
        self.seed = seed if isinstance(seed, int) else None
        self.dtype = dt
        self.loss_layer = CrossEntropyLoss()

    # ---- the book's interface -------------------------------------------
    def predict(self, x, *, train: bool = False):
        """Class scores (N, output_size)."""
        return self.forward(x, train=train)

    def loss(self, x, t, *, train: bool = True) -> float:
        """Cross-entropy of the scores plus the L2 penalty."""
        scores = self.forward(x, train=train)
        return self.loss_layer.forward(scores, t) + l2_penalty(self.parameters(), self.weight_decay)

    def gradient(self, x, t) -> float:
        """Forward, backward and L2 in one call; leaves gradients in the parameters and returns the loss."""
        loss = self.loss(x, t, train=True)
        self.backward(self.loss_layer.backward())
        add_l2_gradient(self.parameters(), self.weight_decay)
        return loss

    def accuracy(self, x, t, batch_size: int = 1000) -> float:
        """Fraction of samples whose highest score is the label (index or one-hot)."""
        from trainlab.training import accuracy

        return accuracy(self, x, t, batch_size)

    def get_config(self) -> dict[str, Any]:
        return {"input_size": self.input_size, "hidden_sizes": list(self.hidden_sizes),
                "output_size": self.output_size, "activation": self.activation,
                "weight_init": self.weight_init, "use_batchnorm": self.use_batchnorm,
                "dropout": self.dropout, "inverted_dropout": self.inverted_dropout,
                "weight_decay": self.weight_decay,
                "seed": self.seed if self.seed is not None else 0, "dtype": self.dtype.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "MultiLayerNet":
        return cls(**config)
