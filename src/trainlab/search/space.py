"""Search spaces declared as a small dict or JSON file, checked before any trial runs.

A space maps each hyperparameter to either a range or a list of choices::

    {"lr":           {"low": 1e-6, "high": 1e-2, "log": true},
     "weight_decay": {"low": 1e-8, "high": 1e-4, "log": true},
     "hidden":       {"choices": [50, 100]},
     "layers":       {"low": 2, "high": 6, "type": "int"}}

Keys of an entry: ``low`` and ``high`` (inclusive), ``log`` (sample the
logarithm uniformly; both bounds must be positive), ``step`` (a grid, not
with ``log``), ``type`` ('float' or 'int'; taken from the objective when it
knows the parameter, otherwise inferred from the bounds), or ``choices``
alone. ``log: true`` over ``[low, high]`` is exactly the book's
``10 ** uniform(log10(low), log10(high))``.

Optuna is imported only when a space is turned into distributions, so a
space can be checked without it.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from trainlab.errors import ConfigError

#: The book's space (sec. 6.5.3): both searched on a log scale.
BOOK_SPACE: dict[str, dict[str, Any]] = {
    "lr": {"low": 1e-6, "high": 1e-2, "log": True},
    "weight_decay": {"low": 1e-8, "high": 1e-4, "log": True},
}

_ENTRY_KEYS = {"low", "high", "log", "step", "type", "choices"}
_TYPES = ("float", "int", "str", "any")


@dataclass(frozen=True)
class ParamInfo:
    """What an objective accepts for one hyperparameter.

    ``type`` is 'float', 'int' or 'str'; ``minimum``/``maximum`` bound every
    value (``exclusive_min`` makes the minimum itself invalid); ``names`` lists
    the valid strings of a 'str' parameter; ``field`` is the objective's own
    name for it.
    """

    type: str
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    exclusive_min: bool = False
    exclusive_max: bool = False
    names: tuple[str, ...] = ()
    field: str | None = None

    def check_value(self, name: str, value: Any) -> None:
        if self.type == "str":
            if not isinstance(value, str):
                raise ConfigError(f"{name}: choices must be strings, got {value!r}")
            if self.names and value not in self.names:
                raise ConfigError(f"{name}: unknown choice {value!r}; valid: {', '.join(self.names)}")
            return
        _check_number(name, value, integer=self.type == "int")
        if self.minimum is not None and (value < self.minimum or (self.exclusive_min and value == self.minimum)):
            relation = ">" if self.exclusive_min else ">="
            raise ConfigError(f"{name}: values must be {relation} {self.minimum:g}, got {value!r}")
        if self.maximum is not None and (value > self.maximum or (self.exclusive_max and value == self.maximum)):
            relation = "<" if self.exclusive_max else "<="
            raise ConfigError(f"{name}: values must be {relation} {self.maximum:g}, got {value!r}")


def _check_number(name: str, value: Any, *, integer: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name}: expected a number, got {value!r} ({type(value).__name__})")
    if not math.isfinite(value):
        raise ConfigError(f"{name}: values must be finite, got {value!r}")
    if integer and not isinstance(value, int):
        raise ConfigError(f"{name}: an integer hyperparameter needs integer values, got {value!r}")


@dataclass(frozen=True)
class Param:
    """One dimension of a space: a range (``low``..``high``) or a list of ``choices``."""

    name: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple = ()

    @property
    def categorical(self) -> bool:
        return bool(self.choices)

    def to_dict(self) -> dict[str, Any]:
        if self.categorical:
            return {"choices": list(self.choices)}
        out: dict[str, Any] = {"low": self.low, "high": self.high, "type": self.type}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        return out

    def distribution(self):
        """The matching ``optuna.distributions`` object."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.categorical:
            return CategoricalDistribution(list(self.choices))
        if self.type == "int":
            return IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        return FloatDistribution(float(self.low), float(self.high), log=self.log, step=self.step)

    def suggest(self, trial) -> Any:
        """Draw this parameter for an Optuna trial."""
        if self.categorical:
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.type == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log,
                                     step=int(self.step or 1))
        return trial.suggest_float(self.name, float(self.low), float(self.high), log=self.log, step=self.step)


