"""The first images of a dataset, as the book takes them (``x_train[:300]``), for experiments and search trials."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from trainlab.errors import ConfigError

#: Datasets an experiment can run on. 'synthetic' is a generated MNIST-shaped set
#: (10 drawn patterns, 28x28) for tests and for machines without the real data.
EXPERIMENT_DATASETS = ("mnist", "fashion-mnist", "synthetic")


@dataclass(frozen=True)
class Subset:
    """Flattened float32 images in [0, 1] and int64 labels."""

    x_train: np.ndarray
    t_train: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray
    name: str


def load_subset(dataset: str, n_train: int, n_test: int, *, seed: int = 0, flatten: bool = True) -> Subset:
    """The first ``n_train`` training and ``n_test`` test images of ``dataset`` (book style).

    The book takes the first samples (``x_train[:300]``); so does this, which
    makes runs comparable across seeds. ``n_test=0`` gives empty test arrays
    (for runs that score on a validation split of the training images).
    """
    if dataset not in EXPERIMENT_DATASETS:
        raise ConfigError(f"unknown dataset {dataset!r}; valid: {', '.join(EXPERIMENT_DATASETS)}")
    if n_train <= 0 or n_test < 0:
        raise ConfigError(f"n_train must be positive and n_test at least 0, got {n_train} and {n_test}")
    if dataset == "synthetic":
        from trainlab.data import make_tiny_images

        x, t = make_tiny_images(n_train + n_test, n_classes=10, size=28, noise=0.25, seed=seed)
        x_train, t_train, x_test, t_test = x[:n_train], t[:n_train], x[n_train:], t[n_train:]
    else:
        data = _load_full(dataset)
        x_train, t_train = data.x_train[:n_train], data.t_train[:n_train]
        x_test, t_test = data.x_test[:n_test], data.t_test[:n_test]
    if flatten:
        x_train = x_train.reshape(len(x_train), -1)
        x_test = x_test.reshape(len(x_test), *x_train.shape[1:])  # explicit: -1 is ambiguous when empty
    # Copies: an experiment may change its arrays without touching the shared, cached data set.
    return Subset(np.array(x_train, np.float32), t_train.astype(np.int64),
                  np.array(x_test, np.float32), t_test.astype(np.int64), dataset)


@functools.lru_cache(maxsize=2)
def _load_full(dataset: str):
    """The whole data set, loaded (and checksummed) once per process: a reproduce run asks for it a dozen times."""
    from trainlab.data import load_dataset

    return load_dataset(dataset, normalize=True, flatten=False)
