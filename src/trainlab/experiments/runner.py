"""Run experiments over one or several seeds and data sets, save their numbers and figures, write one report.

One experiment run is a *job* per seed (``spec.run(config, seed)``); its
claims are checked seed by seed and gathered into k/N verdicts
(:mod:`trainlab.experiments.verdicts`); figures are drawn once from the
metrics of every seed. With more than one job, the jobs go to worker
processes (one per core, each inside its own :func:`trainlab.process.runtime`
with the cores shared out), since most experiments train networks too small
to keep two cores busy on their own.

Each run writes ``out/<folder>/metrics.json``: the folder is the
experiment's name, or ``<name>--<dataset>`` when it runs on another data set
than its default (``reproduce --dataset fashion-mnist``). Without an output
folder (``run_experiment(name)``, as in a notebook) nothing is written: the
figures are kept in memory, the result shows itself in Jupyter, and
``result.save(folder)`` writes what a run into that folder would have.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import tempfile
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

import trainlab.process
from trainlab import __version__
from trainlab.errors import ConfigError, DataError
from trainlab.experiments.base import EXPERIMENTS, BookValue, Claim, ExperimentSpec, config_to_dict
from trainlab.experiments.report import write_report
from trainlab.experiments.verdicts import BookSpread, SeedVerdict, book_over_seeds, over_seeds
from trainlab.fileio import atomic_write, atomic_write_text

#: What ``reproduce`` gives ``--dataset``: every data set an experiment's ``dataset`` setting takes.
DATASETS = ("mnist", "fashion-mnist")


@dataclass
class SeedRun:
    """One seed of one experiment: its metrics and the claims and book values checked on them."""

    seed: int
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    missing_data: bool = False
    claims: list[Claim] = field(default_factory=list)
    book: list[BookValue] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "seconds": self.seconds, "error": self.error, "missing_data": self.missing_data,
                "claims": [c.to_dict() for c in self.claims], "metrics": self.metrics}


@dataclass(repr=False)
class ExperimentResult:
    """Everything one experiment's run produced over its seeds; ``error`` is set when a seed raised.

    In Jupyter a result shows itself (figures inline, the claims and the
    book's numbers as tables); ``print(result)`` gives the verdicts as text.
    """

    name: str
    title: str
    summary: str
    config: dict[str, Any]
    quick: bool
    seeds: list[int] = field(default_factory=lambda: [0])
    #: The data set the run used (its ``dataset`` setting), None for experiments without one.
    dataset: str | None = None
    #: The folder under the output folder that holds its metrics and figures.
    folder: str = ""
    runs: list[SeedRun] = field(default_factory=list)
    claims: list[SeedVerdict] = field(default_factory=list)
    book: list[BookSpread] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    #: True when the run stopped because its data set is not on this machine (see ``trainlab data fetch``).
    missing_data: bool = False
    #: The output folder the result was written into (its files are in ``out_dir/folder``); None when in memory.
    out_dir: str | None = None
    #: The figures as PNG bytes, by their names in ``figures``, for a result not written to disk.
    images: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self):
        self.folder = self.folder or self.name

    @property
    def seed(self) -> int:
        """The first seed (the one single-seed figures and evidence come from)."""
        return self.seeds[0]

    @property
    def metrics(self) -> dict[str, Any]:
        """The first seed's metrics."""
        return self.runs[0].metrics if self.runs else {}

    @property
    def passed(self) -> bool:
        """No error, and every claim held in every seed."""
        return self.error is None and all(c.passed for c in self.claims)

    @property
    def verdict(self) -> str:
        """``"ERROR"``, ``"PASS"`` (every claim held in every seed) or ``"FAIL"``."""
        return "ERROR" if self.error else ("PASS" if self.passed else "FAIL")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "title": self.title, "summary": self.summary, "config": self.config,
            "dataset": self.dataset, "seeds": self.seeds, "quick": self.quick, "seconds": self.seconds,
            "error": self.error, "missing_data": self.missing_data,
            "claims": [c.to_dict() for c in self.claims], "book": [b.to_dict() for b in self.book],
            "figures": self.figures, "artifacts": self.artifacts,
            "environment": {"trainlab": __version__, "numpy": np.__version__, "python": platform.python_version()},
            "runs": [r.to_dict() for r in self.runs],
        }

    def figure_png(self, name: str) -> bytes:
        """The PNG bytes of the figure ``name`` (one of ``figures``), from memory or from the output folder."""
        if name in self.images:
            return self.images[name]
        if name not in self.figures:
            raise KeyError(f"{self.folder} has no figure {name!r}; figures: {', '.join(self.figures) or 'none'}")
        if self.out_dir is None:
            raise FileNotFoundError(f"the figure {name!r} of {self.folder} was neither kept nor written")
        return (Path(self.out_dir) / self.folder / name).read_bytes()

    def save(self, out_dir: str | os.PathLike) -> Path:
        """Write the result into ``out_dir/<folder>/`` as a run into ``out_dir`` would have; return that folder.

        ``metrics.json``, the figures (kept in memory, or drawn now from the
        metrics) and the experiment's files (a data set, a model), made from
        the first seed's metrics. Each file is replaced atomically.
        """
        out = Path(out_dir)
        folder = out / self.folder
        folder.mkdir(parents=True, exist_ok=True)
        spec = EXPERIMENTS.get(self.name)
        config = spec.make_config(overrides=self.config)
        ok = [r for r in self.runs if r.error is None]
        if self.figures:
            for name in self.figures:
                data = self.figure_png(name)
                atomic_write(folder / name, lambda f, data=data: f.write(data))
        elif ok and self.error is None:
            _draw(self, spec, config, folder, ok)
        if ok and self.error is None:
            _write_artifacts(self, spec, config, folder, ok)
        _write_metrics(self, folder)
        self.out_dir = str(out)
        return folder

    def __repr__(self) -> str:
        shown = sum(c.passed for c in self.claims)
        seeds = ", ".join(map(str, self.seeds))
        where = f", in {self.out_dir}" if self.out_dir is not None else ""
        return (f"<ExperimentResult {self.folder}: {self.verdict}, {shown}/{len(self.claims)} claims held in every "
                f"seed, seeds {seeds}, {'quick' if self.quick else 'full'}, {self.seconds:.1f} s{where}>")

    def __str__(self) -> str:
        lines = [f"{self.title} ({self.folder}): {self.verdict}"]
        if self.error:
            lines.append("  " + self.error.splitlines()[0])
        for c in self.claims:
            lines.append(f"  {c.verdict:<10} {c.statement}")
        for b in self.book:
            book = "not published" if b.book is None else b.book
            lines.append(f"  book: {b.quantity}: {book}; measured here: {b.measured_text()}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from trainlab.experiments.report import render_result

        return render_result(self)


# ---- what to run ----------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """One experiment to run: its settings, seeds and folder (the config is resolved, so checked, up front)."""

    name: str
    quick: bool
    overrides: dict[str, Any]
    seeds: tuple[int, ...]
    folder: str

    @property
    def spec(self) -> ExperimentSpec:
        return EXPERIMENTS.get(self.name)

    def config(self):
        return self.spec.make_config(quick=self.quick, overrides=self.overrides)


def plan(name: str, *, quick: bool = False, seeds: int | Sequence[int] = 1, seed: int = 0,
         dataset: str | None = None, overrides: dict[str, Any] | None = None) -> Plan:
    """What ``run_experiment``/``reproduce`` will run for ``name``; raises ConfigError for bad settings.

    ``seeds`` is a count (seeds ``seed, seed + 1, ...``) or the seeds
    themselves; ``dataset`` sets the experiment's ``dataset`` setting (an
    experiment without one ignores it).
    """
    spec = EXPERIMENTS.get(name)
    values = dict(overrides or {})
    folder = spec.name
    if has_dataset(spec):
        if dataset is not None:
            values.setdefault("dataset", dataset)
        chosen_set = spec.make_config(quick=quick, overrides=values).dataset
        if chosen_set != spec.make_config(quick=quick).dataset:
            folder = f"{spec.name}--{chosen_set}"
    if isinstance(seeds, int):
        if seeds < 1:
            raise ConfigError(f"seeds must be at least 1, got {seeds}")
        chosen = tuple(range(seed, seed + seeds))
    else:
        chosen = tuple(int(s) for s in seeds)
        if not chosen or len(set(chosen)) != len(chosen):
            raise ConfigError(f"seeds must be distinct and at least one, got {list(seeds)}")
    result = Plan(spec.name, quick, values, chosen, folder)
    result.config()  # bad settings raise here, before anything runs
    return result


def has_dataset(spec: ExperimentSpec) -> bool:
    """Whether the experiment trains or measures on a data set it can be told (a ``dataset`` setting)."""
    return any(f.name == "dataset" for f in fields(spec.config_cls))


# ---- running seeds ----------------------------------------------------------------------


def run_seed(name: str, quick: bool, overrides: dict[str, Any], seed: int) -> SeedRun:
    """Run one seed of one experiment; a failure is recorded in the SeedRun, not raised."""
    spec = EXPERIMENTS.get(name)
    config = spec.make_config(quick=quick, overrides=overrides)
    run = SeedRun(seed)
    start = time.perf_counter()
    try:
        run.metrics = spec.run(config, seed=seed)
    except DataError as e:  # e.g. Fashion-MNIST where neither its Debian package nor a network is there
        run.error, run.missing_data = f"data not available: {e}", True
    except Exception as e:  # recorded in the report with its traceback
        run.error = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=6)}"
    run.seconds = time.perf_counter() - start
    return run


