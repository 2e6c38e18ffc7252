"""What an experiment is: a config, a computation, claims checked on its numbers, a figure.

An experiment is split in four plain functions so that each can be used and
tested alone:

- ``run(config, seed) -> metrics``: computes numbers only (JSON values), no drawing;
- ``check(metrics, config) -> [Claim]``: the claims the book's figure is meant
  to show, each decided from the measured numbers (PASS/FAIL with evidence);
  every claim has a stable id and names its source, and the spec declares
  them all up front in a :class:`ClaimTable` (``ExperimentSpec.claims``);
- ``book(metrics, config) -> [BookValue]``: the book's published numbers next to ours;
- ``plot(runs, config, out_dir) -> [Path]``: figures drawn from the metrics
  alone, so they can be redrawn without rerunning: a function of
  :mod:`trainlab.plots` that the spec names directly. ``runs`` holds the
  metrics of every seed of the run, the first seed's first; a figure shows
  the spread over the seeds (a band, or one faint line per seed) where
  there is more than one;
- optionally ``artifacts(metrics, config, out_dir) -> [Path]``: data products
  (a data set, a trained model) written next to the metrics, with or without figures.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from trainlab.errors import ConfigError
from trainlab.registry import Registry


@dataclass(frozen=True)
class Claim:
    """One statement a figure is meant to show, and whether this run shows it.

    ``id`` is stable across runs and unique among all experiments
    (``"<experiment>/<key>"``); ``source`` says where the claim comes from:
    the seed statements it decides, as ``seed 000 (S000-01, S000-04)`` with
    the ids of :mod:`trainlab.experiments.ledger`, and/or the book section,
    figure or paper it reproduces (``book 6.1.7, figure 6-8``).

    ``values`` are the numbers the verdict is decided from, by name
    (``{"SGD final loss": 0.15, "Adam final loss": 0.03}``): over several
    seeds the report shows each one's mean and range.
    """

    statement: str
    passed: bool
    evidence: str
    id: str = field(kw_only=True)
    source: str = field(kw_only=True)
    values: Mapping[str, float] = field(default_factory=dict, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "statement": self.statement, "passed": bool(self.passed), "evidence": self.evidence,
                "source": self.source, "values": {k: float(v) for k, v in self.values.items()}}


_CLAIM_KEY = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


class ClaimTable(Mapping):
    """The claims an experiment's ``check`` decides, declared up front: claim id -> source.

    ``ClaimTable("optimizer-paths", {"sgd-zigzags": "seed 000 (S000-01); book 6.1.7"})``
    holds the id ``"optimizer-paths/sgd-zigzags"``; ``check`` makes the claim with
    :meth:`claim`, so a claim can carry no id or source the table lacks.
    """

    def __init__(self, experiment: str, sources: dict[str, str]):
        self.experiment = experiment
        self._sources: dict[str, str] = {}
        for key, source in sources.items():
            if not _CLAIM_KEY.fullmatch(key):
                raise ValueError(f"experiment {experiment}: claim key {key!r} must be lower-case words joined by '-'")
            if not source.strip():
                raise ValueError(f"experiment {experiment}: claim {key!r} names no source")
            self._sources[f"{experiment}/{key}"] = source

    def __getitem__(self, claim_id: str) -> str:
        return self._sources[claim_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._sources)

    def __len__(self) -> int:
        return len(self._sources)

    def claim(self, key: str, statement: str, passed: bool, evidence: str,
              values: Mapping[str, float] | None = None) -> Claim:
        """The claim ``key`` of this table, with its id and source, decided from ``values``."""
        claim_id = f"{self.experiment}/{key}"
        if claim_id not in self._sources:
            raise KeyError(f"experiment {self.experiment} declares no claim {key!r}; declared: "
                           f"{', '.join(self._sources)}")
        numbers = {}
        for name, value in (values or {}).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
                raise TypeError(f"claim {claim_id}: value {name!r} must be a number, got {value!r}")
            numbers[str(name)] = float(value)
        return Claim(statement, bool(passed), evidence, id=claim_id, source=self._sources[claim_id], values=numbers)


@dataclass(frozen=True)
class BookValue:
    """A number the book publishes, and the same quantity measured here."""

    quantity: str
    book: float | str | None
    measured: float | str | None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ExperimentSpec:
    """A registered experiment.

    ``config_cls`` is a frozen dataclass whose defaults are the full run;
    ``quick`` holds the overrides of ``--quick`` (small data, few steps).
    ``seeds`` is how many seeds ``trainlab reproduce`` gives the experiment
    when no ``--seeds`` is asked for (the cheap ones several, so that
    ``make run`` stays within its time).
    """

    name: str
    title: str
    summary: str
    config_cls: type
    run: Callable[..., dict[str, Any]]
    check: Callable[[dict[str, Any], Any], list[Claim]]
    plot: Callable[[dict[str, Any], Any, Path], list[Path]]
    book: Callable[[dict[str, Any], Any], list[BookValue]] = lambda metrics, config: []
    quick: dict[str, Any] = field(default_factory=dict)
    artifacts: Callable[[dict[str, Any], Any, Path], list[Path]] | None = None
    #: Every claim ``check`` returns, by id, with its source, in the order ``check`` returns them.
    claims: Mapping[str, str] = field(default_factory=dict)
    seeds: int = 1

    def make_config(self, *, quick: bool = False, overrides: dict[str, Any] | None = None):
        """The resolved config: defaults, then the quick overrides, then the user's."""
        values = dict(self.quick) if quick else {}
        values.update(overrides or {})
        known = {f.name for f in dataclasses.fields(self.config_cls)}
        unknown = set(values) - known
        if unknown:
            raise ConfigError(f"experiment {self.name!r} has no setting {', '.join(sorted(unknown))}; "
                              f"valid settings: {', '.join(sorted(known))}")
        hints = typing.get_type_hints(self.config_cls)
        for key, value in values.items():
            values[key] = check_value(value, hints[key], key)
        return self.config_cls(**values)


