"""Small generated datasets: Gaussian clusters, spirals and tiny 8x8 pattern images.

They need no file and no network, so tests and quick experiments run
anywhere, and each is a pure function of its seed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from trainlab.data.npz import read_npz
from trainlab.errors import ConfigError, DataError
from trainlab.validation import check_int, check_real


def make_clusters(n_centers: int = 10, n_per_center: int = 100, low: float = -8.0, high: float = 8.0,
                  noise_std: float = 1.0, seed: int | np.random.Generator = 0, *,
                  legacy: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Points around random 2-D centres, one class per centre.

    Centres are uniform in ``[low, high]^2``; each point is its centre plus
    ``noise_std`` times standard normal noise. Samples are ordered by class.

    Parameters
    ----------
    n_centers, n_per_center : int
        Classes and points per class.
    low, high : float
        Range of the centre coordinates.
    noise_std : float
        Standard deviation of the noise around a centre.
    seed : int or Generator
        Randomness (a Generator is used as is).
    legacy : bool
        Draw with ``np.random.RandomState(seed)`` in the order of the classic
        script (``np.random.seed(0)``; centres, then each point's noise), which
        reproduces its data set exactly. Needs an int seed.

    Returns
    -------
    x : ndarray, shape (n_centers * n_per_center, 2), float32
    t : ndarray, shape (n_centers * n_per_center,), int64
    """
    n_centers = check_int("make_clusters", "n_centers", n_centers, low=1)
    n_per_center = check_int("make_clusters", "n_per_center", n_per_center, low=1)
    low = check_real("make_clusters", "low", low)
    high = check_real("make_clusters", "high", high, low=low, low_open=True)
    noise_std = check_real("make_clusters", "noise_std", noise_std, low=0.0)
    t = np.repeat(np.arange(n_centers, dtype=np.int64), n_per_center)
    if legacy:
        if not isinstance(seed, (int, np.integer)):
            raise ConfigError("legacy=True needs an int seed")
        rs = np.random.RandomState(int(seed))
        centers = rs.uniform(low, high, (n_centers, 2))
        # RandomState draws normals one after another, so one call of size
        # (n, 2) gives the same numbers as n calls of size 2.
        noise = rs.randn(n_centers * n_per_center, 2)
    else:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        centers = rng.uniform(low, high, (n_centers, 2))
        noise = rng.standard_normal((n_centers * n_per_center, 2))
    x = centers[t] + noise_std * noise
    return x.astype(np.float32), t


