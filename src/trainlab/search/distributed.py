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
import os
from typing import Any
from urllib.parse import urlsplit

from trainlab import threads
from trainlab.errors import ConfigError


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


def run_worker_sharing_cores(job, per_host: dict[str, int]) -> int:
    """Run one job on a Dask worker, its trials split over its share of the host's cores.

    The trials running at once on a host share its cores: each splits its passes
    over cores // (worker threads on the host) trainlab threads, unless
    ``TRAINLAB_NUM_THREADS`` is set on the worker. (The setting is per process;
    it is put back when the task ends.)
    """
    from distributed import get_worker

    from trainlab.search.engine import run_worker

    if threads.ENV_VAR in os.environ:
        return run_worker(job)
    sharing = per_host.get(_host(get_worker().address), 1)
    with threads.use_threads(max(1, threads.available_cores() // sharing)):
        return run_worker(job)


def run_jobs(client, jobs: list) -> list[str]:
    """Run each :class:`~trainlab.search.engine.WorkerJob` as a task; the errors of those that failed.

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
