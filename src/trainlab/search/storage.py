"""Where a study lives, and which of its trials count: storages, the budget, re-runs of cut-off trials.

A study is kept in an Optuna storage that every worker opens for itself:

- an RDB URL: ``sqlite:///.../study.db`` (the default for one process),
  ``postgresql://...`` or ``mysql://...`` (for many machines). Trials beat a
  heartbeat every ``HEARTBEAT_INTERVAL`` seconds; one silent for
  ``GRACE_PERIOD`` seconds is failed by the next worker that starts a trial,
  and Optuna's ``RetryHeartbeatStaleTrialCallback`` queues it again;
- a journal file (``study.journal``): an append-only log with file locks, safe
  for several processes and for a shared file system (NFS). Optuna gives it no
  heartbeat, so its cut-off trials are found by :func:`recover_cut_off` when
  the search resumes and after its workers stop.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

try:  # the name since Optuna 4.9; the older one still works there, with a deprecation warning
    from optuna.storages import RetryHeartbeatStaleTrialCallback as _RetryCallback
except ImportError:  # pragma: no cover - older Optuna
    from optuna.storages import RetryFailedTrialCallback as _RetryCallback

#: Seconds between a running trial's heartbeats, and without one before it counts as cut off.
HEARTBEAT_INTERVAL = 10
GRACE_PERIOD = 30
#: How often a cut-off trial is run again.
MAX_RETRY = 1


# ---- storages ---------------------------------------------------------------------------

@dataclass(frozen=True)
class StorageSpec:
    """Where the study lives: an RDB URL (``sqlite:///...``, ``postgresql://...``) or a journal file.

    Picklable; every worker process calls :meth:`open` to get its own connection.
    """

    kind: str  # 'rdb' or 'journal'
    location: str

    @classmethod
    def parse(cls, storage: str | os.PathLike) -> "StorageSpec":
        text = str(storage)
        if "://" in text:
            return cls("rdb", text)
        return cls("journal", str(Path(text).resolve()))

    def open(self):
        """An Optuna storage; RDB storages get a heartbeat and retry cut-off trials once."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            if self.kind == "journal":
                from optuna.storages import JournalStorage
                from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

                Path(self.location).parent.mkdir(parents=True, exist_ok=True)
                # Symlink locks need a privilege on Windows; open-locks work there.
                lock = JournalFileOpenLock(self.location) if os.name == "nt" else None
                return JournalStorage(JournalFileBackend(self.location, lock_obj=lock))
            kwargs: dict[str, Any] = {"heartbeat_interval": HEARTBEAT_INTERVAL, "grace_period": GRACE_PERIOD}
            callback = _RetryCallback(max_retry=MAX_RETRY)
            names = inspect.signature(optuna.storages.RDBStorage).parameters
            kwargs["heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback" in names
                   else "failed_trial_callback"] = callback
            # SQLite allows one writer at a time; wait for the lock instead of failing at once.
            engine = {"connect_args": {"timeout": 60}} if self.location.startswith("sqlite") else None
            return optuna.storages.RDBStorage(self.location, engine_kwargs=engine, **kwargs)

    @property
    def redacted(self) -> str:
        """The location with any password in the URL hidden, for printing and saving."""
        if self.kind != "rdb":
            return self.location
        from sqlalchemy.engine import make_url

        try:
            return make_url(self.location).render_as_string(hide_password=True)
        except Exception:  # not an SQLAlchemy URL; Optuna will say so when it opens it
            return self.location

    def describe(self) -> str:
        return self.redacted if self.kind == "rdb" else f"journal file {self.location}"


def default_storage(out_dir: Path, shared: bool) -> StorageSpec:
    """The folder's own storage: the one already there, else SQLite (one process) or a journal (several)."""
    db, journal = out_dir / "study.db", out_dir / "study.journal"
    if journal.exists() or (shared and not db.exists()):
        return StorageSpec("journal", str(journal.resolve()))
    return StorageSpec("rdb", f"sqlite:///{db.resolve()}")


def study_name_for(out_dir: Path) -> str:
    """A name fixed by the output folder: its name and a hash of its absolute path."""
    path = str(Path(out_dir).resolve())
    return f"trainlab-{Path(path).name}-{hashlib.sha1(path.encode()).hexdigest()[:8]}"


# ---- budget and retries ----------------------------------------------------------------

def retried_numbers(trials) -> set[int]:
    """Numbers of trials that another trial re-runs."""
    return {n for t in trials for n in _RetryCallback.retry_history(t)}


def counted_trials(study) -> list:
    """Trials that used up the budget: finished (COMPLETE, PRUNED, FAIL) and not re-run by another."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        trials = study.get_trials(deepcopy=False)
        retried = retried_numbers(trials)
    return [t for t in trials if t.state.is_finished() and t.number not in retried]


def recover_cut_off(study) -> list[int]:
    """Fail the trials left RUNNING by dead workers, and queue a re-run of each cut-off trial.

    Call it only when no worker of this study is running. A trial is cut off
    when it is RUNNING, or FAIL without an error of its own (Ctrl-C); each is
    re-run once. Returns the numbers of the trials queued again.
    """
    queued = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = _RetryCallback(max_retry=MAX_RETRY)
        trials = study.get_trials(deepcopy=False)
        retried = retried_numbers(trials)
        for t in trials:
            if t.number in retried:
                continue
            if t.state == TrialState.RUNNING:
                study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
            elif not (t.state == TrialState.FAIL and "error" not in t.user_attrs):
                continue
            before = len(study.get_trials(deepcopy=False))
            retry(study, study.get_trials(deepcopy=False)[t.number])
            if len(study.get_trials(deepcopy=False)) > before:
                queued.append(t.number)
    return queued
