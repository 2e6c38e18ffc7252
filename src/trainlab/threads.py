"""trainlab's thread count, as the public names it always had; the pool itself is :mod:`trainlab.kernels.threads`.

Prefer :func:`trainlab.runtime`, which also holds BLAS to one thread while
trainlab's threads split the work, and restores both when its block ends.
"""

from __future__ import annotations

from trainlab.kernels.threads import ENV_VAR, available_cores, get_num_threads, set_num_threads, use_threads

__all__ = ["ENV_VAR", "available_cores", "blas_on_one_thread", "get_num_threads", "set_num_threads", "use_threads"]


def blas_on_one_thread():
    """The earlier name of ``trainlab.runtime()``: BLAS on one thread while trainlab's threads split the work.

    Kept so that training loops written for earlier releases keep their speed; new code enters
    :func:`trainlab.runtime` (which can also keep freed memory, see :mod:`trainlab.process`).
    """
    from trainlab.process import runtime

    return runtime()
