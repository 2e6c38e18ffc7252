"""Gradient clipping by the global norm over a list of parameters.

Reference: Pascanu, Mikolov and Bengio, "On the difficulty of training
recurrent neural networks" (2013); the same rule as PyTorch's
``torch.nn.utils.clip_grad_norm_``.
"""

from __future__ import annotations

import math
from typing import Iterable

from trainlab.backend import get_array_module
from trainlab.errors import NonFiniteError
from trainlab.validation import check_real

#: Added to the norm before dividing, as PyTorch does, so a zero gradient stays finite.
CLIP_EPS = 1e-6


def global_norm(grads: Iterable) -> float:
    """Euclidean norm of all arrays in ``grads`` taken together (None entries are skipped)."""
    total = 0.0
    for g in grads:
        if g is None:
            continue
        xp = get_array_module(g)
        flat = g.reshape(-1)
        # a dot product reads the array once and allocates nothing, unlike sum(g * g)
        total += float(xp.dot(flat, flat))
    return math.sqrt(total)


def clip_coefficient(total_norm: float, max_norm: float) -> float:
    """The factor ``min(1, max_norm / (total_norm + 1e-6))`` that brings a norm down to ``max_norm``."""
    coef = max_norm / (total_norm + CLIP_EPS)
    # NaN compares False, so a non-finite norm gives coef (NaN or 0) exactly as PyTorch would
    return 1.0 if coef >= 1.0 else coef


def _parameters(params) -> list:
    if hasattr(params, "named_parameters"):
        return [p for _, p in params.named_parameters()]
    if isinstance(params, dict):
        return list(params.values())
    if hasattr(params, "grad"):
        return [params]
    return list(params)


def clip_grad_norm(params, max_norm: float, *, error_if_nonfinite: bool = False) -> float:
    """Scale the gradients of ``params`` in place so that their global norm is at most ``max_norm``.

    Parameters
    ----------
    params : iterable of Parameter, dict of Parameter, a layer, or one Parameter
        Parameters whose ``.grad`` is None are ignored.
    max_norm : float
        Largest allowed global norm (> 0).
    error_if_nonfinite : bool
        Raise NonFiniteError when the norm is NaN or infinite instead of scaling.

    Returns
    -------
    float
        The global norm *before* clipping (as ``torch.nn.utils.clip_grad_norm_``).

    Notes
    -----
    Rule: ``n = sqrt(sum_i ||g_i||^2)``; if ``n > max_norm`` every ``g_i`` is
    multiplied by ``max_norm / (n + 1e-6)``. Unlike an optimizer's ``clip_norm``
    option, this function *does* modify ``.grad``.
    """
    max_norm = check_real("clip_grad_norm", "max_norm", max_norm, low=0.0, low_open=True)
    plist = [p for p in _parameters(params) if p.grad is not None]
    total = global_norm(p.grad for p in plist)
    if not math.isfinite(total) and error_if_nonfinite:
        raise NonFiniteError(f"clip_grad_norm: the global gradient norm is {total}; "
                             "a gradient contains NaN or infinity")
    coef = clip_coefficient(total, max_norm)
    if coef != 1.0:
        for p in plist:
            g = p.grad
            xp = get_array_module(g)
            xp.multiply(g, coef, g)
    return total
