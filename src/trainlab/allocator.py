"""Keeping freed memory for reuse while a convolutional network trains.

A training step of a CNN allocates and frees tens of megabytes of arrays
(each layer's output and gradient). With its default settings the C library's
allocator (glibc's malloc, on Linux) hands much of that memory back to the
operating system after every step and maps it afresh in the next one, and
every fresh 4 KiB page costs a page fault: 3,000-3,600 of them per
DeepConvNet step at batch 100, about 10% of its time (``benchmarks/step_costs.py``
prints both, in one run). :func:`keep_freed_memory` raises two thresholds so that
freed blocks of up to 32 MiB stay in the process for the next step:

- ``M_MMAP_THRESHOLD`` 32 MiB: arrays below it come from the heap, not
  from a mapping of their own that ``free`` unmaps at once;
- ``M_TRIM_THRESHOLD`` 1 GiB: the heap's free top is kept, not trimmed.

Only :func:`trainlab.runtime` calls these (``keep_freed_memory=True``): it
calls :func:`keep_freed_memory` on entry and :func:`release_freed_memory` on
exit, which hands the kept memory back at once. The thresholds stay raised
for the rest of the process (glibc has no way to return to its adaptive
defaults), so later frees are handed back only by another
:func:`release_freed_memory`; that is why the runtime keeps freed memory only
when asked. Set ``TRAINLAB_KEEP_FREED_MEMORY=0`` to leave the allocator alone
even then. Elsewhere than on glibc both functions do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading

ENV_VAR = "TRAINLAB_KEEP_FREED_MEMORY"

#: mallopt parameter numbers (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: The largest mmap threshold glibc accepts on 64-bit systems (half its heap size).
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 1 << 30

_lock = threading.Lock()
_libc = None  # False once looked for and not found
_kept = False


def _glibc():
    """glibc's handle, or None when the process does not run on glibc."""
    global _libc
    if _libc is None:
        _libc = False
        try:
            name = ctypes.util.find_library("c")
            lib = ctypes.CDLL(name) if name else None
            if lib is not None and hasattr(lib, "gnu_get_libc_version") and hasattr(lib, "mallopt"):
                lib.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
                lib.mallopt.restype = ctypes.c_int
                lib.malloc_trim.argtypes = [ctypes.c_size_t]
                lib.malloc_trim.restype = ctypes.c_int
                _libc = lib
        except OSError:
            pass
    return _libc or None


def enabled() -> bool:
    """False when ``TRAINLAB_KEEP_FREED_MEMORY`` is 0 (or false/no/off)."""
    return os.environ.get(ENV_VAR, "1").strip().lower() not in ("0", "false", "no", "off")


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds (once per process); True when they are raised."""
    global _kept
    with _lock:
        if _kept:
            return True
        lib = _glibc()
        if lib is None or not enabled():
            return False
        mmap_set = lib.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        trim_set = lib.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
        _kept = bool(mmap_set and trim_set)
        return _kept


def release_freed_memory() -> None:
    """Hand the free memory the allocator keeps back to the operating system (``malloc_trim``)."""
    lib = _glibc()
    if lib is not None and _kept:
        lib.malloc_trim(0)