def make_spirals(n_classes: int = 3, n_per_class: int = 100, noise: float = 0.2,
                 seed: int | np.random.Generator = 0) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved 2-D spiral arms, one class per arm (not linearly separable).

    Point ``i`` of arm ``k`` lies at radius ``r = i / (n - 1)`` and angle
    ``4 * (k + r) + noise * N(0, 1)`` radians.

    Returns
    -------
    x : ndarray, shape (n_classes * n_per_class, 2), float32, in [-1, 1]
    t : ndarray, shape (n_classes * n_per_class,), int64
    """
    n_classes = check_int("make_spirals", "n_classes", n_classes, low=1)
    n_per_class = check_int("make_spirals", "n_per_class", n_per_class, low=1)
    noise = check_real("make_spirals", "noise", noise, low=0.0)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    r = np.tile(np.linspace(0.0, 1.0, n_per_class), n_classes)         # (K*n,)
    t = np.repeat(np.arange(n_classes, dtype=np.int64), n_per_class)  # (K*n,)
    theta = 4.0 * (t + r) + noise * rng.standard_normal(r.shape)
    x = np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1)
    return x.astype(np.float32), t


def _prototypes(size: int) -> np.ndarray:
    """Ten distinct (size, size) patterns in {0, 1}, index = class."""
    s = size
    i, j = np.mgrid[0:s, 0:s]
    mid, lo, hi = s // 2, s // 4, s - 1 - s // 4
    pats = [
        (i == mid) | (i == mid - 1),                       # 0 horizontal bar
        (j == mid) | (j == mid - 1),                       # 1 vertical bar
        np.abs(i - j) <= 0,                                # 2 diagonal
        np.abs(i + j - (s - 1)) <= 0,                      # 3 anti-diagonal
        ((i == lo) | (i == hi)) & (j >= lo) & (j <= hi)
        | ((j == lo) | (j == hi)) & (i >= lo) & (i <= hi),  # 4 square outline
        (np.abs(i - (s - 1) / 2) < s / 4) & (np.abs(j - (s - 1) / 2) < s / 4),  # 5 centre block
        i < mid,                                           # 6 top half
        j < mid,                                           # 7 left half
        (i + j) % 2 == 0,                                  # 8 checkerboard
        (np.abs(i - j) <= 0) | (np.abs(i + j - (s - 1)) <= 0),  # 9 cross
    ]
    return np.stack(pats).astype(np.float32)


def make_tiny_images(n: int = 512, n_classes: int = 4, size: int = 8, noise: float = 0.1,
                     seed: int | np.random.Generator = 0) -> tuple[np.ndarray, np.ndarray]:
    """Small NCHW images whose class is a drawn pattern, shifted by up to one pixel.

    Classes are bars, diagonals, a square, a block, halves, a checkerboard and a
    cross (in that order, up to 10). Each image is its class pattern times a
    random contrast in [0.7, 1.0], rolled by -1..1 pixel on each axis, plus
    Gaussian noise, clipped to [0, 1]. A small MLP or CNN learns it in seconds.

    Returns
    -------
    x : ndarray, shape (n, 1, size, size), float32
    t : ndarray, shape (n,), int64, balanced classes in random order
    """
    n = check_int("make_tiny_images", "n", n, low=1)
    n_classes = check_int("make_tiny_images", "n_classes", n_classes, low=1)
    size = check_int("make_tiny_images", "size", size, low=4)
    noise = check_real("make_tiny_images", "noise", noise, low=0.0)
    if n_classes > 10:
        raise ConfigError(f"make_tiny_images has 10 patterns, asked for n_classes={n_classes}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    t = rng.permutation(np.arange(n) % n_classes).astype(np.int64)
    base = _prototypes(size)[t]                                   # (n, s, s)
    dy, dx = rng.integers(-1, 2, size=(2, n))
    # Per-image roll by index arithmetic: out[k, i, j] = base[k, (i - dy) % s, (j - dx) % s].
    ar = np.arange(size)
    rows = (ar[None, :] - dy[:, None]) % size                      # (n, s)
    cols = (ar[None, :] - dx[:, None]) % size                      # (n, s)
    shifted = base[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
    contrast = rng.uniform(0.7, 1.0, size=(n, 1, 1))
    x = shifted * contrast + noise * rng.standard_normal(shifted.shape)
    return np.clip(x, 0.0, 1.0).astype(np.float32)[:, None], t   # (n, s, s) -> (n, 1, s, s)


def save_npz(path: str | os.PathLike, x: np.ndarray, t: np.ndarray) -> Path:
    """Save a dataset as ``inputs``/``labels`` arrays in a compressed ``.npz`` (the classic layout)."""
    path = Path(path)
    x, t = np.asarray(x), np.asarray(t)
    if x.shape[0] != t.shape[0]:
        raise DataError(f"{x.shape[0]} inputs but {t.shape[0]} labels")
    np.savez_compressed(path, inputs=x, labels=t)
    return path


def load_npz(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Load ``(x, t)`` saved by :func:`save_npz` (keys ``inputs``/``labels``, or ``x``/``t``).

    Read with :func:`trainlab.data.npz.read_npz`: sizes are checked before
    allocating, and only numeric arrays are admitted, so a file cannot run code.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} is not a readable .npz file (no such file)")
    z = read_npz(path, what=".npz file", kinds="biuf")
    for kx, kt in (("inputs", "labels"), ("x", "t")):
        if kx in z and kt in z:
            x, t = z[kx], z[kt]
            break
    else:
        raise DataError(f"{path} holds {sorted(z)}, expected inputs/labels or x/t")
    if x.ndim == 0 or t.ndim == 0:
        raise DataError(f"{path}: inputs and labels must have at least one dimension, got shapes {x.shape} and {t.shape}")
    if x.shape[0] != t.shape[0]:
        raise DataError(f"{path}: {x.shape[0]} inputs but {t.shape[0]} labels")
    return x, t
