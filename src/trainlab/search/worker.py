"""What one worker does: join the study and run trials until the search has its budget.

A worker is this process, a worker process on this machine or a task on a
Dask cluster; every one of them runs :func:`run_worker` on a
:class:`WorkerJob`. This module knows nothing of where it runs: the thread
counts and the allocator are set by whoever starts it (:mod:`trainlab.search.local`,
:mod:`trainlab.search.distributed`).
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import TrialState

from trainlab.errors import ConfigError
from trainlab.search.objective import OptunaObjective
from trainlab.search.storage import StorageSpec, counted_trials

SAMPLERS = ("random", "tpe")
PRUNERS = ("none", "hyperband", "successive-halving")


# ---- samplers and pruners ----------------------------------------------------------------

def make_sampler(name: str, seed: int, *, parallel: bool = False):
    """'random': independent draws (log-uniform on log ranges), the book's search; 'tpe': Bayesian."""
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":
        extra = {"constant_liar": True} if parallel else {}  # spread out trials that run at once
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(seed=seed, **extra)
    raise ConfigError(f"unknown sampler {name!r}; valid: {', '.join(SAMPLERS)}")


def make_pruner(name: str | None, max_resource: int | None = None):
    """Early stopping by the reported curve.

    Successive halving keeps the best third of the trials at each rung, at
    steps m, 3m, 9m, ...; Hyperband runs several such brackets with different
    first rungs. ``m`` is a tenth of ``max_resource`` (the epochs; 5, 15, 45 for
    the book's 50): after one epoch of SGD on 400 images every network is still
    at chance, so an earlier rung would rank noise. Without ``max_resource``, m = 1.
    """
    first = max(1, max_resource // 10) if max_resource else 1
    if name in (None, "none"):
        return optuna.pruners.NopPruner()
    if name == "successive-halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=first, reduction_factor=3)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=first, max_resource=max_resource or "auto",
                                              reduction_factor=3)
    raise ConfigError(f"unknown pruner {name!r}; valid: {', '.join(PRUNERS)}")


# ---- per-trial callbacks ------------------------------------------------------------

class StopAtBudget:
    """Stop this worker's ``study.optimize`` once the study has ``n_trials`` counted trials."""

    def __init__(self, n_trials: int) -> None:
        self.n_trials = int(n_trials)

    def __call__(self, study, trial) -> None:
        if len(counted_trials(study)) >= self.n_trials:
            study.stop()


class PrintTrial:
    """One line per finished trial."""

    def __init__(self, value_name: str = "value") -> None:
        self.value_name = value_name

    def __call__(self, study, trial) -> None:
        params = "  ".join(f"{k} {_fmt(v)}" for k, v in trial.params.items())
        if trial.state == TrialState.COMPLETE:
            outcome = f"{self.value_name} {trial.value:.4f}"
        elif trial.state == TrialState.PRUNED:
            steps = sorted(trial.intermediate_values)
            outcome = f"pruned after step {steps[-1] if steps else 0}"
        else:
            outcome = f"failed: {trial.user_attrs.get('error', 'interrupted')}"
        seconds = trial.user_attrs.get("seconds")
        took = f"  ({seconds:.1f} s)" if isinstance(seconds, (int, float)) else ""
        print(f"trial {trial.number:>4}  {trial.state.name:<8}  {outcome}  |  {params}{took}", flush=True)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


# ---- one worker ------------------------------------------------------------------------

@dataclass(frozen=True)
class WorkerJob:
    """Everything a worker needs to join the study and run its share of trials (picklable)."""

    storage: StorageSpec
    study_name: str
    objective: OptunaObjective
    sampler: str
    pruner: str
    max_resource: int | None
    sampler_seed: int
    n_trials: int
    budget: int
    parallel: bool
    verbose: bool
    value_name: str = "value"


@contextlib.contextmanager
def quiet_optuna():
    """Optuna's log only for warnings: the search prints one line per trial itself."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)


def run_worker(job: WorkerJob) -> int:
    """Open the study and run up to ``job.n_trials`` trials; returns how many this worker ran."""
    with quiet_optuna():
        return _optimize(job)


def _optimize(job: WorkerJob) -> int:
    study = optuna.load_study(study_name=job.study_name, storage=job.storage.open(),
                              sampler=make_sampler(job.sampler, job.sampler_seed, parallel=job.parallel),
                              pruner=make_pruner(job.pruner, job.max_resource))
    ran = [0]

    def count(study, trial):
        ran[0] += 1

    callbacks = [count, StopAtBudget(job.budget)] + ([PrintTrial(job.value_name)] if job.verbose else [])
    if len(counted_trials(study)) < job.budget:
        study.optimize(job.objective, n_trials=job.n_trials, catch=(Exception,), callbacks=callbacks)
    return ran[0]
