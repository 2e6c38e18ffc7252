"""argparse ``type=`` converters shared by trainlab's commands, thin wrappers over :mod:`trainlab.validation`.

They live apart from the commands so that a command module never imports
another one (``trainlab.cli`` builds the parser from ``trainlab.search.cli``
and ``trainlab.data.cli``). Each converter parses the text, checks the value
with :mod:`trainlab.validation`, and turns a failure into
``argparse.ArgumentTypeError`` (argparse's usage message). NumPy, which the
checks import, is loaded only when a value is converted: the command line
sets BLAS's thread variables before that.
"""

from __future__ import annotations

import argparse
from typing import Callable, TypeVar

T = TypeVar("T")


def _convert(text: str, expected: str, check: Callable[[str], T]) -> T:
    try:
        return check(text)
    except ValueError:  # the text does not parse, or ConfigError (a ValueError) from the check
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None


def positive_int(text: str) -> int:
    """An integer >= 1."""
    from trainlab.validation import check_int

    return _convert(text, "a positive integer", lambda s: check_int("option", "value", int(s), low=1))


def positive_float(text: str) -> float:
    """A finite number > 0."""
    from trainlab.validation import check_real

    return _convert(text, "a positive number",
                    lambda s: check_real("option", "value", float(s), low=0.0, low_open=True))


def nonnegative_float(text: str) -> float:
    """A finite number >= 0."""
    from trainlab.validation import check_real

    return _convert(text, "a number >= 0", lambda s: check_real("option", "value", float(s), low=0.0))


def fraction(text: str) -> float:
    """A number in [0, 1)."""
    from trainlab.validation import check_real

    return _convert(text, "a number in [0, 1)",
                    lambda s: check_real("option", "value", float(s), low=0.0, high=1.0, high_open=True))


def sizes(text: str) -> list[int]:
    """Comma-separated positive integers (``"100,100"``); empty parts are skipped."""
    from trainlab.validation import check_int

    def check(s: str) -> list[int]:
        return [check_int("option", "size", int(part), low=1) for part in s.split(",") if part.strip()]

    return _convert(text, "comma-separated positive layer sizes like 100,100", check)
