"""Coupled L2 weight decay as a loss term: the book's ``weight_decay_lambda``.

Adding 0.5 * lambda * sum ||W||^2 to the loss adds lambda * W to each weight's
gradient; an optimizer's ``weight_decay=lambda`` does the second half only
(the reported loss then excludes the penalty). Both touch only parameters
whose ``decay`` flag is set: weights, not biases or BatchNorm's gamma/beta.

Reference: Saito, *Deep Learning from Scratch*, sec. 6.4.2.
"""

from __future__ import annotations

from typing import Iterable

from trainlab.layers.base import Parameter


def l2_penalty(params: Iterable[Parameter], weight_decay: float) -> float:
    """0.5 * weight_decay * sum of squared entries of every decaying parameter."""
    if not weight_decay:
        return 0.0
    total = 0.0
    for p in params:
        if p.decay:
            total += float((p.data * p.data).sum())
    return 0.5 * weight_decay * total


def add_l2_gradient(params: Iterable[Parameter], weight_decay: float) -> None:
    """grad += weight_decay * data for every decaying parameter that has a gradient."""
    if not weight_decay:
        return
    for p in params:
        if p.decay and p.grad is not None:
            p.grad = p.grad + p.data.dtype.type(weight_decay) * p.data