EXPERIMENTS: Registry[ExperimentSpec] = Registry("experiment")


def register(spec: ExperimentSpec) -> ExperimentSpec:
    return EXPERIMENTS.add(spec.name, spec)


def config_to_dict(config) -> dict[str, Any]:
    return {f.name: _jsonable(getattr(config, f.name)) for f in dataclasses.fields(config)}


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


# ---- --set key=value -------------------------------------------------------------

def parse_overrides(spec: ExperimentSpec, items: list[str]) -> dict[str, Any]:
    """Parse ``key=value`` strings against the experiment's config fields and their types."""
    hints = typing.get_type_hints(spec.config_cls)
    names = {f.name for f in dataclasses.fields(spec.config_cls)}
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        key = key.strip().replace("-", "_")
        if key not in names:
            raise ConfigError(f"experiment {spec.name!r} has no setting {key!r}; "
                              f"valid settings: {', '.join(sorted(names))}")
        out[key] = parse_value(text.strip(), hints[key], key)
    return out


def check_value(value, kind, key: str = "value"):
    """Return ``value`` if it fits ``kind`` (ints pass as floats, lists as tuples), else raise ConfigError."""
    return setting_type(kind).check(value, key)


def parse_value(text: str, kind, key: str = "value"):
    """Convert ``text`` to ``kind`` (int, float, bool, str, tuple[...] or a Union of them)."""
    return setting_type(kind).parse(text, key)


# ---- what each type hint of a setting accepts ----------------------------------------


def setting_type(kind):
    """How a setting of type hint ``kind`` is checked (:meth:`check`) and read from text (:meth:`parse`)."""
    origin = typing.get_origin(kind)
    if origin is typing.Union or (_UNION_TYPE is not None and origin is _UNION_TYPE):
        return _Union(typing.get_args(kind))
    if origin in (tuple, list):
        args = typing.get_args(kind)
        return _Sequence(args[0] if args else None)
    scalar = _SCALARS.get(kind) if isinstance(kind, type) else None
    return scalar if scalar is not None else _Other(kind)


_UNION_TYPE = getattr(types, "UnionType", None)  # ``int | None`` (Python 3.10+)


def _type_names(kinds) -> list[str]:
    return [getattr(k, "__name__", str(k)) for k in kinds]


@dataclass(frozen=True)
class _Scalar:
    """bool, int, float or str: what a value must be, and how text becomes one."""

    expected: str
    fits: Callable[[Any], bool]
    convert: Callable[[Any], Any]
    read: Callable[[str], Any]  # raises ValueError for text it cannot read

    def check(self, value, key: str):
        if not self.fits(value):
            raise ConfigError(f"{key}: expected {self.expected}, got {value!r}")
        return self.convert(value)

    def parse(self, text: str, key: str):
        try:
            return self.read(text)
        except ValueError:
            raise ConfigError(f"{key}: expected {self.expected}, got {text!r}") from None


def _read_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ValueError(text)


def _same(value):
    return value


_SCALARS = {
    bool: _Scalar("true or false", lambda v: isinstance(v, bool), _same, _read_bool),
    int: _Scalar("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool), _same, int),
    float: _Scalar("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), float, float),
    str: _Scalar("a string", lambda v: isinstance(v, str), _same, _same),
}


@dataclass(frozen=True)
class _Sequence:
    """tuple[...] or list[...]: a tuple of items of the first argument's type (any items when it has none)."""

    item: Any

    def check(self, value, key: str):
        if not isinstance(value, (tuple, list)):
            raise ConfigError(f"{key}: expected a sequence, got {value!r}")
        if self.item is None:
            return tuple(value)
        item = setting_type(self.item)
        return tuple(item.check(v, key) for v in value)

    def parse(self, text: str, key: str):
        item = setting_type(str if self.item is None else self.item)
        parts = [p.strip() for p in text.strip("()[]").split(",") if p.strip()]
        return tuple(item.parse(p, key) for p in parts)


@dataclass(frozen=True)
class _Union:
    """A Union (``X | None`` included): the first member type that takes the value."""

    args: tuple

    @property
    def members(self) -> list:
        return [a for a in self.args if a is not type(None)]

    def check(self, value, key: str):
        if value is None and type(None) in self.args:
            return None
        for arg in self.members:
            try:
                return setting_type(arg).check(value, key)
            except ConfigError:
                pass
        raise ConfigError(f"{key}: {value!r} is not one of {_type_names(self.args)}")

    def parse(self, text: str, key: str):
        if text.lower() in ("none", "null") and type(None) in self.args:
            return None
        for arg in self.members:
            try:
                return setting_type(arg).parse(text, key)
            except ConfigError:
                pass
        raise ConfigError(f"{key}: cannot read {text!r} as any of {_type_names(self.members)}")


@dataclass(frozen=True)
class _Other:
    """Any other type: passed through unchecked from code, not settable from the command line."""

    kind: Any

    def check(self, value, key: str):
        return value

    def parse(self, text: str, key: str):
        raise ConfigError(f"{key}: settings of type {self.kind} cannot be set from the command line")
