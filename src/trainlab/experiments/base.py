"""What an experiment is: a config, a computation, claims checked on its numbers, a figure.

An experiment is split in four plain functions so that each can be used and
tested alone:

- ``run(config, seed) -> metrics``: computes numbers only (JSON values), no drawing;
- ``check(metrics, config) -> [Claim]``: the claims the book's figure is meant
  to show, each decided from the measured numbers (PASS/FAIL with evidence);
- ``book(metrics, config) -> [BookValue]``: the book's published numbers next to ours;
- ``plot(metrics, config, out_dir) -> [Path]``: figures drawn from the metrics
  alone (in :mod:`trainlab.plots`), so they can be redrawn without rerunning;
- optionally ``artifacts(metrics, config, out_dir) -> [Path]``: data products
  (a data set, a trained model) written next to the metrics, with or without figures.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from trainlab.errors import ConfigError
from trainlab.registry import Registry


@dataclass(frozen=True)
class Claim:
    """One statement a figure is meant to show, and whether this run shows it."""

    statement: str
    passed: bool
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        return {"statement": self.statement, "passed": bool(self.passed), "evidence": self.evidence}


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
    origin = typing.get_origin(kind)
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        args = typing.get_args(kind)
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return check_value(value, arg, key)
            except ConfigError:
                pass
        raise ConfigError(f"{key}: {value!r} is not one of {[getattr(a, '__name__', str(a)) for a in args]}")
    if origin in (tuple, list):
        if not isinstance(value, (tuple, list)):
            raise ConfigError(f"{key}: expected a sequence, got {value!r}")
        args = typing.get_args(kind)
        item = args[0] if args else None
        return tuple(check_value(v, item, key) for v in value) if item is not None else tuple(value)
    if kind is bool:
        if not isinstance(value, (bool,)):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    return value


def parse_value(text: str, kind, key: str = "value"):
    """Convert ``text`` to ``kind`` (int, float, bool, str, tuple[...] or a Union of them)."""
    origin = typing.get_origin(kind)
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if text.lower() in ("none", "null") and len(args) < len(typing.get_args(kind)):
            return None
        errors = []
        for arg in args:
            try:
                return parse_value(text, arg, key)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(f"{key}: cannot read {text!r} as any of {[getattr(a, '__name__', str(a)) for a in args]}")
    if origin in (tuple, list):
        args = typing.get_args(kind)
        item_type = args[0] if args else str
        parts = [p.strip() for p in text.strip("()[]").split(",") if p.strip()]
        return tuple(parse_value(p, item_type, key) for p in parts)
    if kind is bool:
        lowered = text.lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{key}: expected true or false, got {text!r}")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{key}: expected an integer, got {text!r}") from None
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"{key}: expected a number, got {text!r}") from None
    if kind is str:
        return text
    raise ConfigError(f"{key}: settings of type {kind} cannot be set from the command line")
