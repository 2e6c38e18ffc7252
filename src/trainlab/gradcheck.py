"""Numerical gradients by central differences, to check every backward pass.

``check_layer_gradients`` compares a layer's ``backward`` with
(f(v + h) - f(v - h)) / 2h for every entry of the input and of every
parameter, where f(x) = sum(forward(x) * R) for a fixed random R. Run it in
float64: in float32 the rounding error of the difference quotient is about
1e-3 and hides real bugs.

Reference: Saito, *Deep Learning from Scratch*, sec. 4.3 and 5.7.3 (gradient check).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from trainlab.layers.base import Layer


def numerical_gradient(f: Callable[[], float], v: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """d f / d v by central differences; ``v`` is changed in place and restored.

    Loops over entries on purpose: this is a test tool, and each entry needs
    two evaluations of ``f`` anyway.
    """
    grad = np.zeros(v.shape, dtype=np.float64)
    # Index v itself (not a reshaped copy): v may be a non-contiguous view.
    for idx in np.ndindex(v.shape):
        old = v[idx]
        v[idx] = old + h
        f_plus = f()
        v[idx] = old - h
        f_minus = f()
        v[idx] = old
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray, floor: float = 1e-3) -> float:
    """||a - b|| / max(||a|| + ||b||, floor): 0 for equal arrays, 1 for opposite ones.

    The floor makes gradients that are zero in exact arithmetic (a bias
    followed by BatchNorm, say) compare absolutely: their difference quotient
    is rounding noise of about 1e-10, not a relative error of 1.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), floor))


def check_layer_gradients(layer: Layer, x: np.ndarray, *, train: bool = True, seed: int = 0,
                          h: float = 1e-6) -> dict[str, float]:
    """Relative error between analytic and numerical gradients of ``layer`` at ``x``.

    Returns a dict with the key ``'input'`` and one key per parameter name.
    The layer and ``x`` should be float64.
    """
    rng = np.random.default_rng(seed)
    out = layer.forward(x, train=train)
    R = rng.standard_normal(out.shape)

    def f() -> float:
        return float((layer.forward(x, train=train) * R).sum())

    layer.forward(x, train=train)
    dx = layer.backward(R.astype(out.dtype))
    analytic = {name: np.array(p.grad, copy=True) for name, p in layer.named_parameters()}
    errors = {"input": relative_error(dx, numerical_gradient(f, x, h))}
    for name, p in layer.named_parameters():
        errors[name] = relative_error(analytic[name], numerical_gradient(f, p.data, h))
    return errors


def check_loss_gradient(loss, y: np.ndarray, t, h: float = 1e-6) -> float:
    """Relative error between ``loss.backward()`` and the numerical gradient w.r.t. the scores."""
    loss.forward(y, t)
    dy = loss.backward()
    return relative_error(dy, numerical_gradient(lambda: loss.forward(y, t), y, h))
