"""trainlab's thread count, as the public names it always had; the pool itself is :mod:`trainlab.kernels.threads`.

Prefer :func:`trainlab.runtime`, which also holds BLAS to one thread while
trainlab's threads split the work, and restores both when its block ends.
"""

from __future__ import annotations

from trainlab.kernels.threads import ENV_VAR, available_cores, get_num_threads, set_num_threads, use_threads

__all__ = ["ENV_VAR", "available_cores", "get_num_threads", "set_num_threads", "use_threads"]