def _run_seed_in_worker(threads: int, name: str, quick: bool, overrides: dict[str, Any], seed: int) -> SeedRun:
    # BLAS gets the worker's share of the cores too: workers whose BLAS each took every core would collapse.
    with trainlab.process.runtime(threads=threads, blas_threads=threads, keep_freed_memory=True):
        return run_seed(name, quick, overrides, seed)


def _workers(jobs: int, workers: int | None) -> int:
    if workers is None:
        workers = os.cpu_count() or 1
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")
    return max(1, min(workers, jobs))


def run_plans(plans: Sequence[Plan], out_dir: str | os.PathLike | None, *, workers: int | None = None,
              figures: bool = True, log=print) -> list[ExperimentResult]:
    """Run every seed of every plan and finish each experiment as soon as its last seed is in.

    One job in all runs here, in the caller's runtime; more go to ``workers``
    processes (default: one per core), each with the cores shared out. With
    ``out_dir`` None nothing is written (see :func:`finish`).
    """
    out = None if out_dir is None else Path(out_dir)
    jobs = [(i, seed) for i, p in enumerate(plans) for seed in p.seeds]
    done: dict[int, dict[int, SeedRun]] = {i: {} for i in range(len(plans))}
    results: dict[int, ExperimentResult] = {}

    def land(i: int, run: SeedRun) -> None:
        done[i][run.seed] = run
        if len(done[i]) == len(plans[i].seeds):
            results[i] = finish(plans[i], [done[i][s] for s in plans[i].seeds], out, figures=figures, log=log)

    n_workers = _workers(len(jobs), workers)
    if n_workers == 1:
        for i, seed in jobs:
            p = plans[i]
            land(i, run_seed(p.name, p.quick, p.overrides, seed))
        return [results[i] for i in range(len(plans))]
    threads = max(1, (os.cpu_count() or 1) // n_workers)
    context = multiprocessing.get_context("spawn")  # no fork of a process that holds threads
    # The longest first (as the previous run into this folder timed them), so that no long seed is left
    # running alone at the end while the other cores idle; seeds of unknown cost go first.
    cost = {i: (float("inf") if out is None else _previous_seconds(out / p.folder)) for i, p in enumerate(plans)}
    jobs.sort(key=lambda job: -cost[job[0]])
    with ProcessPoolExecutor(n_workers, mp_context=context) as pool:
        pending = {}
        for i, seed in jobs:
            p = plans[i]
            future = pool.submit(_run_seed_in_worker, threads, p.name, p.quick, p.overrides, seed)
            pending[future] = i
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                i = pending.pop(future)
                land(i, future.result())
    return [results[i] for i in range(len(plans))]


def _previous_seconds(folder: Path) -> float:
    """Seconds per seed of the run last written into ``folder`` (infinite when there is none to read)."""
    try:
        saved = json.loads((folder / "metrics.json").read_text())
        runs = saved.get("runs") or [saved]
        return float(sum(r.get("seconds", 0.0) for r in runs)) / len(runs)
    except (OSError, ValueError, TypeError, AttributeError, ZeroDivisionError):
        return float("inf")


def finish(p: Plan, runs: list[SeedRun], out: Path | None, *, figures: bool = True,
           log=print) -> ExperimentResult:
    """Check each seed's claims, gather the verdicts, draw the figures, write ``metrics.json``.

    With ``out`` None nothing is written: the figures are kept as PNG bytes in
    the result (its ``images``) and the experiment's files wait for
    ``result.save``. ``seconds`` of the result is the time of its seeds' runs,
    added up (they may have run side by side), plus this checking and drawing.
    """
    start = time.perf_counter()
    spec = p.spec
    config = p.config()
    result = ExperimentResult(spec.name, spec.title, spec.summary, config_to_dict(config), p.quick,
                              seeds=list(p.seeds), dataset=getattr(config, "dataset", None), folder=p.folder,
                              runs=runs)
    ok = _decide(result, spec, config)
    folder = None
    if out is not None:
        folder = Path(out) / p.folder
        folder.mkdir(parents=True, exist_ok=True)
        result.out_dir = str(out)
    if ok and result.error is None:
        if figures and folder is None:
            with tempfile.TemporaryDirectory(prefix="trainlab-figures-") as scratch:
                _draw(result, spec, config, Path(scratch), ok)
                result.images = {name: (Path(scratch) / name).read_bytes() for name in result.figures}
        elif figures:
            _draw(result, spec, config, folder, ok)
        if folder is not None:
            _write_artifacts(result, spec, config, folder, ok)
    failed = [r for r in runs if r.error is not None]
    if failed and result.error is None:
        result.error = "; ".join(f"seed {r.seed}: {r.error}" for r in failed)
        result.missing_data = all(r.missing_data for r in failed)
    result.seconds = sum(r.seconds for r in runs) + time.perf_counter() - start
    if folder is not None:
        _write_metrics(result, folder)
    if log is not None:
        log(_log_line(result))
        if result.error:
            log("  " + result.error.splitlines()[0])
    return result


def _decide(result: ExperimentResult, spec: ExperimentSpec, config) -> list[SeedRun]:
    """Check the claims and book values of each seed that ran, gather them; return those seeds."""
    ok = [r for r in result.runs if r.error is None]
    try:
        for run in ok:
            run.claims = list(spec.check(run.metrics, config))
            _check_declared(spec, run.claims)
            run.book = list(spec.book(run.metrics, config))
        result.claims = over_seeds([r.seed for r in ok], [r.claims for r in ok])
        result.book = book_over_seeds([r.book for r in ok])
    except Exception as e:  # a broken check is recorded like a broken run
        result.error = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=6)}"
    return ok


