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

from typing import Any

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


def run_jobs(client, jobs: list) -> list[str]:
    """Run each :class:`~trainlab.search.engine.WorkerJob` as a task; the errors of those that failed.

    ``pure=False`` makes every task distinct, so Dask never merges two of them.
    """
    from distributed import wait

    from trainlab.search.engine import run_worker

    futures = [client.submit(run_worker, job, pure=False, key=f"trainlab-search-{job.sampler_seed}-{i}")
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
