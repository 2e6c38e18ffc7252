"""The two tables of kernels: the reference ones (registered by the layer files) and the fast ones."""

from __future__ import annotations

from typing import Callable

#: Kernel name -> the book's algorithm in plain NumPy, defined in the layer's own file.
REFERENCE: dict[str, Callable] = {}
#: Kernel name -> a faster function with the same signature and meaning (trainlab.kernels.*).
FAST: dict[str, Callable] = {}
#: (implementation, name) -> the function that runs: filled by trainlab.kernels.lookup, emptied on
#: every registration, so that each call costs one dictionary look-up.
RESOLVED: dict[tuple[str, str], Callable] = {}
#: Called with no arguments whenever a kernel is registered (the switch forgets what it resolved).
LISTENERS: list[Callable[[], None]] = []


def _changed() -> None:
    RESOLVED.clear()
    for listener in LISTENERS:
        listener()


def reference(fn: Callable) -> Callable:
    """Decorator: ``fn`` is the reference kernel of its name (the layers call it through the switch)."""
    REFERENCE[fn.__name__] = fn
    _changed()
    return fn


def fast(name: str) -> Callable[[Callable], Callable]:
    """Decorator: the decorated function is the fast kernel ``name`` (same signature as the reference)."""

    def register(fn: Callable) -> Callable:
        FAST[name] = fn
        _changed()
        return fn

    return register
