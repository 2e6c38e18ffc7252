"""Work arrays that the fast kernels take for the length of one call and give back.

A convolution's row blocks, the padded gradient of its backward pass and the
columns of a strided backward product are rebuilt at every step with the same
shapes. Taking them from here instead of allocating them afresh spares the
allocator (and, for large arrays, the page faults of fresh memory). An array
is *taken* for the duration of one kernel call and *given* back before the
call returns; nothing taken is ever returned to a caller or kept in a cache,
so no two users share one. At most :data:`LIMIT_BYTES` are kept; past that
the least recently given arrays are let go.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from typing import Callable, Iterator

import numpy as np

from trainlab.backend import get_array_module

#: The most bytes of free work arrays kept for reuse.
LIMIT_BYTES = 256 << 20

_lock = threading.Lock()
_free: "collections.OrderedDict[tuple, list]" = collections.OrderedDict()
_bytes = 0


def _key(tag: str, shape, dtype, xp) -> tuple:
    return tag, tuple(int(s) for s in shape), np.dtype(dtype).str, xp.__name__


def take(tag: str, shape, dtype, xp=np, *, prepare: Callable | None = None):
    """A work array of ``shape`` and ``dtype``; ``prepare(array)`` runs on a new one only.

    ``tag`` names what the array holds between uses (for example a block whose
    border ``prepare`` zeroed once and which callers only ever write inside).
    """
    global _bytes
    key = _key(tag, shape, dtype, xp)
    with _lock:
        arrays = _free.get(key)
        if arrays:
            array = arrays.pop()
            _bytes -= array.nbytes
            return array
    array = xp.empty(shape, dtype)
    if prepare is not None:
        prepare(array)
    return array


def give(tag: str, array) -> None:
    """Give back an array from :func:`take` under the same tag (the caller keeps no reference)."""
    global _bytes
    if array.nbytes > LIMIT_BYTES:
        return
    key = _key(tag, array.shape, array.dtype, get_array_module(array))
    with _lock:
        _free.setdefault(key, []).append(array)
        _free.move_to_end(key)
        _bytes += array.nbytes
        while _bytes > LIMIT_BYTES and _free:
            old_key, arrays = next(iter(_free.items()))
            dropped = arrays.pop(0)
            _bytes -= dropped.nbytes
            if not arrays:
                del _free[old_key]


@contextlib.contextmanager
def borrowed(tag: str, shape, dtype, xp=np, *, prepare: Callable | None = None) -> Iterator:
    """``with borrowed(...) as work:`` takes a work array and gives it back when the block ends."""
    array = take(tag, shape, dtype, xp, prepare=prepare)
    try:
        yield array
    finally:
        give(tag, array)


def clear() -> None:
    """Let go of every kept work array."""
    global _bytes
    with _lock:
        _free.clear()
        _bytes = 0


def kept_bytes() -> int:
    """Bytes of free work arrays kept now."""
    return _bytes
