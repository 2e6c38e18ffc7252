"""Trials on this machine: in this process, or in fresh worker processes that share its cores.

Each way runs its trials inside :func:`trainlab.runtime` with freed memory
kept for the next training step; a worker process is a process of its own,
so it enters the context itself, with its share of the cores.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import traceback

from trainlab.kernels.threads import ENV_VAR, get_num_threads
from trainlab.process import runtime
from trainlab.search.worker import WorkerJob, run_worker


def run_here(job: WorkerJob) -> list[str]:
    """Run the job in this process, with the thread count this process has; no errors to report."""
    with runtime(keep_freed_memory=True):
        run_worker(job)
    return []


def thread_share(n_processes: int) -> int | None:
    """trainlab threads for each of ``n_processes`` workers sharing this machine's threads.

    None when ``TRAINLAB_NUM_THREADS`` is set: the workers inherit it, and the
    user's count wins.
    """
    if ENV_VAR in os.environ:
        return None
    return max(1, get_num_threads() // n_processes)


def process_main(job: WorkerJob, threads: int | None) -> None:
    """The body of a worker process: its trials on ``threads`` threads; exit 130 on Ctrl-C, 1 on an error."""
    try:
        with runtime(threads, keep_freed_memory=True):
            run_worker(job)
    except KeyboardInterrupt:
        sys.exit(130)
    except BaseException:
        traceback.print_exc()
        sys.exit(1)


def run_processes(jobs: list[WorkerJob]) -> list[str]:
    """Each job in its own fresh ('spawn') process; the errors of those that did not end cleanly."""
    ctx = multiprocessing.get_context("spawn")
    share = thread_share(len(jobs))
    procs = [ctx.Process(target=process_main, args=(job, share), name=f"trainlab-search-{i}")
             for i, job in enumerate(jobs)]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        # Ctrl-C reached the workers too; give them a moment to record their trials as failed.
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
        raise
    return [f"worker {p.name} exited with code {p.exitcode}" for p in procs if p.exitcode != 0]
