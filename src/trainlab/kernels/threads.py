"""Worker threads for trainlab's large passes.

BLAS threads speed up one matrix product at a time; everything between the
products (the im2col copies of a convolution, ReLU, pooling) runs on one core
in NumPy. trainlab therefore splits its large passes into parts, one per
thread, and runs the parts at once: the calling thread takes the first part,
a small pool of worker threads the others. NumPy releases the interpreter
lock inside its copies, element-wise passes and BLAS calls, so the parts
really run in parallel. Each part does its own products on one BLAS thread:
passes are split only while BLAS runs on one thread (as inside
:func:`trainlab.runtime`), so that the two kinds of threads never compete
for the cores.
Idle workers wait on a queue (they never spin), so a busy machine is not
slowed down by them; waking one costs 40-80 microseconds, which is why
only passes of at least :data:`PART_MIN_VALUES` values a part are split.

The number of threads is ``TRAINLAB_NUM_THREADS`` when set, otherwise the
number of cores this process may run on; :func:`trainlab.runtime` changes
it for a ``with`` block (and :func:`use_threads` for the count alone). One
thread runs every pass in the calling thread, as plain NumPy would.

Results do not depend on timing: each part always covers the same items, and
partial sums are added in part order. They may differ in the last bits between
thread counts, as the parts change with the count.
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator

import numpy as np

from trainlab.backend import get_array_module
from trainlab.errors import ConfigError

ENV_VAR = "TRAINLAB_NUM_THREADS"

_lock = threading.Lock()
_num_threads: int | None = None  # None: not chosen yet (read ENV_VAR or count the cores on first use)
_pool: ThreadPoolExecutor | None = None
_pool_workers = 0
_blas: list | None = None  # threadpoolctl controllers of the loaded BLAS libraries, found on first use
_inside = threading.local()  # .active: this thread is running a part (parts never split again)


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def _parse_count(value: Any, source: str) -> int:
    try:
        count = int(str(value).strip()) if isinstance(value, str) else value
    except ValueError:
        count = None
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ConfigError(f"{source} must be a positive whole number of threads, got {value!r}")
    return int(count)


def get_num_threads() -> int:
    """The number of threads trainlab's large passes are split over."""
    global _num_threads
    if _num_threads is None:
        value = os.environ.get(ENV_VAR)
        _num_threads = available_cores() if value in (None, "") else _parse_count(value, ENV_VAR)
    return _num_threads


def configured_threads() -> int | None:
    """The count set by :func:`set_num_threads`, or None when the default (environment or cores) applies."""
    return _num_threads


def set_num_threads(count: int | None) -> None:
    """Split large passes over ``count`` threads from now on (None: back to the default)."""
    global _num_threads
    new = None if count is None else _parse_count(count, "set_num_threads")
    with _lock:
        _num_threads = new


@contextlib.contextmanager
def use_threads(count: int | None) -> Iterator[None]:
    """``with use_threads(1): ...`` runs the block with ``count`` threads, then restores the previous setting."""
    previous = get_num_threads()
    set_num_threads(count)
    try:
        yield
    finally:
        set_num_threads(previous)


def _worker_pool(workers: int) -> ThreadPoolExecutor:
    """A pool of at least ``workers`` threads. A smaller one is replaced, never shut down: another
    thread may still be handing parts to it; its threads end once nothing refers to it."""
    global _pool, _pool_workers
    with _lock:
        if _pool is None or _pool_workers < workers:
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="trainlab")
            _pool_workers = workers
        return _pool


def _forget_pool_after_fork() -> None:
    # A forked child has none of the parent's threads: it starts its own pool when it needs one.
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def blas_libraries() -> list:
    """threadpoolctl's controllers of the BLAS libraries loaded in this process, found once ([] if none)."""
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController

            _blas = list(ThreadpoolController().select(user_api="blas").lib_controllers)
        except Exception:  # threadpoolctl missing or unable to inspect this process: leave BLAS alone
            _blas = []
    return _blas


def _blas_is_single_threaded() -> bool:
    for lib in blas_libraries():
        try:
            if lib.num_threads != 1:
                return False
        except Exception:
            continue
    return True


def set_blas_threads(count: int) -> list:
    """Set every loaded BLAS library to ``count`` threads; returns what :func:`restore_blas_threads` needs.

    Only :func:`trainlab.runtime` calls this (process-wide state changes in one place).
    """
    saved = []
    for lib in blas_libraries():
        try:
            n = lib.num_threads
            if n != count:
                lib.set_num_threads(count)
                saved.append((lib, n))
        except Exception:
            continue
    return saved


def restore_blas_threads(saved: list) -> None:
    """Undo :func:`set_blas_threads`."""
    for lib, n in reversed(saved):
        lib.set_num_threads(n)


