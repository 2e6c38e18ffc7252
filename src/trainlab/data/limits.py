"""The limits every data reader checks before it allocates anything.

A header, a ``.npy`` entry or a pickle declares how big its array is; the
readers compute that size with Python integers (no overflow), compare it with
these limits and with the bytes that are really there, and only then allocate.
"""

from __future__ import annotations

import math
from typing import Any, BinaryIO

import numpy as np

from trainlab.errors import DataError

#: Largest array (in bytes) any reader allocates: 2 GiB. The largest standard
#: IDX file, EMNIST ByClass's training images, holds 547 MB.
MAX_ARRAY_BYTES = 2 << 30

#: Most dimensions an array read from a file may have.
MAX_NDIM = 8

#: Deflate cannot expand data more than 1032 times (zlib's documented bound),
#: so a compressed stream of n bytes holds at most 1032 * n bytes, plus slack
#: for headers (:data:`DEFLATE_SLACK`).
DEFLATE_MAX_RATIO = 1032
DEFLATE_SLACK = 1 << 16

#: Largest label value accepted from a labels file (classes 0..MAX_CLASSES-1).
MAX_CLASSES = 4096


def check_labels(t: np.ndarray, name: str, n_classes: int | None = None) -> np.ndarray:
    """Labels as integers, refusing non-integral values and values outside 0..n_classes-1.

    Integer labels come back unchanged; float labels that hold whole numbers come
    back as int64. ``n_classes`` defaults to :data:`MAX_CLASSES`.

    Raises
    ------
    DataError
        Naming ``name`` and the first offending value.
    """
    if t.ndim != 1:
        raise DataError(f"{name}: labels must be 1-D, got shape {t.shape}")
    if t.dtype.kind not in "iuf":
        raise DataError(f"{name}: labels must be integers, got dtype {t.dtype}")
    if t.dtype.kind == "f":
        bad = ~np.isfinite(t) | (t != np.floor(t))
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(f"{name}: label {float(t[i])} at index {i} is not an integer; labels must be whole numbers")
    high = MAX_CLASSES if n_classes is None else n_classes
    if t.size:
        lo, hi = t.min(), t.max()
        if lo < 0 or hi >= high:
            value = lo if lo < 0 else hi
            raise DataError(f"{name}: label {value.item()} is outside 0..{high - 1}")
    return t.astype(np.int64) if t.dtype.kind == "f" else t


def declared_nbytes(name: str, shape: Any, itemsize: int, *, limit: int = MAX_ARRAY_BYTES) -> int:
    """Bytes of an array of ``shape`` and ``itemsize``, checked against ``limit`` and :data:`MAX_NDIM`.

    Raises
    ------
    DataError
        When the shape is not a tuple of non-negative integers, has more than
        :data:`MAX_NDIM` dimensions, or declares more than ``limit`` bytes.
    """
    if not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape):
        raise DataError(f"{name}: shape {shape!r} is not a tuple of non-negative integers")
    if len(shape) > MAX_NDIM:
        raise DataError(f"{name}: {len(shape)} dimensions declared; at most {MAX_NDIM} are read")
    n_bytes = math.prod(shape) * itemsize
    # A zero among the dimensions makes the product 0, but NumPy still refuses dimensions whose
    # non-zero product overflows its index type: each dimension and that product count too.
    spread = math.prod(n for n in shape if n)
    if n_bytes > limit:
        raise DataError(f"{name}: shape {shape} declares {n_bytes} bytes, over the limit of {limit} bytes")
    if spread > limit or any(n > limit for n in shape):
        raise DataError(f"{name}: shape {shape} has dimensions of more than {limit} values together "
                        f"(the limit for one array), empty as it is")
    return n_bytes


def could_inflate_to(compressed: int, n_bytes: int) -> bool:
    """Whether ``compressed`` bytes of deflate data can hold ``n_bytes`` bytes."""
    return n_bytes <= DEFLATE_MAX_RATIO * compressed + DEFLATE_SLACK


def read_at_most(stream: BinaryIO, n: int, chunk: int = 1 << 20) -> bytearray:
    """Read up to ``n`` bytes in chunks, so a short stream never costs ``n`` bytes of memory."""
    buf = bytearray()
    while len(buf) < n:
        piece = stream.read(min(chunk, n - len(buf)))
        if not piece:
            break
        buf += piece
    return buf


def count_rest(stream: BinaryIO, limit: int = 1 << 20) -> int:
    """How many bytes are left in ``stream`` (counting stops past ``limit``)."""
    total = 0
    while total <= limit:
        piece = stream.read(1 << 16)
        if not piece:
            break
        total += len(piece)
    return total
