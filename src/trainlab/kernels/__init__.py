"""The kernel wing: how fast. The layers say *what* they compute; this package says how quickly.

Every layer file defines its algorithm as plain functions in the book's form
(``conv2d_forward(x, W, b, stride, padding, *, train) -> (out, cache)`` and
``conv2d_backward(dout, cache, *, input_grad) -> (dx, dW, db)`` in
:mod:`trainlab.layers.conv`, and so on) and registers them with
:func:`~trainlab.kernels.registry.reference`. The layer classes call them
through this module, ``kernels.conv2d_forward(...)``, and one switch decides
which implementation runs:

- ``"reference"``: the layer file's own functions, exactly as a learner reads
  them (the float64 gradient checks test these);
- ``"fast"`` (the default): the functions of this package where it has one
  (row blocks, thread parts, (C, H, W, N) storage, scratch buffers, the fused
  bias row, eval chunks), the reference elsewhere.

A fast kernel takes the same arguments and returns the same values (to float
rounding) as its reference; ``tests/kernels/test_parity.py`` runs every layer,
block and model both ways and compares outputs and every gradient. A cache
returned by one implementation is only understood by the same implementation's
backward: switch between training steps, not inside one.

To add a fast kernel: write it in a module of this package, decorate it with
``@registry.fast("<name of the reference>")``, import the module in
:mod:`trainlab.kernels.fast`, and add its layer to the parity test. The layer
file does not change.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import threading
from typing import Callable, Iterator

from trainlab.errors import ConfigError
from trainlab.kernels.registry import FAST, LISTENERS, REFERENCE, RESOLVED

#: The implementations one can choose with :func:`use`.
CHOICES = ("reference", "fast")

_lock = threading.RLock()
_choice = "fast"
_fast_loaded = False
#: Kernels bound as attributes of this module for the current choice, so that ``kernels.name`` is a
#: plain attribute look-up after the first call; forgotten when the choice or the tables change.
_bound: set[str] = set()


def _forget() -> None:
    namespace = globals()
    for name in list(_bound):
        namespace.pop(name, None)
    _bound.clear()


LISTENERS.append(_forget)


def use(name: str) -> None:
    """Run the layers on ``"reference"`` or ``"fast"`` kernels from now on."""
    global _choice
    if name not in CHOICES:
        raise ConfigError(f"unknown kernel implementation {name!r}; choose one of {', '.join(CHOICES)}")
    if name != _choice:
        _forget()
    _choice = name


def current() -> str:
    """The implementation the layers run on now: ``"reference"`` or ``"fast"``."""
    return _choice


@contextlib.contextmanager
def using(name: str) -> Iterator[None]:
    """``with kernels.using("reference"): ...`` runs the block on one implementation, then restores the other."""
    previous = current()
    use(name)
    try:
        yield
    finally:
        use(previous)


def _load_fast() -> None:
    global _fast_loaded
    with _lock:
        if not _fast_loaded:
            import trainlab.kernels.fast  # noqa: F401 (registers the fast kernels)

            _fast_loaded = True


def lookup(name: str, implementation: str | None = None) -> Callable:
    """The function that runs kernel ``name`` under ``implementation`` (default: the current one)."""
    implementation = _choice if implementation is None else implementation
    fn = RESOLVED.get((implementation, name))
    if fn is None:
        fn = RESOLVED[(implementation, name)] = _resolve(name, implementation)
    return fn


def _resolve(name: str, implementation: str) -> Callable:
    if implementation == "fast":
        _load_fast()
        if name in FAST:
            return FAST[name]
    elif implementation != "reference":
        raise ConfigError(f"unknown kernel implementation {implementation!r}; choose one of {', '.join(CHOICES)}")
    if name not in REFERENCE:
        known = ", ".join(sorted(REFERENCE)) or "none (import trainlab.layers first)"
        raise AttributeError(f"no kernel named {name!r}; known kernels: {known}")
    return REFERENCE[name]


def __getattr__(name: str):
    # ``kernels.conv2d_forward(...)``: the kernel of that name under the current choice, bound as an
    # attribute of this module after the first call. Submodules (``from trainlab.kernels import threads``)
    # are imported, not looked up.
    if name in REFERENCE or name in FAST:
        fn = lookup(name)
        with _lock:
            globals()[name] = fn
            _bound.add(name)
        return fn
    if name.startswith("__"):
        raise AttributeError(name)
    if importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")
    return lookup(name)
