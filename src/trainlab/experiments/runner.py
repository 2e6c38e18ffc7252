"""Run experiments, save their numbers and figures, and write one HTML report."""

from __future__ import annotations

import json
import os
import platform
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

import trainlab.process
from trainlab import __version__
from trainlab.fileio import atomic_write_text
from trainlab.errors import DataError
from trainlab.experiments.base import EXPERIMENTS, BookValue, Claim, config_to_dict
from trainlab.experiments.report import write_report


@dataclass
class ExperimentResult:
    """Everything one run produced; ``error`` is set when the run raised."""

    name: str
    title: str
    summary: str
    config: dict[str, Any]
    seed: int
    quick: bool
    metrics: dict[str, Any] = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)
    book: list[BookValue] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    #: True when the run stopped because its data set is not on this machine (see ``trainlab data fetch``).
    missing_data: bool = False

    @property
    def passed(self) -> bool:
        return self.error is None and all(c.passed for c in self.claims)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "title": self.title, "summary": self.summary, "config": self.config,
            "seed": self.seed, "quick": self.quick, "seconds": self.seconds, "error": self.error,
            "missing_data": self.missing_data,
            "claims": [c.to_dict() for c in self.claims], "book": [b.to_dict() for b in self.book],
            "figures": self.figures, "artifacts": self.artifacts, "metrics": self.metrics,
            "environment": {"trainlab": __version__, "numpy": np.__version__, "python": platform.python_version()},
        }


def run_experiment(name: str, out_dir: str | os.PathLike, *, quick: bool = False, seed: int = 0,
                   overrides: dict[str, Any] | None = None, figures: bool = True,
                   log=print) -> ExperimentResult:
    """Run one experiment into ``out_dir/<name>/``: ``metrics.json`` and its PNG figures.

    A failing run is recorded (``error``) rather than raised, so one broken
    experiment does not cost the others; configuration errors still raise.
    """
    spec = EXPERIMENTS.get(name)
    config = spec.make_config(quick=quick, overrides=overrides)
    folder = Path(out_dir) / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    result = ExperimentResult(spec.name, spec.title, spec.summary, config_to_dict(config), seed, quick)
    start = time.perf_counter()
    try:
        result.metrics = spec.run(config, seed=seed)
        result.claims = list(spec.check(result.metrics, config))
        _check_declared(spec, result.claims)
        result.book = list(spec.book(result.metrics, config))
        if spec.artifacts is not None:
            paths = spec.artifacts(result.metrics, config, folder)
            result.artifacts = [str(Path(p).relative_to(folder)) for p in paths]
        if figures:
            paths = spec.plot([result.metrics], config, folder)
            result.figures = [str(Path(p).relative_to(folder)) for p in paths]
    except DataError as e:  # e.g. Fashion-MNIST where neither its Debian package nor a network is there
        result.error = f"data not available: {e}"
        result.missing_data = True
    except Exception as e:  # recorded in the report with its traceback
        result.error = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=6)}"
    result.seconds = time.perf_counter() - start
    atomic_write_text(folder / "metrics.json", json.dumps(result.to_dict(), indent=1, default=_json_default))
    if log is not None:
        verdict = "ERROR" if result.error else ("PASS" if result.passed else "FAIL")
        claims = sum(c.passed for c in result.claims)
        log(f"{spec.name:<24} {verdict:<5} {claims}/{len(result.claims)} claims  {result.seconds:6.1f} s")
        if result.error:
            log("  " + result.error.splitlines()[0])
    return result


def _check_declared(spec, claims: list[Claim]) -> None:
    """Raise unless ``claims`` are exactly the claims the spec declares, in its order."""
    found, declared = [c.id for c in claims], list(spec.claims)
    if found != declared:
        raise RuntimeError(f"experiment {spec.name}: check returned the claims {found}, but the spec declares "
                           f"{declared}")


def reproduce(names: Iterable[str] | None, out_dir: str | os.PathLike, *, quick: bool = False, seed: int = 0,
              log=print) -> tuple[list[ExperimentResult], Path]:
    """Run the named experiments (all when None) and write ``out_dir/report.html``.

    The whole run is one :func:`trainlab.process.runtime` block: trainlab's
    threads, BLAS held to one thread while they split the work, and freed
    memory kept for the next training step; all restored when it ends.
    """
    names = list(names) if names else EXPERIMENTS.names_in_order()
    names = [EXPERIMENTS.canonical(n) for n in names]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with trainlab.process.runtime(keep_freed_memory=True):
        results = [run_experiment(n, out, quick=quick, seed=seed, log=log) for n in names]
    report = write_report(results, out, quick=quick, seed=seed)
    return results, report


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def load_results(out_dir: str | os.PathLike) -> list[ExperimentResult]:
    """The results of a finished run from its ``<name>/metrics.json`` files, claims re-decided.

    Each experiment's ``check`` (and ``book``) decides again from the saved
    metrics and configuration, so the claims carry the ids and sources of
    this version even where the run was written by an earlier one. In the
    order of the book; folders of unknown experiments are left out.
    """
    out = Path(out_dir)
    results = []
    for name in EXPERIMENTS.names_in_order():
        path = out / name / "metrics.json"
        if not path.exists():
            continue
        saved = json.loads(path.read_text())
        spec = EXPERIMENTS.get(name)
        result = ExperimentResult(
            spec.name, spec.title, spec.summary, saved["config"], saved["seed"], saved["quick"],
            metrics=saved["metrics"], figures=saved.get("figures", []), artifacts=saved.get("artifacts", []),
            seconds=saved.get("seconds", 0.0), error=saved.get("error"), missing_data=saved.get("missing_data", False))
        if result.error is None:
            config = spec.make_config(overrides=saved["config"])
            result.claims = list(spec.check(result.metrics, config))
            result.book = list(spec.book(result.metrics, config))
        results.append(result)
    return results