def parallel_enabled(array=None) -> bool:
    """Whether :func:`run_parts` would split a pass now (for ``array``, when given)."""
    return (get_num_threads() > 1 and not getattr(_inside, "active", False)
            and (array is None or isinstance(array, np.ndarray)) and _blas_is_single_threaded())


def split(count: int, parts: int) -> list[tuple[int, int]]:
    """``range(count)`` as at most ``parts`` contiguous (start, stop) pairs of near-equal size, none empty."""
    parts = max(1, min(parts, count))
    return [(count * k // parts, count * (k + 1) // parts) for k in range(parts)]


def run_parts(work: Callable[[int, int, int], Any], count: int, *, min_items: int = 1, array=None) -> list:
    """Call ``work(part, start, stop)`` for contiguous parts of ``range(count)``, in parallel.

    There are at most :func:`get_num_threads` parts, each of at least
    ``min_items`` items; part 0 runs in the calling thread. Returns the
    results in part order; if parts fail, the first failure is raised after
    every part has ended (so none is still writing into shared arrays).
    Runs everything in the calling thread when one part suffices, when called
    from inside a part, when BLAS runs on more than one thread (see
    :func:`trainlab.runtime`), or when ``array`` (if given) is not a NumPy
    array (CuPy arrays have their own parallelism).
    """
    if count <= 0:
        return []
    parts = min(get_num_threads(), count // max(1, min_items))
    if parts <= 1 or not parallel_enabled(array):
        return [work(0, 0, count)]
    ranges = split(count, parts)
    pool = _worker_pool(parts - 1)

    def run(k: int, start: int, stop: int):
        _inside.active = True
        try:
            return work(k, start, stop)
        finally:
            _inside.active = False

    futures = [pool.submit(run, k, a, b) for k, (a, b) in enumerate(ranges) if k]
    results, failure = [], None
    try:
        results.append(run(0, *ranges[0]))
    except BaseException as e:  # wait for the workers before raising (they write into shared arrays)
        failure = e
    for future in futures:
        try:
            results.append(future.result())
        except BaseException as e:
            failure = failure or e
    if failure is not None:
        raise failure
    return results


def parallel_rows(work: Callable[[slice], None], rows: int, *, min_values: int | None = None,
                  values_per_row: int = 1, array=None) -> None:
    """Run ``work(rows slice)`` over ``range(rows)`` in parts of at least ``min_values`` values
    (default :data:`PART_MIN_VALUES`), ``values_per_row`` values to a row."""
    min_values = PART_MIN_VALUES if min_values is None else min_values
    min_items = max(1, -(-min_values // max(1, values_per_row)))
    run_parts(lambda _k, a, b: work(slice(a, b)), rows, min_items=min_items, array=array)


#: A part of an element-wise pass or copy gets at least this many values. Handing a part to a
#: worker costs 40-80 microseconds, and a worker reads data the calling thread has just written
#: from the other core's cache: measured (``benchmarks/step_costs.py``), two parts of a ReLU pass
#: beat one only from about 2**20 values on, and BatchNorm's passes likewise.
PART_MIN_VALUES = 1 << 19


def matmul(a, b, out=None):
    """``a @ b`` for 2-D arrays, split over threads along its largest dimension.

    Rows of ``a`` or columns of ``b`` go to separate parts (each writing its
    slice of the result); when the shared dimension is the largest (a weight
    gradient summed over a batch), each part multiplies a slice of it and the
    partial products are added in part order. Small products, and any product
    while :func:`parallel_enabled` is false, are one plain ``matmul``.
    """
    M, K = a.shape
    N = b.shape[1]
    numpy_arrays = isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
    if not numpy_arrays or M * K * N < MATMUL_MIN_MACS or not parallel_enabled():
        if out is None:
            return a @ b
        get_array_module(a).matmul(a, b, out=out)
        return out
    dtype = np.result_type(a, b)
    largest = max(M, N, K)
    if largest == K:
        partial = run_parts(lambda _k, s, e: a[:, s:e] @ b[s:e], K, min_items=MATMUL_MIN_SLICE)
        total = partial[0]
        for more in partial[1:]:
            total += more
        if out is None:
            return total
        out[...] = total
        return out
    if out is None:
        out = np.empty((M, N), dtype)
    if largest == M:
        run_parts(lambda _k, s, e: np.matmul(a[s:e], b, out=out[s:e]), M, min_items=MATMUL_MIN_SLICE)
    else:
        run_parts(lambda _k, s, e: np.matmul(a, b[:, s:e], out=out[:, s:e]), N, min_items=MATMUL_MIN_SLICE)
    return out


#: Products of fewer multiply-adds are not split (starting the parts would cost more than they save).
MATMUL_MIN_MACS = 1 << 23
#: A part of a split product gets at least this many rows, columns or shared values.
MATMUL_MIN_SLICE = 16
