"""Weight initialisers by name: zeros, normal(std), Xavier/Glorot, He/Kaiming, LeCun.

Two families share names in the literature, so trainlab spells both out:

- The book's conventions (Saito, *Deep Learning from Scratch*, sec. 6.2):
  ``'xavier'`` draws N(0, 1/n) and ``'he'`` draws N(0, 2/n), with n the number
  of inputs of a node (fan-in). ``'sigmoid'`` and ``'relu'`` are the book's
  aliases for them.
- The papers' forms: ``'xavier-normal'`` N(0, 2/(fan_in+fan_out)) and
  ``'xavier-uniform'`` U(+-sqrt(6/(fan_in+fan_out))) (Glorot & Bengio, 2010);
  ``'he-normal'`` N(0, 2/fan_in) and ``'he-uniform'`` U(+-sqrt(6/fan_in))
  (He et al., 2015); ``'lecun-normal'`` N(0, 1/fan_in) and ``'lecun-uniform'``
  U(+-sqrt(3/fan_in)) (LeCun et al., 1998).

A number is read as the standard deviation of a zero-mean normal (the book's
``weight_init_std=0.01``). ``'zeros'`` exists to show why it fails: every
node of a layer then receives the same gradient and they never differ.

For a Linear weight of shape (in, out), fan_in = in and fan_out = out; for a
convolution weight (FN, C, FH, FW), fan_in = C*FH*FW and fan_out = FN*FH*FW.
"""

from __future__ import annotations

import math
from typing import Callable, Union

import numpy as np

from trainlab.errors import ConfigError
from trainlab.registry import Registry

InitSpec = Union[str, float, int]
#: (shape, fan_in, fan_out, rng) -> float64 array
Initialiser = Callable[[tuple, int, int, np.random.Generator], np.ndarray]

INITIALISERS: Registry[Initialiser] = Registry("initialiser")


def _normal(std_of: Callable[[int, int], float]) -> Initialiser:
    def draw(shape, fan_in, fan_out, rng):
        return rng.standard_normal(shape) * std_of(fan_in, fan_out)

    return draw


def _uniform(bound_of: Callable[[int, int], float]) -> Initialiser:
    def draw(shape, fan_in, fan_out, rng):
        bound = bound_of(fan_in, fan_out)
        return rng.uniform(-bound, bound, size=shape)

    return draw


INITIALISERS.add("zeros", lambda shape, fan_in, fan_out, rng: np.zeros(shape))
INITIALISERS.add("xavier", _normal(lambda fi, fo: math.sqrt(1.0 / fi)), aliases=("sigmoid", "tanh"))
INITIALISERS.add("he", _normal(lambda fi, fo: math.sqrt(2.0 / fi)), aliases=("relu", "kaiming"))
INITIALISERS.add("xavier-normal", _normal(lambda fi, fo: math.sqrt(2.0 / (fi + fo))), aliases=("glorot-normal",))
INITIALISERS.add("xavier-uniform", _uniform(lambda fi, fo: math.sqrt(6.0 / (fi + fo))), aliases=("glorot-uniform",))
INITIALISERS.add("he-normal", _normal(lambda fi, fo: math.sqrt(2.0 / fi)), aliases=("kaiming-normal",))
INITIALISERS.add("he-uniform", _uniform(lambda fi, fo: math.sqrt(6.0 / fi)), aliases=("kaiming-uniform",))
INITIALISERS.add("lecun-normal", _normal(lambda fi, fo: math.sqrt(1.0 / fi)))
INITIALISERS.add("lecun-uniform", _uniform(lambda fi, fo: math.sqrt(3.0 / fi)))


def init_std(spec: InitSpec, fan_in: int, fan_out: int) -> float:
    """Standard deviation that ``spec`` gives a weight with these fans (for plots and tests)."""
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return float(spec)
    name = INITIALISERS.canonical(spec)
    stds = {
        "zeros": 0.0,
        "xavier": math.sqrt(1.0 / fan_in),
        "he": math.sqrt(2.0 / fan_in),
        "xavier-normal": math.sqrt(2.0 / (fan_in + fan_out)),
        "xavier-uniform": math.sqrt(2.0 / (fan_in + fan_out)),
        "he-normal": math.sqrt(2.0 / fan_in),
        "he-uniform": math.sqrt(2.0 / fan_in),
        "lecun-normal": math.sqrt(1.0 / fan_in),
        "lecun-uniform": math.sqrt(1.0 / fan_in),
    }
    return stds[name]


def check_init_spec(spec: InitSpec) -> InitSpec:
    """Validate an initialiser spec early (at layer construction); return it unchanged."""
    if isinstance(spec, bool):
        raise ConfigError(f"weight_init must be a name or a standard deviation, got {spec!r}")
    if isinstance(spec, (int, float)):
        if not math.isfinite(spec) or spec < 0:
            raise ConfigError(f"weight_init standard deviation must be finite and >= 0, got {spec!r}")
        return spec
    INITIALISERS.canonical(spec)  # raises UnknownNameError listing the valid names
    return spec


def initialise(spec: InitSpec, shape: tuple[int, ...], *, fan_in: int, fan_out: int,
               rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """Draw an array of ``shape`` with the initialiser ``spec``.

    Parameters
    ----------
    spec : str or float
        A registered name (see module docstring) or a standard deviation.
    shape : tuple of int
    fan_in, fan_out : int
        Inputs and outputs of one node, used by the scaled initialisers.
    rng : numpy.random.Generator
        The only source of randomness.
    dtype : floating dtype, default float32

    Returns
    -------
    ndarray of ``shape`` and ``dtype``
    """
    check_init_spec(spec)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if fan_in <= 0 or fan_out <= 0:
        raise ConfigError(f"fan_in and fan_out must be positive, got {fan_in} and {fan_out}")
    if isinstance(spec, (int, float)):
        values = rng.standard_normal(shape) * float(spec)
    else:
        values = INITIALISERS.get(spec)(tuple(shape), fan_in, fan_out, rng)
    return values.astype(dtype, copy=False)
