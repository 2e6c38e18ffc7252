"""The one door to process-wide state: BLAS threads, trainlab's threads, the allocator.

(It also tells, changing nothing, what a record of speed should name: the processor,
:func:`cpu_description`, the BLAS kernels, :func:`blas_description`, and how fast the
machine runs a product and a copy at the time, :func:`machine_speed`.)

Nothing else in trainlab changes state that outlives a call: layers,
kernels and ``Trainer.fit`` run with whatever the process has. A caller who
wants trainlab's speed enters :func:`runtime` around its work, and every
setting is put back when the block ends::

    with trainlab.runtime(threads=2, keep_freed_memory=True):
        trainer.fit(x, t)

What the block changes, and why:

- ``threads``: how many threads trainlab's fast kernels split their large
  passes over (convolution row blocks, im2col copies, large products, ReLU,
  pooling, BatchNorm; :mod:`trainlab.kernels.threads`). Default: the
  ``TRAINLAB_NUM_THREADS`` variable, or one per core.
- BLAS threads: while trainlab splits over more than one thread, BLAS runs on
  one (each part does its own products; two kinds of threads competing for
  the cores, with BLAS's spinning while they wait, is far slower). Give
  ``blas_threads`` to choose otherwise: networks of linear layers alone train
  faster on BLAS's own threads (``runtime(threads=1, blas_threads=2)``).
- ``keep_freed_memory``: glibc keeps freed blocks of up to 32 MiB for the
  next training step instead of mapping them afresh (:mod:`trainlab.allocator`).
  On exit the kept memory is handed back, but glibc's thresholds cannot return
  to their adaptive defaults: they stay raised for the rest of the process.
  That is why this setting is off unless asked for; the command line, the
  experiment runner and the benchmarks ask for it.

Contexts nest; each restores what it found. The settings are the process's,
not a thread's: enter the context from the thread that runs the work, and do
not run two differently configured contexts at once in threads of one process.
"""

from __future__ import annotations

import contextlib
import os
import platform
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from trainlab import allocator
from trainlab.kernels import threads as kernel_threads
from trainlab.validation import check_bool, check_int


@dataclass(frozen=True)
class RuntimeSettings:
    """What a :func:`runtime` block runs with (``None`` for BLAS: left as it was)."""

    threads: int
    blas_threads: int | None
    keep_freed_memory: bool


@contextlib.contextmanager
def runtime(threads: int | None = None, *, blas_threads: int | None = None,
            keep_freed_memory: bool = False) -> Iterator[RuntimeSettings]:
    """Run the block with trainlab's threads, BLAS threads and allocator set; restore them on exit.

    Parameters
    ----------
    threads : int, optional
        Threads for trainlab's large passes; default ``TRAINLAB_NUM_THREADS`` or one per core.
    blas_threads : int, optional
        BLAS threads inside the block; default 1 when ``threads > 1`` (else BLAS is left alone).
    keep_freed_memory : bool, default False
        Keep freed memory for the next step (glibc only; also off under
        ``TRAINLAB_KEEP_FREED_MEMORY=0``). See the module docstring for why it is off by default.
    """
    count = kernel_threads.get_num_threads() if threads is None else check_int("runtime", "threads", threads, low=1)
    if blas_threads is not None:
        blas_threads = check_int("runtime", "blas_threads", blas_threads, low=1)
    elif count > 1:
        blas_threads = 1
    keep = check_bool("runtime", "keep_freed_memory", keep_freed_memory)
    saved_threads = kernel_threads.configured_threads()
    kernel_threads.set_num_threads(count)
    saved_blas = kernel_threads.set_blas_threads(blas_threads) if blas_threads is not None else []
    kept = allocator.keep_freed_memory() if keep else False
    try:
        yield RuntimeSettings(count, blas_threads, kept)
    finally:
        kernel_threads.restore_blas_threads(saved_blas)
        kernel_threads.set_num_threads(saved_threads)
        if kept:
            allocator.release_freed_memory()


def cpu_description() -> dict[str, str | None]:
    """The processor's model name, family and model numbers and its widest x86 vector extension,
    where the OS tells them.

    Records of speed carry it: PyTorch's convolutions use AVX-512 where the processor
    has it, and gain more from it than OpenBLAS's matrix products do, so ratios
    between the two depend on it; and a virtual machine may name every generation of a
    processor alike ("AMD EPYC"), where the family and model numbers still tell them apart.
    ``{"cpu": name or None, "simd": "avx512f" | "avx2" | ... | None, "family": "25" | None,
    "model": "17" | None}``.
    """
    found: dict[str, str] = {}
    flags: set[str] = set()
    fields = {"model name": "cpu", "cpu family": "family", "model": "model"}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in fields and fields[key] not in found:
                    found[fields[key]] = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    simd = next((name for name in ("avx512f", "avx2", "avx", "sse4_2") if name in flags), None)
    return {"cpu": found.get("cpu") or platform.processor() or None, "simd": simd,
            "family": found.get("family") or None, "model": found.get("model") or None}


def machine_speed(repeats: int = 5, size: int = 1024, copy_mib: int = 32) -> dict[str, float | int]:
    """How fast the machine runs, now: a float32 matrix product and a memory copy, best of ``repeats``.

    The same code ran 1.3-1.6x slower in one sitting than in another on machines that
    named themselves alike, so a record of speed carries this yardstick beside its own
    times: ``gemm_gflops``, a (size x size) @ (size x size) product with BLAS on one thread
    (one core's rate, comparable between records whatever threads they ran on), and
    ``copy_gbps``, bytes read and written per second copying ``copy_mib`` MiB (more than the
    caches hold). A few tenths of a second; BLAS's threads are put back before it returns.
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    product = np.empty_like(a)
    source = np.ones(copy_mib << 18, np.float32)
    target = np.empty_like(source)

    def best(work) -> float:
        work()  # warm: pages touched, caches filled
        times = []
        for _ in range(max(1, repeats)):
            start = time.perf_counter()
            work()
            times.append(time.perf_counter() - start)
        return max(min(times), 1e-9)

    with runtime(kernel_threads.configured_threads(), blas_threads=1):
        gemm = best(lambda: np.matmul(a, a, out=product))
    copy = best(lambda: np.copyto(target, source))
    return {"gemm_gflops": round(2 * size ** 3 / gemm / 1e9, 1), "gemm_size": size, "blas_threads": 1,
            "copy_gbps": round(2 * source.nbytes / copy / 1e9, 1), "copy_mib": copy_mib}


def blas_description() -> dict[str, str | None]:
    """The BLAS library NumPy's products run on, its version and the kernels it chose for this processor.

    OpenBLAS picks its kernels by processor at load time, and ``OPENBLAS_CORETYPE`` overrides
    the choice (an older processor's kernels run slower on a newer one), so a record of speed
    names them: ``{"library": "openblas", "version": "0.3.31", "kernels": "SkylakeX",
    "coretype_env": None}``; ``None`` where threadpoolctl cannot tell.
    """
    found: dict[str, str | None] = {"library": None, "version": None, "kernels": None,
                                    "coretype_env": os.environ.get("OPENBLAS_CORETYPE")}
    for lib in kernel_threads.blas_libraries()[:1]:  # the libraries runtime() sets the threads of
        found.update(library=getattr(lib, "internal_api", None), version=getattr(lib, "version", None),
                     kernels=getattr(lib, "architecture", None))
    return found
