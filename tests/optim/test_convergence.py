"""Every registered optimizer reaches the minimum of a parabola and of Rosenbrock's function.

The learning rates and step counts are tuned per optimizer (the table); the
point is that each rule, with a sensible rate, is a working optimizer.
"""

from __future__ import annotations

import numpy as np
import pytest

from trainlab.layers.base import Parameter
from trainlab.optim import OPTIMIZERS, create_optimizer

# name: (lr, steps) on the 2x2 parabola from zeros, and on Rosenbrock from (-1.2, 1)
PARABOLA = {
    "sgd": (0.1, 300), "sgd-momentum": (0.03, 300), "nesterov": (0.03, 300), "momentum": (0.03, 300),
    "nesterov-book": (0.03, 300), "adagrad": (0.3, 500), "rmsprop": (0.03, 500), "adadelta": (1.0, 2000),
    "adadelta-keras": (3.0, 2000), "adam": (0.1, 500), "adam-keras": (0.1, 500), "amsgrad": (0.1, 500),
    "adamw": (0.1, 500), "adamax": (0.3, 300), "nadam": (0.1, 300), "nadam-keras": (0.1, 300),
    "ftrl": (1.0, 300),
}
ROSENBROCK = {
    "sgd": (0.001, 15000), "sgd-momentum": (0.001, 2000), "nesterov": (0.001, 2000), "momentum": (0.001, 2000),
    "nesterov-book": (0.001, 2000), "adagrad": (1.0, 8000), "rmsprop": (0.003, 8000), "adadelta": (0.03, 15000),
    "adadelta-keras": (0.1, 15000), "adam": (0.1, 2000), "adam-keras": (0.1, 2000), "amsgrad": (0.3, 2000),
    "adamw": (0.1, 2000), "adamax": (0.3, 4000), "nadam": (0.01, 8000), "nadam-keras": (0.03, 4000),
    "ftrl": (1.0, 8000),
}


def minimise(name: str, f, w0: np.ndarray, lr: float, steps: int) -> np.ndarray:
    # decay=False: AdamW's default weight decay would move the minimum
    p = Parameter(w0.astype(np.float64), decay=False)
    opt = create_optimizer(name, [p], lr=lr)
    for _ in range(steps):
        _, p.grad = f(p.data)
        opt.step()
    return p.data


def test_tables_cover_the_registry():
    assert set(PARABOLA) == set(OPTIMIZERS.names()) == set(ROSENBROCK)


@pytest.mark.parametrize("name", sorted(PARABOLA))
def test_converges_on_parabola(name, parabola):
    lr, steps = PARABOLA[name]
    w = minimise(name, parabola, np.zeros((2, 2)), lr, steps)
    np.testing.assert_allclose(w, [[1.0, -2.0], [0.5, 3.0]], atol=1e-3)


@pytest.mark.parametrize("name", sorted(ROSENBROCK))
def test_converges_on_rosenbrock(name, rosenbrock):
    lr, steps = ROSENBROCK[name]
    w = minimise(name, rosenbrock, np.array([-1.2, 1.0]), lr, steps)
    np.testing.assert_allclose(w, [1.0, 1.0], atol=2e-2)
    assert rosenbrock(w)[0] < 1e-2   # from 24.2 at the start
