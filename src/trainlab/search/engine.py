"""Run a search with Optuna: samplers, pruners, the budget, resume, worker processes, Dask.

The study lives in a storage, not in memory: by default an SQLite file
``study.db`` in the output folder (a journal file ``study.journal`` when
several worker processes or a Dask cluster share it). Every finished trial is
committed there before the next one starts, so a search stopped by Ctrl-C, a
killed process or a power cut continues with ``resume=True`` and loses
nothing that finished.

Workers do not talk to each other: each one opens the same study and runs
``study.optimize`` until the search has its ``n_trials`` finished trials.

Reliability rules:

- a trial whose objective raises (``NonFiniteError`` on a NaN loss, any other
  error) or returns NaN is recorded as FAIL with its error in
  ``user_attrs['error']``; the search goes on and the trial counts;
- a trial cut off by its worker (killed process, Ctrl-C, lost machine) is
  marked FAIL and run once more with the same parameters and seed, through
  Optuna's ``RetryHeartbeatStaleTrialCallback(max_retry=1)``: on relational
  storages a heartbeat finds such trials while the search runs; on every
  storage they are found when the search resumes and after its workers stop;
- a bad space fails before the study is even opened.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import sys
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import optuna
from optuna.trial import TrialState

from trainlab import threads
from trainlab.errors import ConfigError, TrainlabError
from trainlab.fileio import atomic_write_text
from trainlab.search.objective import BookObjective, ObjectiveConfig, OptunaObjective
from trainlab.search.results import SearchResults, collect_results, finish_search
from trainlab.search.space import BOOK_SPACE, SearchSpace, load_space
from trainlab.search.storage import (
    MAX_RETRY,
    StorageSpec,
    counted_trials,
    default_storage,
    recover_cut_off,
    study_name_for,
)

SAMPLERS = ("random", "tpe")
PRUNERS = ("none", "hyperband", "successive-halving")
_SETTINGS_FILE = "search.json"


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


# ---- workers ------------------------------------------------------------------------------

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


def run_worker(job: WorkerJob) -> int:
    """Open the study and run up to ``job.n_trials`` trials; returns how many this worker ran."""
    with _quiet_optuna():
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


def _process_main(job: WorkerJob) -> None:
    try:
        run_worker(job)
    except KeyboardInterrupt:
        sys.exit(130)
    except BaseException:
        traceback.print_exc()
        sys.exit(1)


def _run_processes(jobs: list[WorkerJob]) -> list[str]:
    """Each job in its own fresh ('spawn') process; the errors of those that did not end cleanly."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_process_main, args=(job,), name=f"trainlab-search-{i}")
             for i, job in enumerate(jobs)]
    # The workers share the cores: each splits its passes over its share of them (unless the
    # user chose a thread count); a spawned process reads the variable when it starts.
    share = {threads.ENV_VAR: str(max(1, threads.get_num_threads() // len(procs)))}
    with _environment(share if threads.ENV_VAR not in os.environ else {}):
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


@contextlib.contextmanager
def _environment(values: Mapping[str, str]):
    """Set environment variables inside the block, then put back what was there."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _split(n: int, parts: int) -> list[int]:
    """``n`` trials shared as evenly as possible among at most ``parts`` workers."""
    sizes = [n // parts + (i < n % parts) for i in range(parts)]
    return [size for size in sizes if size]


# ---- the search ---------------------------------------------------------------------------

def _read_settings(out_dir: Path) -> dict[str, Any]:
    path = out_dir / _SETTINGS_FILE
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: damaged settings file ({e})") from None


def _study_exists(storage, name: str) -> bool:
    return name in optuna.get_all_study_names(storage)


def _check_same(what: str, saved: Any, given: Any) -> None:
    if saved is not None and given is not None and saved != given:
        raise ConfigError(f"--resume: the {what} differs from the one this search started with\n"
                          f"  saved: {json.dumps(saved, sort_keys=True)}\n"
                          f"  given: {json.dumps(given, sort_keys=True)}\n"
                          "start a new search in another output folder instead")


@contextlib.contextmanager
def _quiet_optuna():
    """Optuna's log only for warnings: the search prints one line per trial itself."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)


@_quiet_optuna()
def run_search(space: Mapping[str, Any] | str | os.PathLike | SearchSpace | None = None, *,
               objective: Callable | None = None, objective_config: ObjectiveConfig | None = None,
               sampler: str | None = None, pruner: str | None = None, n_trials: int | None = None,
               out_dir: str | os.PathLike = "runs/search", resume: bool = False, workers: int = 1,
               scheduler: Any = None, storage: str | os.PathLike | None = None, seed: int | None = None,
               study_name: str | None = None, direction: str = "maximize", retrain: bool = True,
               plots: bool = True, verbose: bool = True) -> SearchResults:
    """Search hyperparameters with Optuna; every trial is kept in a storage and the search resumes.

    Parameters
    ----------
    space : dict, JSON file, JSON text or SearchSpace, optional
        What to search (see :mod:`trainlab.search.space`); default the book's
        lr and weight decay. Checked against the objective before anything runs.
    objective : callable ``(params, ctx) -> float``, optional
        Default :class:`BookObjective` (``objective_config``). A custom one must be
        picklable (a module-level function) for ``workers > 1`` or ``scheduler``.
    sampler : {'random', 'tpe'}, default 'random'
        'random' is the book's search: independent draws, log-uniform on log ranges.
    pruner : {None, 'none', 'hyperband', 'successive-halving'}, default None
        Stops trials whose curve lags behind the others' at the same epoch.
    n_trials : int, default 100
        Trials to finish in all (resumed ones included); failed and pruned trials count.
    out_dir : path, default 'runs/search'
        Study file, trials.csv, best.json, figures and best-model.npz go here.
    resume : bool
        Continue the study in ``out_dir``; without it an existing study is an error.
        Settings left as None are taken from the saved search.
    workers : int, default 1
        Worker processes on this machine (or tasks on the Dask cluster).
    scheduler : str or distributed.Client, optional
        A Dask scheduler address ('tcp://host:8786'); trials then run on its workers.
    storage : str, optional
        An RDB URL or a journal file path every worker can reach; default a file in ``out_dir``.
    seed : int, default 0
        Seeds the data split, the sampler and every trial.

    Returns
    -------
    SearchResults
        Every trial, the best one and the paths written.
    """
    out_dir = Path(out_dir)
    saved = _read_settings(out_dir) if resume else {}
    sampler = sampler or saved.get("sampler", "random")
    pruner = pruner or saved.get("pruner", "none")
    n_trials = n_trials if n_trials is not None else saved.get("n_trials", 100)
    seed = seed if seed is not None else saved.get("seed", 0)
    if sampler not in SAMPLERS:
        raise ConfigError(f"unknown sampler {sampler!r}; valid: {', '.join(SAMPLERS)}")
    if pruner not in PRUNERS:
        raise ConfigError(f"unknown pruner {pruner!r}; valid: {', '.join(PRUNERS)}")
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ConfigError(f"n_trials must be a positive integer, got {n_trials!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be a positive integer, got {workers!r}")
    if direction not in ("maximize", "minimize"):
        raise ConfigError(f"direction must be 'maximize' or 'minimize', got {direction!r}")

    # 1) the objective and its space, checked before any storage is touched
    if objective is None:
        if objective_config is None and saved.get("objective", {}).get("kind") == "book":
            objective_config = ObjectiveConfig.from_dict(saved["objective"]["config"])
        objective = BookObjective(objective_config, seed=seed)
    elif objective_config is not None:
        raise ConfigError("objective_config configures the book's objective; pass one or the other")
    if space is None:
        space = saved.get("space", BOOK_SPACE)
    space = load_space(space, getattr(objective, "parameters", None))
    description = objective.describe() if hasattr(objective, "describe") else \
        {"kind": "callable", "name": getattr(objective, "__qualname__", type(objective).__name__)}
    value_name = getattr(objective, "value_name", "value")

    # 2) the study: created, or reopened with the same space and objective
    if storage is None and saved.get("storage_kind") == "external":
        storage = saved["storage"]
        if ":***@" in storage:
            raise ConfigError(f"--resume: pass --storage again (the password of {storage} is not saved)")
    spec = StorageSpec.parse(storage) if storage is not None else \
        default_storage(out_dir, shared=workers > 1 or scheduler is not None)
    name = study_name or saved.get("study_name") or study_name_for(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    opened = spec.open()
    if _study_exists(opened, name):
        if not resume:
            raise ConfigError(f"{out_dir} already holds search {name!r} ({spec.describe()}); pass --resume "
                              "to continue it, or choose another output folder")
        study = optuna.load_study(study_name=name, storage=opened)
        if study.direction.name.lower() != direction:
            raise ConfigError(f"--resume: the study was created to {study.direction.name.lower()}, "
                              f"not to {direction}")
        _check_same("search space", study.user_attrs.get("space"), space.to_dict())
        _check_same("objective", study.user_attrs.get("objective"), description)
    else:
        study = optuna.create_study(study_name=name, storage=opened, direction=direction)
        study.set_user_attr("space", space.to_dict())
        study.set_user_attr("objective", description)
        study.set_user_attr("seed", seed)
    settings = {"study_name": name, "storage": spec.redacted,
                "storage_kind": "external" if storage is not None else "folder",
                "sampler": sampler, "pruner": pruner, "n_trials": n_trials, "seed": seed,
                "space": space.to_dict(), "objective": description, "direction": direction}
    atomic_write_text(out_dir / _SETTINGS_FILE, json.dumps(settings, indent=1) + "\n")
    requeued = recover_cut_off(study) if resume else []
    if verbose:
        done = len(counted_trials(study))
        print(f"search {name}: {done}/{n_trials} trials done; {sampler} sampler, pruner {pruner}; "
              f"storage {spec.describe()}", flush=True)
    _note_requeued(requeued, verbose)

    # 3) run until n_trials are counted; cut-off trials are queued again in between
    max_resource = getattr(getattr(objective, "config", None), "epochs", None)
    wrapped = OptunaObjective(objective, space, seed)
    client, own_client = None, False
    try:
        for _ in range(1 + MAX_RETRY + 1):
            done = len(counted_trials(study))
            remaining = n_trials - done
            if remaining <= 0:
                break
            if scheduler is not None:
                from trainlab.search import distributed

                if client is None:
                    client, own_client = distributed.connect(scheduler)
                slots = workers if workers > 1 else distributed.worker_slots(client)
            else:
                slots = workers
            shares = _split(remaining, slots)
            n_known = len(study.get_trials(deepcopy=False))
            jobs = [WorkerJob(spec, name, wrapped, sampler, pruner, max_resource,
                              int(np.random.SeedSequence([seed, n_known, i]).generate_state(1)[0]),
                              share, n_trials, len(shares) > 1, verbose, value_name)
                    for i, share in enumerate(shares)]
            if scheduler is not None:
                errors = distributed.run_jobs(client, jobs)
            elif len(jobs) == 1:
                run_worker(jobs[0])
                errors = []
            else:
                errors = _run_processes(jobs)
            for error in errors:
                print(f"trainlab search: {error}", file=sys.stderr, flush=True)
            _note_requeued(recover_cut_off(study), verbose)
            if len(counted_trials(study)) == done and errors:
                raise TrainlabError("the search made no progress; its workers failed:\n  " + "\n  ".join(errors))
    finally:
        if own_client:
            client.close()

    # 4) results: table, best configuration, figures, the best model retrained
    results = collect_results(study, space, value_name=value_name, storage=spec.redacted, out_dir=out_dir)
    return finish_search(results, objective, out_dir, retrain=retrain, plots=plots, verbose=verbose)


def _note_requeued(numbers: list[int], verbose: bool) -> None:
    if numbers and verbose:
        print(f"trials cut off and queued again: {', '.join(map(str, numbers))}", flush=True)