def _draw(result: ExperimentResult, spec: ExperimentSpec, config, folder: Path, ok: list[SeedRun]) -> None:
    try:
        from trainlab.plots.style import figure_style

        with figure_style():
            paths = spec.plot([r.metrics for r in ok], config, folder)
        result.figures = [str(Path(x).relative_to(folder)) for x in paths]
    except Exception as e:  # a broken figure is recorded like a broken run
        result.error = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=6)}"


def _write_artifacts(result: ExperimentResult, spec: ExperimentSpec, config, folder: Path,
                     ok: list[SeedRun]) -> None:
    if spec.artifacts is None:
        return
    try:
        paths = spec.artifacts(ok[0].metrics, config, folder)
        result.artifacts = [str(Path(x).relative_to(folder)) for x in paths]
    except Exception as e:
        result.error = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=6)}"


def _write_metrics(result: ExperimentResult, folder: Path) -> None:
    atomic_write_text(folder / "metrics.json", json.dumps(result.to_dict(), indent=1, default=_json_default))


def _log_line(result: ExperimentResult) -> str:
    verdict = "ERROR" if result.error else ("PASS" if result.passed else "FAIL")
    shown = sum(c.passed for c in result.claims)
    seeds = f"{len(result.seeds)} seed{'s' if len(result.seeds) > 1 else ''}"
    return f"{result.folder:<34} {verdict:<5} {shown}/{len(result.claims)} claims  {seeds:<8} {result.seconds:6.1f} s"


