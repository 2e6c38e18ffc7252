"""Run a search with Optuna: the settings, the study, rounds of trials until the budget, the results.

:func:`run_search` is four steps: merge and check the settings with those of
a saved search (:func:`_plan`), open or resume the study (:func:`_open_study`),
run rounds of trials until the budget is met (:func:`_run_trials`: in this
process or worker processes, :mod:`trainlab.search.local`, or on Dask,
:mod:`trainlab.search.distributed`; each worker runs
:func:`trainlab.search.worker.run_worker`), and collect and write the results
(:mod:`trainlab.search.results`).

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

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import optuna

from trainlab.errors import ConfigError, TrainlabError
from trainlab.fileio import atomic_write_text
from trainlab.search import distributed, local
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
from trainlab.search.worker import PRUNERS, SAMPLERS, WorkerJob, quiet_optuna

_SETTINGS_FILE = "search.json"


@quiet_optuna()
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
    plan = _plan(saved, space, objective, objective_config, out_dir=out_dir, sampler=sampler, pruner=pruner,
                 n_trials=n_trials, seed=seed, workers=workers, direction=direction, verbose=verbose)
    study, spec = _open_study(plan, saved, storage=storage, study_name=study_name, resume=resume,
                              shared=workers > 1 or scheduler is not None)
    _run_trials(study, spec, plan, _Launcher(scheduler, workers))
    results = collect_results(study, plan.space, value_name=plan.value_name, storage=spec.redacted, out_dir=out_dir)
    return finish_search(results, plan.objective, out_dir, retrain=retrain, plots=plots, verbose=verbose)


# ---- 1) the settings, the objective and its space -------------------------------------------

@dataclass(frozen=True)
class SearchPlan:
    """A search's settings once the arguments and the saved search are merged and checked."""

    out_dir: Path
    sampler: str
    pruner: str
    n_trials: int
    seed: int
    direction: str
    objective: Any
    space: SearchSpace
    description: dict[str, Any]
    value_name: str
    verbose: bool

    @property
    def max_resource(self) -> int | None:
        """The epochs of a trial, when the objective says (the pruner's rungs depend on them)."""
        return getattr(getattr(self.objective, "config", None), "epochs", None)


def _read_settings(out_dir: Path) -> dict[str, Any]:
    path = out_dir / _SETTINGS_FILE
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: damaged settings file ({e})") from None


def _plan(saved: Mapping[str, Any], space, objective, objective_config, *, out_dir: Path, sampler, pruner,
          n_trials, seed, workers, direction: str, verbose: bool) -> SearchPlan:
    """The arguments, with what is left as None taken from the saved search, checked before any storage is touched."""
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
    objective = _objective(saved, objective, objective_config, seed)
    space = load_space(saved.get("space", BOOK_SPACE) if space is None else space,
                       getattr(objective, "parameters", None))
    description = objective.describe() if hasattr(objective, "describe") else \
        {"kind": "callable", "name": getattr(objective, "__qualname__", type(objective).__name__)}
    return SearchPlan(out_dir, sampler, pruner, n_trials, seed, direction, objective, space, description,
                      getattr(objective, "value_name", "value"), verbose)


def _objective(saved: Mapping[str, Any], objective, objective_config, seed: int):
    """The objective given, or the book's (with the given settings, else the saved ones)."""
    if objective is not None:
        if objective_config is not None:
            raise ConfigError("objective_config configures the book's objective; pass one or the other")
        return objective
    if objective_config is None and saved.get("objective", {}).get("kind") == "book":
        objective_config = ObjectiveConfig.from_dict(saved["objective"]["config"])
    return BookObjective(objective_config, seed=seed)


# ---- 2) the study: created, or reopened with the same space and objective ------------------------

def _open_study(plan: SearchPlan, saved: Mapping[str, Any], *, storage, study_name: str | None, resume: bool,
                shared: bool):
    """``(study, spec)``: the study opened or created, the settings file written, cut-off trials queued again."""
    if storage is None and saved.get("storage_kind") == "external":
        storage = saved["storage"]
        if ":***@" in storage:
            raise ConfigError(f"--resume: pass --storage again (the password of {storage} is not saved)")
    spec = StorageSpec.parse(storage) if storage is not None else default_storage(plan.out_dir, shared=shared)
    name = study_name or saved.get("study_name") or study_name_for(plan.out_dir)
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    study = _load_or_create(spec, name, plan, resume)
    settings = {"study_name": name, "storage": spec.redacted,
                "storage_kind": "external" if storage is not None else "folder",
                "sampler": plan.sampler, "pruner": plan.pruner, "n_trials": plan.n_trials, "seed": plan.seed,
                "space": plan.space.to_dict(), "objective": plan.description, "direction": plan.direction}
    atomic_write_text(plan.out_dir / _SETTINGS_FILE, json.dumps(settings, indent=1) + "\n")
    requeued = recover_cut_off(study) if resume else []
    if plan.verbose:
        done = len(counted_trials(study))
        print(f"search {name}: {done}/{plan.n_trials} trials done; {plan.sampler} sampler, pruner {plan.pruner}; "
              f"storage {spec.describe()}", flush=True)
    _note_requeued(requeued, plan.verbose)
    return study, spec


