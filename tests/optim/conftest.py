"""Shared pieces of the optimizer tests: a Parameter factory and two classic objectives."""

from __future__ import annotations

import numpy as np
import pytest

from trainlab.layers.base import Parameter


def _rosenbrock(w: np.ndarray) -> tuple[float, np.ndarray]:
    x, y = w
    loss = (1 - x) ** 2 + 100 * (y - x * x) ** 2
    grad = np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)], dtype=w.dtype)
    return float(loss), grad


def _parabola(w: np.ndarray) -> tuple[float, np.ndarray]:
    # an ill-conditioned bowl centred at (1, -2, 0.5, 3): curvature 1 to 10
    target = np.array([[1.0, -2.0], [0.5, 3.0]], dtype=w.dtype)
    scale = np.array([[1.0, 10.0], [3.0, 0.5]], dtype=w.dtype)
    d = w - target
    return float(0.5 * np.sum(scale * d * d)), scale * d


@pytest.fixture
def rosenbrock():
    """``f(w) -> (loss, grad)`` for Rosenbrock's function of ``w = (x, y)``, minimum at (1, 1)."""
    return _rosenbrock


@pytest.fixture
def parabola():
    """``f(w) -> (loss, grad)`` for a 2x2 quadratic with minimum at [[1, -2], [0.5, 3]]."""
    return _parabola


@pytest.fixture
def make_params():
    """Build named float64 Parameters ``{"W": (4, 3), "b": (3,), "c": (2,)}`` from a seed."""

    def make(seed: int = 0, dtype=np.float64, decay: bool | None = None) -> dict[str, Parameter]:
        rng = np.random.default_rng(seed)
        shapes = {"W": (4, 3), "b": (3,), "c": (2,)}
        return {k: Parameter(rng.normal(size=s).astype(dtype), decay=decay) for k, s in shapes.items()}

    return make
