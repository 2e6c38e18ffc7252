"""Mini-batches over (x, t): shuffled each epoch, optionally augmented, in the layout asked for.

Also the checks of what a training run is given: :func:`as_array` turns an
array-like into an array of numbers (or says why it cannot), :func:`as_inputs`
gives the inputs the dtype the model computes in, and :func:`check_targets`
looks at every label of a set before the first step.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from trainlab.errors import ConfigError, DTypeError, NonFiniteError, ShapeError
from trainlab.validation import check_int


#: Dtype kinds that hold numbers: bool, signed and unsigned integers, floating point.
NUMERIC_KINDS = "biuf"


def as_array(value, what: str) -> np.ndarray:
    """``value`` as a NumPy array of numbers with at least one axis; an ndarray is returned as it is.

    Ragged nested lists raise ShapeError; strings, objects, complex numbers and
    anything else without a numeric dtype raise DTypeError. ``what`` names the
    argument in the message ("training data labels").
    """
    if isinstance(value, (str, bytes)):
        raise DTypeError(f"{what} must be an array of numbers, got a {type(value).__name__}")
    if isinstance(value, np.ndarray):
        array = value
    else:
        try:
            array = np.asarray(value)
        except ValueError as exc:
            raise ShapeError(f"{what} cannot be made an array (ragged rows of different lengths?): {exc}") from None
        except TypeError as exc:
            raise DTypeError(f"{what} cannot be made an array of numbers: {exc}") from None
    if array.dtype.kind not in NUMERIC_KINDS:
        raise DTypeError(f"{what} must hold real numbers, got dtype {array.dtype}"
                         + (" (strings, objects or mixed rows)" if array.dtype.kind in "OUS" else ""))
    if array.ndim == 0:
        raise ShapeError(f"{what} must have one entry per sample, got a single number")
    return array


def as_inputs(value, what: str, dtype: Any) -> np.ndarray:
    """Model inputs as a floating array: an ndarray keeps its dtype, any other array-like takes ``dtype``.

    ``dtype`` is the one the model computes in. An ndarray of integers or bools (uint8 images) is
    refused as the layers refuse it, because a silent conversion would skip scaling it.
    """
    if not isinstance(value, np.ndarray):
        return as_array(value, what).astype(dtype, copy=False)
    if not np.issubdtype(value.dtype, np.floating):
        as_array(value, what)  # the same message as any other argument for strings and objects
        raise DTypeError(f"{what} has dtype {value.dtype}; convert it with x.astype(np.{np.dtype(dtype).name}) "
                         f"(and scale images to [0, 1])")
    return as_array(value, what)


def as_pair(x, t, owner: str, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(x, t)`` to evaluate on: inputs as :func:`as_inputs` gives them, targets as :func:`as_array`, as many."""
    x, t = as_inputs(x, f"{owner}: x", dtype), as_array(t, f"{owner}: t")
    if len(x) != len(t):
        raise ShapeError(f"{owner}: {len(x)} samples but {len(t)} labels")
    return x, t


def check_finite(x: np.ndarray, what: str) -> None:
    """Raise NonFiniteError when a floating array holds NaN or infinity, saying how many."""
    if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        bad = int(x.size - np.isfinite(x).sum())
        raise NonFiniteError(f"{what} contains {bad} NaN or infinite value(s)")


def check_targets(t, n_samples: int, what: str, *, n_classes: int | None, classify: bool) -> np.ndarray:
    """``t`` as an array of ``n_samples`` targets, every one of them checked.

    With ``classify`` (a cross-entropy loss) the targets are class indices of an integer dtype
    (bools and floats such as 0.0 or 0.5 are refused) in ``[0, n_classes)``, or rows of width
    ``n_classes`` whose entries lie in [0, 1] (one-hot or probability rows). ``n_classes=None``
    skips the range and width checks. Other targets must be finite numbers.
    """
    t = as_array(t, what)
    if len(t) != n_samples:
        raise ShapeError(f"{what}: {n_samples} samples but {len(t)} labels")
    if not classify:
        check_finite(t, what)
        return t
    if t.ndim == 1:
        if not np.issubdtype(t.dtype, np.integer):
            raise DTypeError(f"{what} must be class indices of an integer dtype, got {t.dtype}; "
                             f"convert integral values with t.astype(np.int64)")
        if n_classes is not None:
            bad = np.flatnonzero((t < 0) | (t >= n_classes))
            if bad.size:
                raise ShapeError(f"{what}: label {int(t[bad[0]])} at sample {int(bad[0])} is out of range for "
                                 f"{n_classes} classes (valid 0..{n_classes - 1}; {bad.size} such label(s))")
        return t
    if t.ndim == 2:
        if n_classes is not None and t.shape[1] != n_classes:
            raise ShapeError(f"{what}: one-hot rows of width {t.shape[1]} but the model gives {n_classes} scores")
        bad = np.flatnonzero(~((t >= 0) & (t <= 1)).all(axis=1))
        if bad.size:
            raise ShapeError(f"{what}: row {int(bad[0])} has entries outside [0, 1] (one-hot or probability rows "
                             f"expected; {bad.size} such row(s))")
        return t
    raise ShapeError(f"{what} must be (N,) class indices or (N, C) one-hot rows, got shape {t.shape}")


