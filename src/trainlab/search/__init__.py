"""Hyperparameter search on Optuna, in parallel on one machine or on a Dask cluster.

>>> from trainlab.search import run_search                                    # doctest: +SKIP
>>> results = run_search({"lr": {"low": 1e-6, "high": 1e-2, "log": True}},     # doctest: +SKIP
...                      sampler="tpe", pruner="hyperband", n_trials=50, out_dir="runs/lr")
>>> results.best["params"]                                                    # doctest: +SKIP

The study is stored in the output folder, so ``run_search(..., resume=True)``
(``trainlab search --resume``) continues an interrupted search. See
``docs/search.md``. Optuna is imported only when a search runs.
"""

from __future__ import annotations

from importlib import import_module

from trainlab.search.space import BOOK_SPACE, Param, ParamInfo, SearchSpace, load_space

_LAZY = {
    "run_search": "trainlab.search.engine",
    "SAMPLERS": "trainlab.search.worker",
    "PRUNERS": "trainlab.search.worker",
    "make_sampler": "trainlab.search.worker",
    "make_pruner": "trainlab.search.worker",
    "BookObjective": "trainlab.search.objective",
    "ObjectiveConfig": "trainlab.search.objective",
    "BOOK_PARAMETERS": "trainlab.search.objective",
    "TrialContext": "trainlab.search.objective",
    "SearchResults": "trainlab.search.results",
}

__all__ = ["BOOK_SPACE", "Param", "ParamInfo", "SearchSpace", "load_space", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'trainlab.search' has no attribute {name!r}")
