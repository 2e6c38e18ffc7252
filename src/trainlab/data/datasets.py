"""MNIST, Fashion-MNIST and any IDX folder as float32 arrays ready for a network.

The loaders take the options of the book's ``load_mnist`` (``normalize``,
``flatten``, ``one_hot_label``) plus a validation split, and return a
:class:`DataSplits`. It unpacks like the book's result::

    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True)

and also has named fields, including the validation arrays.

Reference: Saito, *Deep Learning from Scratch*, ch. 3.6 (``dataset/mnist.py``).
"""

from __future__ import annotations

import numbers
import os
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from trainlab.data.catalog import get_spec
from trainlab.data.fetching import load_arrays
from trainlab.data.sources import find_idx_files, read_idx_set
from trainlab.errors import ConfigError, DataError
from trainlab.registry import Registry
from trainlab.validation import check_int, check_real


@dataclass(frozen=True, eq=False)
class DataSplits:
    """Training, validation and test arrays of one dataset.

    Images are ``(N, D)`` when flattened, else ``(N, 1, H, W)``; labels are
    int64 ``(N,)``, or ``(N, n_classes)`` one-hot in the image dtype.
    ``x_val``/``t_val`` have length 0 when no validation split was asked for.
    Iterating yields ``(x_train, t_train)`` then ``(x_test, t_test)``, so the
    object unpacks like the book's ``load_mnist`` result.
    """

    x_train: np.ndarray
    t_train: np.ndarray
    x_val: np.ndarray
    t_val: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray
    name: str = ""
    classes: tuple[str, ...] = ()

    def book(self) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """``((x_train, t_train), (x_test, t_test))`` as the book's loader returns it."""
        return (self.x_train, self.t_train), (self.x_test, self.t_test)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return iter(self.book())

    @property
    def n_classes(self) -> int:
        if self.classes:
            return len(self.classes)
        t = self.t_train
        return int(t.shape[1]) if t.ndim == 2 else int(t.max()) + 1

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{k}={getattr(self, k).shape}" for k in ("x_train", "t_train", "x_val", "t_val", "x_test", "t_test")
        )
        return f"DataSplits(name={self.name!r}, {parts})"


def _n_validation(validation: float | int, n: int) -> int:
    """A count of held-out samples (an integer in [0, n)) from a count or a fraction in [0, 1)."""
    if isinstance(validation, numbers.Integral) and not isinstance(validation, bool):
        count = check_int("prepare_splits", "validation", validation, low=0)
        if count >= n:
            raise ConfigError(f"prepare_splits: validation count must be below the {n} training samples, "
                              f"got {count}")
        return count
    frac = check_real("prepare_splits", "validation", validation, low=0.0, high=1.0, high_open=True)
    return int(round(frac * n))


def _images(x: np.ndarray, normalize: bool, flatten: bool, dtype: np.dtype, transpose: bool) -> np.ndarray:
    if transpose:
        x = x.swapaxes(-1, -2)  # (N, H, W) -> (N, W, H): EMNIST stores images transposed
    out = x.astype(dtype)
    if normalize and np.issubdtype(x.dtype, np.integer):
        out /= np.asarray(255, dtype=out.dtype)
    n = x.shape[0]
    if flatten:
        return out.reshape(n, int(np.prod(x.shape[1:])))  # (N, H, W) -> (N, H*W)
    return out.reshape(n, 1, *x.shape[1:]) if x.ndim == 3 else out  # (N, H, W) -> (N, 1, H, W)


def _labels(t: np.ndarray, one_hot: bool, n_classes: int, dtype: np.dtype) -> np.ndarray:
    t = t.astype(np.int64)
    if not one_hot:
        return t
    out = np.zeros((t.shape[0], n_classes), dtype=dtype)
    out[np.arange(t.shape[0]), t] = 1
    return out


def prepare_splits(arrays: dict[str, np.ndarray], *, normalize: bool = True, flatten: bool = True,
                   one_hot_label: bool = False, validation: float | int = 0.0, seed: int = 0,
                   dtype=np.float32, transpose: bool = False, name: str = "",
                   classes: tuple[str, ...] = ()) -> DataSplits:
    """Turn raw arrays ``{"x_train", "t_train", "x_test", "t_test"}`` into a :class:`DataSplits`.

    Parameters
    ----------
    arrays : dict
        Images (N, H, W) (any IDX dtype) and integer labels (N,).
    normalize : bool
        Divide integer pixels by 255 (to [0, 1]); float pixels are left alone.
    flatten : bool
        ``(N, H*W)`` if True, else ``(N, 1, H, W)``.
    one_hot_label : bool
        Labels as one-hot rows in ``dtype``, else int64 class indices.
    validation : float or int
        Fraction in [0, 1) or number of training samples held out, drawn with ``seed``;
        both parts keep the original order.
    seed : int
        Seed of the validation draw.
    dtype : dtype
        Image dtype (float32 by default).
    transpose : bool
        Swap the last two image axes (EMNIST needs it to look upright).
    """
    dtype = np.dtype(dtype)
    x, t = arrays["x_train"], arrays["t_train"]
    n_val = _n_validation(validation, x.shape[0])
    order = np.random.default_rng(seed).permutation(x.shape[0])
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    for key in ("t_train", "t_test"):
        labels = arrays[key]
        if labels.dtype.kind not in "iu" or labels.ndim != 1:
            raise DataError(f"{key} of {name or 'the dataset'} must be 1-D integers, got {labels.dtype} "
                            f"of shape {labels.shape}")
    n_classes = len(classes) if classes else int(max(t.max(initial=0), arrays["t_test"].max(initial=0))) + 1
    for labels in (t, arrays["t_test"]):
        if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
            raise DataError(f"labels of {name or 'the dataset'} fall outside 0..{n_classes - 1}")

    def im(a: np.ndarray) -> np.ndarray:
        return _images(a, normalize, flatten, dtype, transpose)

    def lab(a: np.ndarray) -> np.ndarray:
        return _labels(a, one_hot_label, n_classes, dtype)

    return DataSplits(
        x_train=im(x[train_idx]) if n_val else im(x), t_train=lab(t[train_idx]) if n_val else lab(t),
        x_val=im(x[val_idx]), t_val=lab(t[val_idx]),
        x_test=im(arrays["x_test"]), t_test=lab(arrays["t_test"]),
        name=name, classes=tuple(classes),
    )