def _check_declared(spec, claims: list[Claim]) -> None:
    """Raise unless ``claims`` are exactly the claims the spec declares, in its order."""
    found, declared = [c.id for c in claims], list(spec.claims)
    if found != declared:
        raise RuntimeError(f"experiment {spec.name}: check returned the claims {found}, but the spec declares "
                           f"{declared}")


# ---- the two entry points ------------------------------------------------------------------


def run_experiment(name: str, out_dir: str | os.PathLike | None = None, *, quick: bool = False, seed: int = 0,
                   seeds: int | Sequence[int] = 1, dataset: str | None = None,
                   overrides: dict[str, Any] | None = None, figures: bool = True, workers: int | None = None,
                   log=print) -> ExperimentResult:
    """Run one experiment and return its result; with ``out_dir``, also into ``out_dir/<folder>/``.

    ``run_experiment("optimizer-paths", quick=True)`` writes nothing: the
    figures stay in memory and the result shows itself in Jupyter;
    ``result.save(folder)`` writes it later. With ``out_dir`` the run
    writes ``metrics.json``, its PNG figures and its files there. A failing
    run is recorded (``error``) rather than raised, so one broken seed does
    not cost the others; configuration errors still raise.
    """
    p = plan(name, quick=quick, seeds=seeds, seed=seed, dataset=dataset, overrides=overrides)
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    return run_plans([p], out_dir, workers=workers, figures=figures, log=log)[0]


