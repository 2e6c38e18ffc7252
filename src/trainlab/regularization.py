"""The book's L2 penalty in the loss: ``L + lambda/2 * sum ||W||^2`` (its ``weight_decay_lambda``).

Training with it is :class:`trainlab.training.Trainer`'s ``l2_penalty=lambda``:
the penalty joins the reported loss and ``lambda * W`` joins each weight's
gradient. An optimizer's ``weight_decay=lambda`` (PyTorch's meaning) adds the
same ``lambda * W`` to the gradient and nothing to the loss, so with SGD both
follow the same trajectory; AdamW's ``weight_decay`` is the decoupled form
``W *= 1 - lr*lambda``, a different method. All three touch only parameters
whose ``decay`` flag is set: weights, not biases or BatchNorm's gamma/beta.

Reference: Saito, *Deep Learning from Scratch*, sec. 6.4.2.
"""

from __future__ import annotations

from typing import Iterable

from trainlab.layers.base import Parameter

#: Where a ``weight_decay=`` given to a model or to the Trainer went (the message of their ConfigError).
WEIGHT_DECAY_MOVED = ("for the book's penalty lambda/2*||W||^2 in the loss pass Trainer(l2_penalty=lambda); "
                      "for L2 added to the gradient pass weight_decay=lambda to the optimizer "
                      "(PyTorch's meaning; AdamW's weight_decay is the decoupled form)")


def l2_penalty(params: Iterable[Parameter], strength: float) -> float:
    """0.5 * strength * sum of squared entries of every decaying parameter."""
    if not strength:
        return 0.0
    total = 0.0
    for p in params:
        if p.decay:
            total += float((p.data * p.data).sum())
    return 0.5 * strength * total


def add_l2_gradient(params: Iterable[Parameter], strength: float) -> None:
    """grad += strength * data for every decaying parameter that has a gradient."""
    if not strength:
        return
    for p in params:
        if p.decay and p.grad is not None:
            p.grad = p.grad + p.data.dtype.type(strength) * p.data
