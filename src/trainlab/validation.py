"""Argument checks for the whole package; each raises ConfigError naming the owner, the argument and its range.

``owner`` is what the argument belongs to ("Adam", "Conv2d", "experiment optimizer-mnist"),
so the message reads ``Adam: lr=-1 is out of range; valid range: 0 <= lr``. Every
layer, optimizer, schedule, block, data generator and experiment checks its
arguments with these few functions (one style of message everywhere).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Mapping

import numpy as np

from trainlab.errors import ConfigError


def is_number(value) -> bool:
    """True for real numbers (Python or NumPy scalars), False for bools and everything else."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_real(owner: str, name: str, value, *, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False) -> float:
    """Return ``float(value)`` if it is a finite number in the given range, else raise ConfigError.

    ``low``/``high`` are the bounds (None: unbounded); ``*_open`` excludes the bound itself.
    """
    lo_sign = "<" if low_open else "<="
    hi_sign = "<" if high_open else "<="
    parts = []
    if low is not None:
        parts.append(f"{low:g} {lo_sign} ")
    parts.append(name)
    if high is not None:
        parts.append(f" {hi_sign} {high:g}")
    valid = "".join(parts) if (low is not None or high is not None) else f"{name} finite"
    if not is_number(value):
        raise ConfigError(f"{owner}: {name} must be a number ({valid}), got {value!r}")
    x = float(value)
    ok = math.isfinite(x)
    if ok and low is not None:
        ok = x > low if low_open else x >= low
    if ok and high is not None:
        ok = x < high if high_open else x <= high
    if not ok:
        raise ConfigError(f"{owner}: {name}={value!r} is out of range; valid range: {valid}")
    return x


def check_int(owner: str, name: str, value, *, low: int = 0) -> int:
    """Return ``int(value)`` if it is an integer >= ``low``, else raise ConfigError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{owner}: {name} must be an integer >= {low}, got {value!r}")
    if value < low:
        raise ConfigError(f"{owner}: {name}={value!r} is out of range; valid range: {name} >= {low}")
    return int(value)


def check_positive(owner: str, **values) -> None:
    """Check that every keyword value is an integer >= 1 (``check_positive("Conv2d", in_channels=3)``)."""
    for name, value in values.items():
        check_int(owner, name, value, low=1)


def check_bool(owner: str, name: str, value) -> bool:
    """Return ``value`` if it is a bool (NumPy bools included), else raise ConfigError."""
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{owner}: {name} must be True or False, got {value!r}")
    return bool(value)


def check_choice(owner: str, name: str, value, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ConfigError listing them."""
    if value not in choices:
        raise ConfigError(f"{owner}: {name}={value!r} is not valid; choose one of {', '.join(map(repr, choices))}")
    return value


def check_betas(owner: str, name: str, value) -> tuple[float, float]:
    """Return ``(beta1, beta2)`` as floats with ``0 <= beta < 1``, else raise ConfigError."""
    try:
        pair = tuple(value)
    except TypeError:
        raise ConfigError(f"{owner}: {name} must be a pair (beta1, beta2), got {value!r}") from None
    if len(pair) != 2:
        raise ConfigError(f"{owner}: {name} must be a pair (beta1, beta2), got {value!r}")
    return (check_real(owner, f"{name}[0]", pair[0], low=0.0, high=1.0, high_open=True),
            check_real(owner, f"{name}[1]", pair[1], low=0.0, high=1.0, high_open=True))


def reject_moved(owner: str, given: Mapping[str, Any], moved: Mapping[str, str]) -> None:
    """Refuse keyword arguments that ``owner`` no longer takes.

    ``given`` holds the call's extra keywords; a name in ``moved`` raises
    ConfigError saying where the setting went (``moved[name]``); any other
    name raises TypeError, as Python does for an unexpected keyword.
    """
    for name in given:
        if name in moved:
            raise ConfigError(f"{owner}: {name}= is no longer accepted here; {moved[name]}")
    if given:
        raise TypeError(f"{owner}() got an unexpected keyword argument {next(iter(given))!r}")