def _load_known(name: str, normalize: bool, flatten: bool, one_hot_label: bool, validation: float | int,
                seed: int, dtype, from_dir, cache_dir, verbose: bool) -> DataSplits:
    spec = get_spec(name)
    arrays = load_arrays(spec.name, from_dir=from_dir, cache_dir=cache_dir, verbose=verbose)
    return prepare_splits(arrays, normalize=normalize, flatten=flatten, one_hot_label=one_hot_label,
                          validation=validation, seed=seed, dtype=dtype, name=spec.name, classes=spec.classes)


def load_mnist(normalize: bool = True, flatten: bool = True, one_hot_label: bool = False, *,
               validation: float | int = 0.0, seed: int = 0, dtype=np.float32,
               from_dir: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
               verbose: bool = False) -> DataSplits:
    """MNIST's 60,000 training and 10,000 test digits (fetched and cached on first use).

    Parameters
    ----------
    normalize : bool
        Pixels in [0, 1] (divided by 255) instead of [0, 255].
    flatten : bool
        Images ``(N, 784)`` if True, else ``(N, 1, 28, 28)``.
    one_hot_label : bool
        Labels ``(N, 10)`` one-hot instead of int64 ``(N,)``.
    validation : float or int
        Fraction or count of the training set held out as ``x_val``/``t_val``.
    seed : int
        Seed of the validation draw.
    dtype : dtype
        Image dtype, float32 by default.
    from_dir, cache_dir, verbose
        See :func:`trainlab.data.fetching.load_arrays`.

    Returns
    -------
    DataSplits
        Unpacks as ``(x_train, t_train), (x_test, t_test)``.
    """
    return _load_known("mnist", normalize, flatten, one_hot_label, validation, seed, dtype,
                       from_dir, cache_dir, verbose)


def load_fashion_mnist(normalize: bool = True, flatten: bool = True, one_hot_label: bool = False, *,
                       validation: float | int = 0.0, seed: int = 0, dtype=np.float32,
                       from_dir: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
                       verbose: bool = False) -> DataSplits:
    """Fashion-MNIST's 60,000 training and 10,000 test article images; options as :func:`load_mnist`."""
    return _load_known("fashion-mnist", normalize, flatten, one_hot_label, validation, seed, dtype,
                       from_dir, cache_dir, verbose)


def load_idx_folder(folder: str | os.PathLike, *, prefix: str | None = None, normalize: bool = True,
                    flatten: bool = True, one_hot_label: bool = False, validation: float | int = 0.0,
                    seed: int = 0, dtype=np.float32, transpose: bool = False,
                    classes: tuple[str, ...] = ()) -> DataSplits:
    """Any dataset distributed as four IDX files (KMNIST, EMNIST, ...), read without a known hash.

    Parameters
    ----------
    folder : str or PathLike
        Holds ``[prefix]train-images-idx3-ubyte[.gz]``, ``[prefix]train-labels-idx1-ubyte[.gz]``
        and the ``t10k-``/``test-`` pair.
    prefix : str, optional
        E.g. ``"emnist-balanced-"`` when the folder holds several sets.
    transpose : bool
        Swap image axes; EMNIST's files store each image transposed.
    classes : tuple of str, optional
        Class names (else the number of classes is the largest label + 1).
    normalize, flatten, one_hot_label, validation, seed, dtype
        As in :func:`load_mnist`.

    Returns
    -------
    DataSplits
    """
    arrays = read_idx_set(find_idx_files(folder, prefix), n_classes=len(classes) or None)
    return prepare_splits(arrays, normalize=normalize, flatten=flatten, one_hot_label=one_hot_label,
                          validation=validation, seed=seed, dtype=dtype, transpose=transpose,
                          name=os.fspath(folder), classes=classes)


#: Dataset loaders by name, for configs and the command line.
DATASETS: Registry[Callable[..., DataSplits]] = Registry("dataset")
DATASETS.add("mnist", load_mnist)
DATASETS.add("fashion-mnist", load_fashion_mnist, aliases=("fmnist",))


def load_dataset(name: str, **options) -> DataSplits:
    """Load a dataset by name (``"mnist"``, ``"fashion-mnist"``); ``options`` as :func:`load_mnist`."""
    return DATASETS.get(name)(**options)
