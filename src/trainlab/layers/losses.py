"""Loss functions with backward: softmax cross-entropy and mean squared error.

A loss is not a layer (it takes targets and returns a number), but it follows
the same protocol: ``forward(y, t)`` caches what ``backward()`` needs.
"""

from __future__ import annotations

import numpy as np

from trainlab.backend import get_array_module
from trainlab.errors import DTypeError, NonFiniteError, ShapeError
from trainlab.validation import check_real


class Loss:
    """Base class: ``forward(y, t) -> float``, ``backward(dout=1.0) -> dy``."""

    def __call__(self, y, t) -> float:
        return self.forward(y, t)

    def forward(self, y, t) -> float:
        raise NotImplementedError

    def backward(self, dout: float = 1.0):
        raise NotImplementedError

    def describe(self) -> str:
        return type(self).__name__


def check_labels(loss: Loss, logits, t):
    """Validate targets for a classifier: int class indices (N,) or one-hot / soft (N, C).

    Returns ``("index", t)`` or ``("dense", t)``.
    """
    if not hasattr(logits, "ndim") or logits.ndim != 2:
        raise ShapeError(f"{loss.describe()}: expected scores of shape (N, C), got "
                         f"{getattr(logits, 'shape', type(logits).__name__)}")
    if not np.issubdtype(logits.dtype, np.floating):
        raise DTypeError(f"{loss.describe()}: scores must be floating point, got {logits.dtype}")
    N, C = logits.shape
    t = np.asarray(t) if not hasattr(t, "ndim") else t
    if t.ndim == 1:
        if not np.issubdtype(t.dtype, np.integer):
            raise DTypeError(f"{loss.describe()}: class-index labels must be integers, got {t.dtype}")
        if t.shape[0] != N:
            raise ShapeError(f"{loss.describe()}: {N} score rows but {t.shape[0]} labels")
        if N and (t.min() < 0 or t.max() >= C):
            bad = t[(t < 0) | (t >= C)][0]
            raise ShapeError(f"{loss.describe()}: label {int(bad)} out of range for {C} classes (valid 0..{C - 1})")
        return "index", t
    if t.ndim == 2:
        if t.shape != logits.shape:
            raise ShapeError(f"{loss.describe()}: one-hot targets of shape {t.shape} "
                             f"do not match scores of shape {logits.shape}")
        return "dense", t.astype(logits.dtype, copy=False)
    raise ShapeError(f"{loss.describe()}: labels must be (N,) class indices or (N, C) one-hot, got shape {t.shape}")


class CrossEntropyLoss(Loss):
    """Softmax followed by cross-entropy, averaged over the batch (the book's SoftmaxWithLoss).

    loss = -1/N sum_n sum_c t_nc log softmax(y)_nc, computed with log-sum-exp
    so that large scores neither overflow nor give log(0). Targets are class
    indices (N,) or one-hot / probability rows (N, C).

    ``label_smoothing`` = e mixes the targets with the uniform distribution over the
    C classes, t' = (1 - e) t + e / C (PyTorch's definition): the scores are no longer
    pushed towards one class at any cost.

    Backward: dy = (softmax(y) - t') / N.

    Reference: Saito, *Deep Learning from Scratch*, sec. 5.6.3; label smoothing:
    Szegedy et al., 2016, "Rethinking the Inception Architecture", sec. 7.
    """

    def __init__(self, label_smoothing: float = 0.0) -> None:
        self.label_smoothing = check_real("CrossEntropyLoss", "label_smoothing", label_smoothing,
                                          low=0.0, high=1.0, high_open=True)

    def describe(self) -> str:
        if self.label_smoothing:
            return f"CrossEntropyLoss(label_smoothing={self.label_smoothing:g})"
        return "CrossEntropyLoss"

    def forward(self, y, t) -> float:
        kind, t = check_labels(self, y, t)
        xp = get_array_module(y)
        N, C = y.shape
        z = y - y.max(axis=1, keepdims=True)
        log_sum = xp.log(xp.exp(z).sum(axis=1, keepdims=True))
        log_p = z - log_sum  # (N, C) log-probabilities
        e = self.label_smoothing
        if kind == "index":
            picked = log_p[xp.arange(N), t]
            loss = -picked.sum() / N
        else:
            loss = -(t * log_p).sum() / N
        if e:  # t' = (1 - e) t + e / C: the loss mixes the same way
            loss = (1 - e) * loss - (e / C) * log_p.sum() / N
        self._probs = xp.exp(log_p)
        self._t, self._kind = t, kind
        return float(loss)

    @property
    def probs(self):
        """Softmax probabilities of the last forward call, shape (N, C)."""
        return self._probs

    def backward(self, dout: float = 1.0):
        xp = get_array_module(self._probs)
        N, C = self._probs.shape
        e = self.label_smoothing
        dy = self._probs.copy()
        if e:
            dy -= dy.dtype.type(e / C)
        if self._kind == "index":
            dy[xp.arange(N), self._t] -= dy.dtype.type(1 - e)
        else:
            dy -= self._t * dy.dtype.type(1 - e) if e else self._t
        dy *= dy.dtype.type(dout / N)
        return dy


SoftmaxWithLoss = CrossEntropyLoss


class MSELoss(Loss):
    """Mean squared error, PyTorch's form: mean over all elements of (y - t)^2.

    ``reduction='sum'`` gives sum (y - t)^2; the book's ``mean_squared_error``
    is 0.5 * sum (y - t)^2, i.e. ``0.5 * MSELoss('sum')``.
    """

    def __init__(self, reduction: str = "mean") -> None:
        if reduction not in ("mean", "sum"):
            raise ValueError(f"MSELoss reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction

    def forward(self, y, t) -> float:
        t = np.asarray(t) if not hasattr(t, "shape") else t
        if y.shape != t.shape:
            raise ShapeError(f"MSELoss: prediction shape {y.shape} != target shape {t.shape}")
        diff = y - t.astype(y.dtype, copy=False)
        self._diff = diff
        total = (diff * diff).sum()
        return float(total / diff.size if self.reduction == "mean" else total)

    def backward(self, dout: float = 1.0):
        scale = 2.0 * dout / (self._diff.size if self.reduction == "mean" else 1)
        return self._diff * self._diff.dtype.type(scale)


def check_finite_loss(loss: float, step: int | None = None) -> float:
    """Raise NonFiniteError when a loss is NaN or infinite."""
    if not np.isfinite(loss):
        where = f" at step {step}" if step is not None else ""
        raise NonFiniteError(f"loss is {loss}{where}")
    return loss
