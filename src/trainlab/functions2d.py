"""Small 2-D test functions for optimizers, and their gradients.

Each function takes a point ``v`` whose first axis holds (x, y): a pair, or
two stacked grids (``np.stack([X, Y])``) to evaluate a whole contour plot at
once. Each gradient takes a pair and returns the pair (df/dx, df/dy).

- :func:`valley`: f(x, y) = x^2/20 + y^2, the book's anisotropic bowl
  (steep in y, flat in x), minimum at the origin;
- :func:`bowl`: f(x, y) = x^2 + y^2, an isotropic bowl (the same curvature
  in every direction), minimum at the origin;
- :func:`saddle`: f(x, y) = x^2 - y^2, a saddle point at the origin;
- :func:`double_well`: f(x, y) = x^4/4 - x^2 + 0.3 x + y^2, a local minimum
  near x = 1.33 and the global one near x = -1.49.

Reference: Saito, *Deep Learning from Scratch*, sec. 6.1.7 (ch06/optimizer_compare_naive.py).
"""

from __future__ import annotations

import numpy as np


def valley(v):
    return v[0] ** 2 / 20 + v[1] ** 2


def valley_grad(v):
    return np.array([v[0] / 10, 2 * v[1]])


def bowl(v):
    return v[0] ** 2 + v[1] ** 2


def bowl_grad(v):
    return np.array([2 * v[0], 2 * v[1]])


def saddle(v):
    return v[0] ** 2 - v[1] ** 2


def saddle_grad(v):
    return np.array([2 * v[0], -2 * v[1]])


def double_well(v):
    return v[0] ** 4 / 4 - v[0] ** 2 + 0.3 * v[0] + v[1] ** 2


def double_well_grad(v):
    return np.array([v[0] ** 3 - 2 * v[0] + 0.3, 2 * v[1]])