def check_sets(x, t, eval_sets: Mapping[str, Any], *, dtype: Any, classify: bool,
               width_of: Callable[[np.ndarray], int | None]) -> tuple[np.ndarray, np.ndarray, dict]:
    """The training set and every evaluation set, converted and checked before the first step.

    Inputs go through :func:`as_inputs` and must be finite and not empty; targets go through
    :func:`check_targets`, against ``width_of(x)`` classes with ``classify`` (called once, on
    the training inputs). Returns ``(x, t, eval_sets)`` with arrays in place of array-likes.
    """

    def inputs(value, name: str) -> np.ndarray:
        array = as_inputs(value, f"{name} input", dtype)
        if len(array) == 0:
            raise ShapeError(f"{name}: no samples")
        check_finite(array, f"{name} input")
        return array

    x = inputs(x, "training data")
    n_classes = width_of(x) if classify else None
    t = check_targets(t, len(x), "training data labels", n_classes=n_classes, classify=classify)
    checked = {}
    for name, pair in eval_sets.items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ConfigError(f"Trainer: eval_sets[{name!r}] must be a pair (x, t), got {type(pair).__name__}")
        xe = inputs(pair[0], f"{name} data")
        checked[name] = (xe, check_targets(pair[1], len(xe), f"{name} data labels",
                                           n_classes=n_classes, classify=classify))
    return x, t, checked


class BatchIterator:
    """Iterate over ``(x_batch, t_batch)`` pairs; each ``iter()`` is one new epoch.

    Parameters
    ----------
    x : ndarray, shape (N, ...)
        Inputs, e.g. (N, 784) or (N, 1, 28, 28), any dtype (converted per batch).
    t : ndarray, shape (N,) or (N, K)
        Targets; returned as stored (never augmented).
    batch_size : int
        Samples per batch (> 0).
    shuffle : bool
        Draw a new order every epoch; otherwise keep the stored order.
    seed : int or np.random.Generator
        Source of the shuffling and augmentation randomness. With an int the
        sequence of epochs is the same on every run; epoch ``k``'s order
        depends only on ``(seed, k)``.
    drop_last : bool
        Skip the final smaller batch.
    augment : callable, optional
        ``augment(x_batch, rng) -> x_batch`` (e.g. a :class:`~trainlab.data.pipeline.Compose`);
        applied to each batch after the dtype conversion. For training only.
    dtype : dtype
        Dtype of the returned ``x`` batches (float32 by default).
    shape : tuple, optional
        Per-sample shape of the returned ``x`` batches, e.g. ``(1, 28, 28)`` or
        ``(784,)``. An image shape is applied before augmenting, a flat one after.

    Examples
    --------
    >>> it = BatchIterator(x_train, t_train, 100, seed=0, augment=build_pipeline(["shift:2"]))
    >>> for epoch in range(3):
    ...     for xb, tb in it:
    ...         ...
    """

    def __init__(self, x: np.ndarray, t: np.ndarray, batch_size: int = 100, *, shuffle: bool = True,
                 seed: int | np.random.Generator = 0, drop_last: bool = False,
                 augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
                 dtype: Any = np.float32, shape: Sequence[int] | None = None) -> None:
        x, t = as_array(x, "BatchIterator x"), as_array(t, "BatchIterator t")
        if len(x) != len(t):
            raise ShapeError(f"x has {len(x)} samples but t has {len(t)}")
        batch_size = check_int("BatchIterator", "batch_size", batch_size, low=1)
        if augment is not None and not callable(augment):
            raise ConfigError(f"augment must be callable, got {type(augment).__name__}")
        self.x, self.t = x, t
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.augment = augment
        self.dtype = np.dtype(dtype)
        self.shape = None if shape is None else tuple(int(s) for s in shape)
        if self.shape is not None and math.prod(self.shape) != math.prod(x.shape[1:]):
            raise ShapeError(f"shape {self.shape} does not hold samples of shape {x.shape[1:]}")
        if isinstance(seed, np.random.Generator):
            self._generator: np.random.Generator | None = seed
            self._seed = None
        elif isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            self._generator, self._seed = None, int(seed)
        else:
            raise ConfigError(f"seed must be an int or a np.random.Generator, got {type(seed).__name__}")
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _epoch_rngs(self) -> tuple[np.random.Generator, np.random.Generator]:
        if self._generator is not None:
            return self._generator, self._generator
        # Independent streams for order and augmentation, fixed by (seed, epoch).
        order_ss, aug_ss = np.random.SeedSequence([self._seed, self.epoch]).spawn(2)
        return np.random.default_rng(order_ss), np.random.default_rng(aug_ss)

    def _layout(self, xb: np.ndarray, before_augment: bool) -> np.ndarray:
        if self.shape is None:
            return xb
        image_like = len(self.shape) >= 2
        if image_like == before_augment:
            return xb.reshape(len(xb), *self.shape)  # (B, ...) -> (B, *shape)
        return xb

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        order_rng, aug_rng = self._epoch_rngs()
        self.epoch += 1
        n = len(self.x)
        order = order_rng.permutation(n) if self.shuffle else np.arange(n)
        for b in range(len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            xb = np.asarray(self.x[idx], dtype=self.dtype)
            xb = self._layout(xb, before_augment=True)
            if self.augment is not None:
                xb = self.augment(xb, aug_rng)
            xb = self._layout(xb, before_augment=False)
            yield xb, self.t[idx]
