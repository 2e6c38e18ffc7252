"""Trials on a Dask cluster: one task per worker thread, each running ``study.optimize``.

Dask only places the tasks and re-runs a task whose worker died; the trials
coordinate through the study's storage, which every worker must reach (a
PostgreSQL/MySQL URL, or a journal file on a shared file system). The
workers need trainlab and Optuna installed, and the data in their cache.

Start a cluster by hand::

    dask scheduler --host 0.0.0.0 --port 8786          # on one machine
    dask worker tcp://SCHEDULER:8786 --nthreads 1      # on each machine, once per core to use
    trainlab search --scheduler tcp://SCHEDULER:8786 --storage postgresql://user:pw@db/trainlab ...
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading
from typing import Any
from urllib.parse import urlsplit

from trainlab.errors import ConfigError
from trainlab.kernels.threads import ENV_VAR, available_cores
from trainlab.process import runtime
from trainlab.search.worker import WorkerJob, run_worker


def connect(scheduler: Any, timeout: float = 30) -> tuple[Any, bool]:
    """``(client, owned)``: a ``distributed.Client`` for an address, or the client given."""
    try:
        from distributed import Client
    except ImportError:
        raise ImportError("a Dask cluster needs dask.distributed: pip install 'trainlab[cluster]'") from None
    if isinstance(scheduler, Client):
        return scheduler, False
    if not isinstance(scheduler, str) or "://" not in scheduler:
        raise ConfigError(f"a scheduler address looks like tcp://host:8786, got {scheduler!r}")
    try:
        return Client(scheduler, timeout=timeout), True
    except OSError as e:
        raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {e}") from None


def worker_slots(client) -> int:
    """Worker threads in the cluster (at least 1): how many trials can run at once."""
    return max(1, sum(client.nthreads().values()))


def _host(address: str) -> str:
    return urlsplit(address).hostname or address


def threads_per_host(client) -> dict[str, int]:
    """Worker threads on each host of the cluster: how many trials may run there at once."""
    counts: collections.Counter = collections.Counter()
    for address, n in client.nthreads().items():
        counts[_host(address)] += n
    return dict(counts)


def run_worker_sharing_cores(job: WorkerJob, per_host: dict[str, int]) -> int:
    """Run one job on a Dask worker, its trials split over its share of the host's cores.

    The trials running at once on a host share its cores: each splits its passes
    over cores // (worker threads on the host) trainlab threads, unless
    ``TRAINLAB_NUM_THREADS`` is set on the worker. The tasks of one worker
    process run inside one :func:`trainlab.runtime` block, put back when the
    last of them ends.
    """
    from distributed import get_worker

    share = None
    if ENV_VAR not in os.environ:
        share = max(1, available_cores() // per_host.get(_host(get_worker().address), 1))
    with _shared_runtime(share):
        return run_worker(job)


_runtime_lock = threading.Lock()
_runtime_users = 0
_runtime_block: contextlib.ExitStack | None = None


@contextlib.contextmanager
def _shared_runtime(threads: int | None):
    """``runtime(threads, keep_freed_memory=True)`` entered by the first task of this process, left by the last.

    The settings are the process's: tasks running at once in threads of one
    Dask worker would otherwise put back each other's settings in the wrong
    order. Every task of a host asks for the same share.
    """
    global _runtime_users, _runtime_block
    with _runtime_lock:
        if _runtime_users == 0:
            block = contextlib.ExitStack()
            block.enter_context(runtime(threads, keep_freed_memory=True))
            _runtime_block = block
        _runtime_users += 1
    try:
        yield
    finally:
        with _runtime_lock:
            _runtime_users -= 1
            if _runtime_users == 0:
                block, _runtime_block = _runtime_block, None
                block.close()


def run_jobs(client, jobs: list[WorkerJob]) -> list[str]:
    """Run each :class:`~trainlab.search.worker.WorkerJob` as a task; the errors of those that failed.

    ``pure=False`` makes every task distinct, so Dask never merges two of them.
    """
    from distributed import wait

    per_host = threads_per_host(client)
    futures = [client.submit(run_worker_sharing_cores, job, per_host, pure=False,
                             key=f"trainlab-search-{job.sampler_seed}-{i}")
               for i, job in enumerate(jobs)]
    try:
        wait(futures)
    except KeyboardInterrupt:
        client.cancel(futures)
        raise
    errors = []
    for future in futures:
        if future.status != "finished":
            errors.append(f"task {future.key} {future.status}: {future.exception()!r}")
    return errors