def reproduce(names: Iterable[str] | None, out_dir: str | os.PathLike, *, quick: bool = False, seed: int = 0,
              seeds: int | None = None, datasets: Sequence[str] | None = None, workers: int | None = None,
              log=print) -> tuple[list[ExperimentResult], Path]:
    """Run the named experiments (all when None) and write ``out_dir/report.html``.

    ``seeds`` gives every experiment that many seeds (from ``seed`` on);
    None gives each the count its spec declares (``ExperimentSpec.seeds``,
    what ``make run`` affords). ``datasets`` runs every experiment that has a
    ``dataset`` setting once per data set named (experiments without one run
    once); None keeps each experiment's own. The runs of one job are in this
    process's :func:`trainlab.process.runtime`; more jobs go to worker
    processes (``workers``, default one per core).
    """
    names = [EXPERIMENTS.canonical(n) for n in (list(names) if names else EXPERIMENTS.names_in_order())]
    for d in datasets or ():
        if d not in DATASETS:
            raise ConfigError(f"unknown dataset {d!r}; valid: {', '.join(DATASETS)}")
    plans = []
    for i, d in enumerate(datasets or [None]):
        for n in names:
            spec = EXPERIMENTS.get(n)
            if i > 0 and not has_dataset(spec):
                continue  # nothing changes with the data set: it ran once already
            plans.append(plan(n, quick=quick, seeds=spec.seeds if seeds is None else seeds, seed=seed, dataset=d))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with trainlab.process.runtime(keep_freed_memory=True):
        results = run_plans(plans, out, workers=workers, log=log)
    report = write_report(results, out, quick=quick)
    return results, report


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# ---- a finished run, read back ----------------------------------------------------------------


def load_results(out_dir: str | os.PathLike) -> list[ExperimentResult]:
    """The results of a finished run from its ``<folder>/metrics.json`` files, claims re-decided.

    Each experiment's ``check`` (and ``book``) decides again from each seed's
    saved metrics and configuration, so the claims carry the ids and sources
    of this version even where the run was written by an earlier one (also
    the single-seed files of earlier versions). In the order of the book, each
    experiment's default data set first; folders of unknown experiments are
    left out.
    """
    out = Path(out_dir)
    results = []
    for name in EXPERIMENTS.names_in_order():
        folders = [out / name] + sorted(out.glob(f"{name}--*"))
        for folder in folders:
            path = folder / "metrics.json"
            if path.is_file():
                results.append(_load_one(name, folder.name, json.loads(path.read_text()), out))
    return results


def _load_one(name: str, folder: str, saved: dict, out_dir: Path) -> ExperimentResult:
    spec = EXPERIMENTS.get(name)
    if "runs" in saved:
        runs = [SeedRun(r["seed"], r.get("metrics") or {}, r.get("seconds", 0.0), r.get("error"),
                        r.get("missing_data", False)) for r in saved["runs"]]
    else:  # one seed, as earlier versions wrote it
        runs = [SeedRun(saved["seed"], saved.get("metrics") or {}, saved.get("seconds", 0.0), saved.get("error"),
                        saved.get("missing_data", False))]
    config = spec.make_config(overrides=saved["config"])
    result = ExperimentResult(spec.name, spec.title, spec.summary, saved["config"], saved["quick"],
                              seeds=[r.seed for r in runs], dataset=getattr(config, "dataset", None), folder=folder,
                              runs=runs, figures=saved.get("figures", []), artifacts=saved.get("artifacts", []),
                              seconds=saved.get("seconds", 0.0), error=saved.get("error"),
                              missing_data=saved.get("missing_data", False), out_dir=str(out_dir))
    ok = [r for r in runs if r.error is None]
    try:
        for r in ok:
            r.claims = list(spec.check(r.metrics, config))
            r.book = list(spec.book(r.metrics, config))
    except (KeyError, IndexError, TypeError, ValueError) as e:  # metrics an earlier version wrote otherwise
        result.error = (f"the saved metrics cannot be checked by this version of {spec.name} "
                        f"({type(e).__name__}: {e}); run it again")
        return result
    result.claims = over_seeds([r.seed for r in ok], [r.claims for r in ok])
    result.book = book_over_seeds([r.book for r in ok])
    return result