def _parse_param(name: str, entry: Any, info: ParamInfo | None) -> Param:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{name}: expected an object like {{\"low\": ..., \"high\": ...}} or "
                          f"{{\"choices\": [...]}}, got {entry!r}")
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        raise ConfigError(f"{name}: unknown key(s) {', '.join(sorted(unknown))}; "
                          f"valid: {', '.join(sorted(_ENTRY_KEYS))}")
    declared = entry.get("type")
    if declared is not None and declared not in _TYPES:
        raise ConfigError(f"{name}: type must be one of {', '.join(_TYPES)}, got {declared!r}")
    if info is not None and declared is not None and declared != info.type:
        raise ConfigError(f"{name}: is a {info.type} hyperparameter, not {declared}")

    if "choices" in entry:
        extra = set(entry) - {"choices", "type"}
        if extra:
            raise ConfigError(f"{name}: 'choices' cannot be combined with {', '.join(sorted(extra))}")
        choices = entry["choices"]
        if not isinstance(choices, (list, tuple)):
            raise ConfigError(f"{name}: choices must be a list, got {choices!r}")
        if not choices:
            raise ConfigError(f"{name}: choices is empty")
        if len(set(map(repr, choices))) != len(choices):
            raise ConfigError(f"{name}: choices repeat a value: {list(choices)}")
        kind = info.type if info is not None else (declared or _infer_choice_type(name, choices))
        for value in choices:
            if info is not None:
                info.check_value(name, value)
            elif kind in ("int", "float"):
                _check_number(name, value, integer=kind == "int")
            elif value is not None and not isinstance(value, (str, bool, int, float)):
                raise ConfigError(f"{name}: choices must be strings, numbers, booleans or null, got {value!r}")
        return Param(name, kind, choices=tuple(choices))

    for key in ("low", "high"):
        if key not in entry:
            raise ConfigError(f"{name}: needs 'low' and 'high' (or 'choices'); missing {key!r}")
    low, high, log, step = entry["low"], entry["high"], entry.get("log", False), entry.get("step")
    if not isinstance(log, bool):
        raise ConfigError(f"{name}: log must be true or false, got {log!r}")
    kind = info.type if info is not None else (declared or _infer_range_type(low, high))
    if kind not in ("int", "float"):
        raise ConfigError(f"{name}: a {kind} hyperparameter takes 'choices', not a range")
    for key, value in (("low", low), ("high", high)):
        _check_number(f"{name}.{key}", value, integer=kind == "int")
    if low > high:
        raise ConfigError(f"{name}: low ({low!r}) is greater than high ({high!r})")
    if log and low <= 0:
        raise ConfigError(f"{name}: a log scale needs positive bounds, got low={low!r}")
    if step is not None:
        _check_number(f"{name}.step", step, integer=kind == "int")
        if step <= 0:
            raise ConfigError(f"{name}: step must be positive, got {step!r}")
        if log:
            raise ConfigError(f"{name}: 'step' and 'log' cannot be combined")
    if info is not None:
        info.check_value(name, low)
        info.check_value(name, high)
    return Param(name, kind, low=low, high=high, log=log, step=step)


def _infer_choice_type(name: str, choices: Iterable) -> str:
    values = list(choices)
    if all(isinstance(v, str) for v in values):
        return "str"
    numbers = [isinstance(v, (int, float)) and not isinstance(v, bool) for v in values]
    if all(numbers):
        return "int" if all(isinstance(v, int) for v in values) else "float"
    return "any"


def _infer_range_type(low: Any, high: Any) -> str:
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high))
    return "int" if ints else "float"


class SearchSpace:
    """An ordered set of :class:`Param`, validated against what the objective understands.

    Parameters
    ----------
    spec : mapping name -> entry
        See the module docstring for the entry format.
    known : mapping name -> ParamInfo, optional
        The hyperparameters the objective understands; any other name is an
        error. ``None`` accepts every name (a custom objective).
    """

    def __init__(self, spec: Mapping[str, Any], known: Mapping[str, ParamInfo] | None = None) -> None:
        if not isinstance(spec, Mapping):
            raise ConfigError(f"a search space is an object of name -> range, got {type(spec).__name__}")
        if not spec:
            raise ConfigError("the search space is empty")
        params = []
        for name, entry in spec.items():
            if not isinstance(name, str) or not name:
                raise ConfigError(f"parameter names must be non-empty strings, got {name!r}")
            if known is not None and name not in known:
                raise ConfigError(f"unknown hyperparameter {name!r}; the objective understands: "
                                  f"{', '.join(known)}")
            params.append(_parse_param(name, entry, None if known is None else known[name]))
        self.params: tuple[Param, ...] = tuple(params)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def __getitem__(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def __len__(self) -> int:
        return len(self.params)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """The normalised spec (types made explicit); ``SearchSpace(space.to_dict())`` round-trips."""
        return {p.name: p.to_dict() for p in self.params}

    def distributions(self) -> dict[str, Any]:
        """``{name: optuna distribution}``, e.g. for ``study.ask(space.distributions())``."""
        return {p.name: p.distribution() for p in self.params}

    def suggest(self, trial) -> dict[str, Any]:
        """Draw every parameter for an Optuna trial; returns ``{name: value}``."""
        return {p.name: p.suggest(trial) for p in self.params}

    def __repr__(self) -> str:
        return f"SearchSpace({json.dumps(self.to_dict())})"


def load_space(source: str | os.PathLike | Mapping[str, Any],
               known: Mapping[str, ParamInfo] | None = None) -> SearchSpace:
    """A :class:`SearchSpace` from a dict, a JSON file, or a JSON text starting with '{'."""
    if isinstance(source, SearchSpace):
        return SearchSpace(source.to_dict(), known)
    if isinstance(source, Mapping):
        return SearchSpace(source, known)
    text = str(source)
    if text.lstrip().startswith("{"):
        where = "the space given inline"
    else:
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"{path}: no such search-space file")
        where, text = str(path), path.read_text(encoding="utf-8")
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{where}: not valid JSON ({e})") from None
    return SearchSpace(spec, known)
