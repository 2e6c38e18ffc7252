"""``trainlab search``: the hyperparameter search from the command line.

Building the parser imports nothing heavy; Optuna (and Dask, for
``--scheduler``) are imported when the command runs.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from trainlab.cliargs import positive_int


def add_search_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "search", help="search hyperparameters with Optuna (resumable, parallel, on a Dask cluster)",
        description="Search the learning rate, weight decay or any other hyperparameter of the book's "
                    "network: random (the book's search) or TPE sampling, optional Hyperband / successive-"
                    "halving pruning, every trial kept in a study file so that --resume continues it.",
        epilog="space file example: {\"lr\": {\"low\": 1e-6, \"high\": 1e-2, \"log\": true}, "
               "\"hidden\": {\"choices\": [50, 100]}}; see docs/search.md")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--space", metavar="FILE.json",
                       help="search space as a JSON file (or JSON text starting with '{')")
    which.add_argument("--book", action="store_true",
                       help="the book's space: lr 1e-6..1e-2 and weight decay 1e-8..1e-4, both log (default)")
    p.add_argument("--sampler", choices=["random", "tpe"], default=None, help="default: random")
    p.add_argument("--pruner", choices=["none", "hyperband", "successive-halving"], default=None,
                   help="stop lagging trials early (default: none)")
    p.add_argument("--trials", type=positive_int, default=None,
                   help="trials to finish in all, resumed ones included (default: 100)")
    p.add_argument("--epochs", type=positive_int, default=None, help="epochs per trial (default: 50)")
    p.add_argument("--samples", type=positive_int, default=None,
                   help="training images used, 20%% of them for validation (default: 500)")
    p.add_argument("--dataset", choices=["mnist", "fashion-mnist", "synthetic"], default=None,
                   help="default: mnist; 'synthetic' is generated, for tests")
    p.add_argument("--out", type=Path, default=Path("runs/search"), help="output folder (default: runs/search)")
    p.add_argument("--resume", action="store_true", help="continue the search in --out")
    p.add_argument("--workers", type=positive_int, default=1,
                   help="worker processes on this machine, or tasks on the cluster (default: 1)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", default=None,
                   help="run the trials on this Dask scheduler's workers")
    p.add_argument("--storage", metavar="URL", default=None,
                   help="study storage every worker reaches: an RDB URL (postgresql://...) or a journal "
                        "file path (default: a file in --out)")
    p.add_argument("--seed", type=int, default=None, help="seed of the split, sampler and trials (default: 0)")
    p.add_argument("--no-plots", action="store_true", help="no figures")
    p.add_argument("--no-retrain", action="store_true", help="do not retrain and save the best model")
    p.add_argument("--quiet", action="store_true", help="print only the result")
    p.set_defaults(func=cmd_search)


def _objective_config(args):
    """The objective's settings from the flags; on --resume, the saved ones with the flags applied."""
    from trainlab.search.objective import ObjectiveConfig

    given = {key: value for key, value in (("dataset", args.dataset), ("epochs", args.epochs),
                                           ("n_samples", args.samples)) if value is not None}
    saved = None
    settings = args.out / "search.json"
    if args.resume and settings.exists():
        objective = json.loads(settings.read_text(encoding="utf-8")).get("objective", {})
        saved = objective.get("config") if objective.get("kind") == "book" else None
    if saved is not None:
        return ObjectiveConfig.from_dict({**saved, **given}) if given else None
    return ObjectiveConfig(**given)


#: Seconds a Ctrl-C gives the search to wind down before the process exits regardless.
INTERRUPT_GRACE_S = 5.0


def _interrupted_message(out) -> str:
    return f"trainlab: interrupted; finished trials are kept in {out}; continue with --resume"


#: Set by the Ctrl-C handler: once set, the search ends with status 130 however it unwinds.
_INTERRUPTED = threading.Event()


def _exit_interrupted(out) -> None:
    print(_interrupted_message(out), file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(130)


def _install_interrupt_handler(out) -> None:
    """Ctrl-C raises KeyboardInterrupt as usual, and also starts a watchdog that ends the process
    after INTERRUPT_GRACE_S seconds: Optuna may be inside a trial's heartbeat set-up or a
    storage call that does not unwind, and a search must never hang after Ctrl-C. Finished
    trials are committed one by one, so exiting cannot lose them (a cut-off trial is queued
    again by --resume)."""

    def exit_later():
        time.sleep(INTERRUPT_GRACE_S)
        _exit_interrupted(out)

    def on_interrupt(signum, frame):
        _INTERRUPTED.set()
        threading.Thread(target=exit_later, name="trainlab-interrupt-watchdog", daemon=True).start()
        signal.signal(signal.SIGINT, lambda *a: os._exit(130))  # a second Ctrl-C: out at once
        raise KeyboardInterrupt

    _INTERRUPTED.clear()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, on_interrupt)


def cmd_search(args) -> int:
    try:
        from trainlab.search.engine import run_search
        from trainlab.search.space import BOOK_SPACE
    except ImportError as e:
        print(f"trainlab search needs Optuna ({e}): pip install 'trainlab[search]'", file=sys.stderr)
        return 1
    space = BOOK_SPACE if args.book else args.space
    previous_handler = signal.getsignal(signal.SIGINT)
    _install_interrupt_handler(args.out)
    try:
        results = run_search(space, objective_config=_objective_config(args), sampler=args.sampler,
                             pruner=args.pruner, n_trials=args.trials, out_dir=args.out, resume=args.resume,
                             workers=args.workers, scheduler=args.scheduler, storage=args.storage,
                             seed=args.seed, retrain=not args.no_retrain, plots=not args.no_plots,
                             verbose=not args.quiet)
    except BaseException as exc:
        # Every finished trial is already committed to the study. Exit at once: a Ctrl-C that
        # lands while Optuna starts a trial's heartbeat thread can leave that (non-daemon)
        # thread running, and a normal exit would wait for it forever. A KeyboardInterrupt
        # raised inside library code may come out as another exception: after a Ctrl-C,
        # whatever ends the search ends it as an interruption.
        if isinstance(exc, KeyboardInterrupt) or _INTERRUPTED.is_set():
            _exit_interrupted(args.out)
        raise
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, previous_handler)
    if _INTERRUPTED.is_set():  # the interrupt was swallowed on the way (e.g. counted as a failed trial)
        _exit_interrupted(args.out)
    if args.quiet and results.best is not None:
        print(json.dumps(results.best, default=str))
    return 0 if results.best is not None else 1
