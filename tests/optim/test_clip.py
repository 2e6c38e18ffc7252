"""clip_grad_norm: returns the norm before clipping and scales the gradients in place."""

from __future__ import annotations

import numpy as np
import pytest

from trainlab.errors import ConfigError, NonFiniteError
from trainlab.layers.base import Parameter
from trainlab.optim import clip_grad_norm, global_norm


def with_grads(*grads):
    params = []
    for g in grads:
        p = Parameter(np.zeros_like(g))
        p.grad = g
        params.append(p)
    return params


def test_scales_to_max_norm_and_returns_the_old_norm():
    params = with_grads(np.array([3.0, 0.0]), np.array([[0.0, 4.0]]))
    total = clip_grad_norm(params, 1.0)
    assert total == pytest.approx(5.0)
    assert global_norm(p.grad for p in params) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(params[0].grad, [3.0 / (5.0 + 1e-6), 0.0])


def test_small_gradients_are_left_alone():
    g = np.array([0.3, 0.4])
    params = with_grads(g)
    assert clip_grad_norm(params, 1.0) == pytest.approx(0.5)
    assert params[0].grad is g
    np.testing.assert_array_equal(g, [0.3, 0.4])


def test_skips_missing_grads_and_accepts_dicts_and_single_parameters():
    a, b = with_grads(np.array([6.0, 8.0]), np.array([1.0]))
    b.grad = None
    assert clip_grad_norm({"a": a, "b": b}, 5.0) == pytest.approx(10.0)
    assert clip_grad_norm(a, 1.0) == pytest.approx(5.0, rel=1e-6)


def test_float32_stays_float32():
    (p,) = with_grads(np.full(10, 3.0, dtype=np.float32))
    clip_grad_norm([p], 1.0)
    assert p.grad.dtype == np.float32
    assert np.linalg.norm(p.grad) == pytest.approx(1.0, rel=1e-5)


def test_nonfinite_norm():
    params = with_grads(np.array([np.inf, 1.0]))
    with pytest.raises(NonFiniteError):
        clip_grad_norm(params, 1.0, error_if_nonfinite=True)
    with np.errstate(invalid="ignore"):          # inf * 0 -> NaN, as in PyTorch
        assert clip_grad_norm(params, 1.0) == np.inf


@pytest.mark.parametrize("max_norm", [0.0, -1.0, float("nan")])
def test_bad_max_norm(max_norm):
    with pytest.raises(ConfigError, match="max_norm"):
        clip_grad_norm(with_grads(np.ones(2)), max_norm)