def _load_or_create(spec: StorageSpec, name: str, plan: SearchPlan, resume: bool):
    opened = spec.open()
    if name not in optuna.get_all_study_names(opened):
        study = optuna.create_study(study_name=name, storage=opened, direction=plan.direction)
        study.set_user_attr("space", plan.space.to_dict())
        study.set_user_attr("objective", plan.description)
        study.set_user_attr("seed", plan.seed)
        return study
    if not resume:
        raise ConfigError(f"{plan.out_dir} already holds search {name!r} ({spec.describe()}); pass --resume "
                          "to continue it, or choose another output folder")
    study = optuna.load_study(study_name=name, storage=opened)
    if study.direction.name.lower() != plan.direction:
        raise ConfigError(f"--resume: the study was created to {study.direction.name.lower()}, "
                          f"not to {plan.direction}")
    _check_same("search space", study.user_attrs.get("space"), plan.space.to_dict())
    _check_same("objective", study.user_attrs.get("objective"), plan.description)
    return study


def _check_same(what: str, saved: Any, given: Any) -> None:
    if saved is not None and given is not None and saved != given:
        raise ConfigError(f"--resume: the {what} differs from the one this search started with\n"
                          f"  saved: {json.dumps(saved, sort_keys=True)}\n"
                          f"  given: {json.dumps(given, sort_keys=True)}\n"
                          "start a new search in another output folder instead")


def _note_requeued(numbers: list[int], verbose: bool) -> None:
    if numbers and verbose:
        print(f"trials cut off and queued again: {', '.join(map(str, numbers))}", flush=True)


# ---- 3) the trials: here, in worker processes or on Dask, until n_trials are counted ----------------

class _Launcher:
    """Runs a round of jobs in this process, in worker processes, or on the Dask cluster (reached on first use)."""

    def __init__(self, scheduler: Any, workers: int) -> None:
        self.scheduler, self.workers = scheduler, workers
        self._client, self._own_client = None, False

    def _connect(self):
        if self._client is None:
            self._client, self._own_client = distributed.connect(self.scheduler)
        return self._client

    def slots(self) -> int:
        """How many workers the next round shares its trials among."""
        if self.scheduler is None:
            return self.workers
        client = self._connect()
        return self.workers if self.workers > 1 else distributed.worker_slots(client)

    def run(self, jobs: list[WorkerJob]) -> list[str]:
        """Run the jobs to their end; the errors of the workers that failed."""
        if self.scheduler is not None:
            return distributed.run_jobs(self._connect(), jobs)
        if len(jobs) == 1:
            return local.run_here(jobs[0])
        return local.run_processes(jobs)

    def close(self) -> None:
        if self._own_client:
            self._client.close()


def _run_trials(study, spec: StorageSpec, plan: SearchPlan, launcher: _Launcher) -> None:
    """Rounds of jobs until the study counts ``n_trials``; cut-off trials are queued again in between."""
    wrapped = OptunaObjective(plan.objective, plan.space, plan.seed)
    try:
        for _ in range(1 + MAX_RETRY + 1):
            done = len(counted_trials(study))
            if plan.n_trials - done <= 0:
                break
            errors = launcher.run(_jobs(study, spec, plan, wrapped, plan.n_trials - done, launcher.slots()))
            for error in errors:
                print(f"trainlab search: {error}", file=sys.stderr, flush=True)
            _note_requeued(recover_cut_off(study), plan.verbose)
            if len(counted_trials(study)) == done and errors:
                raise TrainlabError("the search made no progress; its workers failed:\n  " + "\n  ".join(errors))
    finally:
        launcher.close()


def _jobs(study, spec: StorageSpec, plan: SearchPlan, wrapped: OptunaObjective, remaining: int,
          slots: int) -> list[WorkerJob]:
    """The ``remaining`` trials shared among at most ``slots`` workers, each sampling with its own seed."""
    shares = _split(remaining, slots)
    n_known = len(study.get_trials(deepcopy=False))
    return [WorkerJob(spec, study.study_name, wrapped, plan.sampler, plan.pruner, plan.max_resource,
                      int(np.random.SeedSequence([plan.seed, n_known, i]).generate_state(1)[0]),
                      share, plan.n_trials, len(shares) > 1, plan.verbose, plan.value_name)
            for i, share in enumerate(shares)]


def _split(n: int, parts: int) -> list[int]:
    """``n`` trials shared as evenly as possible among at most ``parts`` workers."""
    sizes = [n // parts + (i < n % parts) for i in range(parts)]
    return [size for size in sizes if size]
