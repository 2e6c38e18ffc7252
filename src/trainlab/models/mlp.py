"""The book's extended multi-layer perceptron (MultiLayerNetExtend), built from layers."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from trainlab import regularization
from trainlab.init import InitSpec, check_init_spec
from trainlab.layers.activations import ACTIVATIONS
from trainlab.layers.base import Sequential, register_layer, resolve_dtype
from trainlab.layers.batchnorm import BatchNorm1d
from trainlab.layers.dropout import Dropout
from trainlab.layers.linear import Linear
from trainlab.layers.losses import CrossEntropyLoss
from trainlab.validation import check_bool, check_int, check_real, reject_moved

#: Keys of configs that older releases saved and that are not architecture (dropped on rebuild).
LEGACY_CONFIG_KEYS = ("weight_decay",)


@register_layer
class MultiLayerNet(Sequential):
    """Linear -> [BatchNorm1d] -> activation -> [Dropout], repeated, then a Linear to the scores.

    The output is the class scores (logits); :meth:`loss` applies softmax
    cross-entropy and, when ``l2_penalty > 0``, the book's L2 penalty
    0.5 * l2_penalty * sum ||W||^2 over the Linear weights.

    The model holds its architecture only. The book's ``weight_decay_lambda``
    is a training setting: ``Trainer(l2_penalty=...)`` (or the ``l2_penalty``
    argument of :meth:`loss` and :meth:`gradient`); ``weight_decay=`` here
    raises ConfigError. Checkpoints of older releases, whose config held
    ``weight_decay``, still load: the key is dropped, so a nonzero value saved
    there has to be given to the Trainer again to continue the same training.

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
    seed : int or numpy.random.Generator, default 0
        Source of initial weights and dropout masks.
    dtype : floating dtype, default float32

    Shapes: x (N, input_size) -> scores (N, output_size).

    Reference: Saito, *Deep Learning from Scratch*, sec. 6.1-6.4 (common/multi_layer_net_extend.py).
    """

    def __init__(self, input_size: int, hidden_sizes: Sequence[int], output_size: int,
                 activation: str = "relu", weight_init: InitSpec = "he",
                 use_batchnorm: bool = False, dropout: float = 0.0, *, seed: int | np.random.Generator = 0,
                 dtype=None, inverted_dropout: bool = True, **removed) -> None:
        reject_moved("MultiLayerNet", removed, {"weight_decay": "a model holds its architecture only; "
                                                                + regularization.WEIGHT_DECAY_MOVED})
        input_size = check_int("MultiLayerNet", "input_size", input_size, low=1)
        output_size = check_int("MultiLayerNet", "output_size", output_size, low=1)
        hidden_sizes = [check_int("MultiLayerNet", f"hidden_sizes[{i}]", h, low=1)
                        for i, h in enumerate(hidden_sizes)]
        use_batchnorm = check_bool("MultiLayerNet", "use_batchnorm", use_batchnorm)
        inverted_dropout = check_bool("MultiLayerNet", "inverted_dropout", inverted_dropout)
        act_cls = ACTIVATIONS.get(activation)
        check_init_spec(weight_init)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        dt = resolve_dtype(dtype)
        layers = []
        sizes = [input_size, *hidden_sizes]
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            layers.append(Linear(fan_in, fan_out, weight_init=weight_init, rng=rng, dtype=dt))
            if use_batchnorm:
                layers.append(BatchNorm1d(fan_out, dtype=dt))
            layers.append(act_cls())
            if dropout:
                layers.append(Dropout(dropout, inverted=inverted_dropout, rng=rng))
        layers.append(Linear(sizes[-1], output_size, weight_init=weight_init, rng=rng, dtype=dt))
        super().__init__(*layers)
        self.input_size, self.hidden_sizes, self.output_size = input_size, hidden_sizes, output_size
        self.activation, self.weight_init = activation, weight_init
        self.use_batchnorm, self.dropout = use_batchnorm, float(dropout)
        self.inverted_dropout = inverted_dropout
        self.seed = seed if isinstance(seed, int) else None
        self.dtype = dt
        self.loss_layer = CrossEntropyLoss()

    # ---- the book's interface -------------------------------------------
    def predict(self, x, *, train: bool = False):
        """Class scores (N, output_size)."""
        return self.forward(x, train=train)

    def loss(self, x, t, *, train: bool = True, l2_penalty: float = 0.0) -> float:
        """Cross-entropy of the scores plus the book's L2 penalty ``l2_penalty/2 * sum ||W||^2``."""
        l2_penalty = check_real("MultiLayerNet.loss", "l2_penalty", l2_penalty, low=0.0)
        scores = self.forward(x, train=train)
        return self.loss_layer.forward(scores, t) + regularization.l2_penalty(self.parameters(), l2_penalty)

    def gradient(self, x, t, *, l2_penalty: float = 0.0) -> float:
        """Forward, backward and L2 in one call; leaves gradients in the parameters and returns the loss."""
        loss = self.loss(x, t, train=True, l2_penalty=l2_penalty)
        self.backward(self.loss_layer.backward())
        regularization.add_l2_gradient(self.parameters(), l2_penalty)
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
                "seed": self.seed if self.seed is not None else 0, "dtype": self.dtype.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "MultiLayerNet":
        """Rebuild from :meth:`get_config`, also from the configs of older releases (see the class notes)."""
        return cls(**{k: v for k, v in config.items() if k not in LEGACY_CONFIG_KEYS})
