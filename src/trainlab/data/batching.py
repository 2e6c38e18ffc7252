"""Mini-batches over (x, t): shuffled each epoch, optionally augmented, in the layout asked for."""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from trainlab.errors import ConfigError, ShapeError
from trainlab.validation import check_int


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
