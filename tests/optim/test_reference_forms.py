"""The book's and Keras's forms against their published formulas, written out here as plain loops.

Each reference below is the formula as the book or Keras states it, with
fresh arrays every step: nothing is shared with the implementation, whose
in-place array code must agree to rounding error (float64).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from trainlab.layers.base import Parameter
from trainlab.optim import SGD, Momentum, StepDecay, create_optimizer

STEPS = 100


def grad_fn(w: np.ndarray) -> np.ndarray:
    """Gradient of a separable non-convex function: sum(log cosh(3w)/6 + w^4/20 - 0.3w)."""
    return 0.5 * np.tanh(3.0 * w) + 0.2 * w ** 3 - 0.3


def initial() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {"A": rng.normal(size=(3, 2)), "v": rng.normal(size=(4,))}


def run_ours(name_or_factory, **hyper) -> dict[str, np.ndarray]:
    params = {k: Parameter(v.copy()) for k, v in initial().items()}
    if callable(name_or_factory):
        opt = name_or_factory(params, **hyper)
    else:
        opt = create_optimizer(name_or_factory, params, **hyper)
    for _ in range(STEPS):
        for p in params.values():
            p.grad = grad_fn(p.data)
        opt.step()
    return {k: p.data for k, p in params.items()}


def run_reference(update, make_state) -> dict[str, np.ndarray]:
    """``update(w, g, state, t) -> w`` applied for STEPS steps (t from 1) to each array."""
    out = {}
    for k, w in initial().items():
        state = make_state(w)
        for t in range(1, STEPS + 1):
            w = update(w, grad_fn(w), state, t)
        out[k] = w
    return out


def assert_same(ours, ref, rtol=1e-9):
    for k in ref:
        np.testing.assert_allclose(ours[k], ref[k], rtol=rtol, atol=1e-12, err_msg=k)
    assert any(np.max(np.abs(ref[k] - initial()[k])) > 1e-3 for k in ref), "reference did not move"


# ---- the book (Saito, Deep Learning from Scratch, ch. 6) ----------------------------

def book_momentum(lr, a):
    def update(w, g, s, t):
        s["v"] = a * s["v"] - lr * g
        return w + s["v"]
    return update


def book_nesterov(lr, a):
    # the book's formula: p + a^2 v - (1 + a) lr g with the velocity before this step, then v = a v - lr g
    def update(w, g, s, t):
        w = w + a * a * s["v"] - (1 + a) * lr * g
        s["v"] = a * s["v"] - lr * g
        return w
    return update


def book_adagrad(lr):
    def update(w, g, s, t):
        s["h"] = s["h"] + g * g
        return w - lr * g / (np.sqrt(s["h"]) + 1e-7)
    return update


def book_rmsprop(lr, decay_rate):
    def update(w, g, s, t):
        s["h"] = s["h"] * decay_rate + (1 - decay_rate) * g * g
        return w - lr * g / (np.sqrt(s["h"]) + 1e-7)
    return update


def book_adam(lr, b1, b2):
    def update(w, g, s, t):
        lr_t = lr * math.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t)
        s["m"] = s["m"] + (1 - b1) * (g - s["m"])
        s["v"] = s["v"] + (1 - b2) * (g ** 2 - s["v"])
        return w - lr_t * s["m"] / (np.sqrt(s["v"]) + 1e-7)
    return update


# ---- Keras 3 (keras/src/optimizers/*.py) ------------------------------------------------

def keras_sgd_nesterov(lr, mu):
    def update(w, g, s, t):
        s["m"] = mu * s["m"] - lr * g
        return w + mu * s["m"] - lr * g
    return update


def keras_adagrad(lr, eps):
    def update(w, g, s, t):
        s["acc"] = s["acc"] + g * g
        return w - lr * g / np.sqrt(s["acc"] + eps)
    return update


def keras_adam_amsgrad(lr, b1, b2, eps):
    def update(w, g, s, t):
        alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        s["m"] = s["m"] + (g - s["m"]) * (1 - b1)
        s["v"] = s["v"] + (g * g - s["v"]) * (1 - b2)
        s["vhat"] = np.maximum(s["vhat"], s["v"])
        return w - s["m"] * alpha / (np.sqrt(s["vhat"]) + eps)
    return update


def keras_adadelta(lr, rho, eps):
    def update(w, g, s, t):
        s["ag"] = rho * s["ag"] + (1 - rho) * g * g
        delta = -np.sqrt(s["adv"] + eps) * g / np.sqrt(s["ag"] + eps)
        s["adv"] = rho * s["adv"] + (1 - rho) * delta * delta
        return w + lr * delta
    return update


def keras_nadam(lr, b1, b2, eps):
    def update(w, g, s, t):
        s["u_product"] *= b1 * (1.0 - 0.5 * 0.96 ** t)          # product of u_1 .. u_t
        u_t = b1 * (1.0 - 0.5 * 0.96 ** t)
        u_t1 = b1 * (1.0 - 0.5 * 0.96 ** (t + 1))
        s["m"] = s["m"] + (g - s["m"]) * (1 - b1)
        s["v"] = s["v"] + (g * g - s["v"]) * (1 - b2)
        m_hat = u_t1 * s["m"] / (1 - s["u_product"] * u_t1) + (1 - u_t) * g / (1 - s["u_product"])
        v_hat = s["v"] / (1 - b2 ** t)
        return w - m_hat * lr / (np.sqrt(v_hat) + eps)
    return update


def keras_ftrl(lr, lr_power, l1, l2, l2_shrinkage, beta):
    # McMahan et al. (2013), Algorithm 1, per coordinate, with Keras's generalised power and its
    # 2*l2 (Keras's L2 is l2*||w||^2, the paper's 0.5*lambda2*||w||^2)
    def update(w, g, s, t):
        prev_n = s["n"]
        s["n"] = s["n"] + g * g
        sigma = (s["n"] ** -lr_power - prev_n ** -lr_power) / lr
        s["z"] = s["z"] + (g + 2 * l2_shrinkage * w) - sigma * w
        denom = (beta + s["n"] ** -lr_power) / lr + 2 * l2
        return np.where(np.abs(s["z"]) <= l1, 0.0, (np.sign(s["z"]) * l1 - s["z"]) / denom)
    return update


def zeros(*names):
    return lambda w: {n: np.zeros_like(w) for n in names}


CASES = [
    # (id, trainlab optimizer, its hyperparameters, reference update, reference state)
    ("book-momentum", "momentum", dict(lr=0.01, momentum=0.9), book_momentum(0.01, 0.9), zeros("v")),
    ("book-nesterov", "nesterov-book", dict(lr=0.01, momentum=0.9), book_nesterov(0.01, 0.9), zeros("v")),
    ("keras-nesterov", "nesterov-book", dict(lr=0.02, momentum=0.8), keras_sgd_nesterov(0.02, 0.8), zeros("m")),
    ("book-adagrad", "adagrad", dict(lr=0.1, eps=1e-7), book_adagrad(0.1), zeros("h")),
    ("keras-adagrad", "adagrad", dict(lr=0.1, eps=1e-7, eps_inside_sqrt=True, initial_accumulator_value=0.1),
     keras_adagrad(0.1, 1e-7), lambda w: {"acc": np.full_like(w, 0.1)}),
    ("book-rmsprop", "rmsprop", dict(lr=0.01, alpha=0.99, eps=1e-7), book_rmsprop(0.01, 0.99), zeros("h")),
    ("book-adam", "adam-keras", dict(lr=0.01), book_adam(0.01, 0.9, 0.999), zeros("m", "v")),
    ("keras-adam-amsgrad", "adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-7, amsgrad=True, eps_mode="hat"),
     keras_adam_amsgrad(0.01, 0.8, 0.99, 1e-7), zeros("m", "v", "vhat")),
    ("keras-adadelta", "adadelta-keras", dict(lr=1.0), keras_adadelta(1.0, 0.95, 1e-7), zeros("ag", "adv")),
    ("keras-nadam", "nadam-keras", dict(lr=0.01), keras_nadam(0.01, 0.9, 0.999, 1e-7),
     lambda w: {"u_product": 1.0, "m": np.zeros_like(w), "v": np.zeros_like(w)}),
    ("keras-ftrl", "ftrl", dict(lr=0.1), keras_ftrl(0.1, -0.5, 0.0, 0.0, 0.0, 0.0),
     lambda w: {"n": np.full_like(w, 0.1), "z": np.zeros_like(w)}),
    ("keras-ftrl-reg", "ftrl", dict(lr=0.2, learning_rate_power=-0.7, l1_regularization_strength=0.05,
                                   l2_regularization_strength=0.01, l2_shrinkage_regularization_strength=0.02,
                                   beta=0.5, initial_accumulator_value=0.3),
     keras_ftrl(0.2, -0.7, 0.05, 0.01, 0.02, 0.5), lambda w: {"n": np.full_like(w, 0.3), "z": np.zeros_like(w)}),
]


@pytest.mark.parametrize("name, hyper, update, make_state", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_matches_published_formula(name, hyper, update, make_state):
    assert_same(run_ours(name, **hyper), run_reference(update, make_state))


def test_ftrl_l1_gives_exact_zeros():
    out = run_ours("ftrl", lr=0.1, l1_regularization_strength=50.0)
    assert all(np.all(v == 0.0) for v in out.values())


def test_book_momentum_equals_torch_form_at_constant_lr():
    assert_same(run_ours(Momentum, lr=0.01, momentum=0.9), run_ours(SGD, lr=0.01, momentum=0.9), rtol=1e-10)


def test_book_momentum_differs_from_torch_form_when_lr_changes():
    sched = StepDecay(0.05, step_size=10, gamma=0.2)
    ours = run_ours(Momentum, lr=sched, momentum=0.9)
    torch_form = run_ours(SGD, lr=sched, momentum=0.9)
    assert max(np.max(np.abs(ours[k] - torch_form[k])) for k in ours) > 1e-4


def test_adam_eps_forms_differ_then_agree_for_tiny_eps():
    hat, corrected = run_ours("adam", lr=0.01, eps=1e-3, eps_mode="hat"), run_ours("adam", lr=0.01, eps=1e-3)
    assert max(np.max(np.abs(hat[k] - corrected[k])) for k in hat) > 1e-6
    hat, corrected = run_ours("adam", lr=0.01, eps=1e-14, eps_mode="hat"), run_ours("adam", lr=0.01, eps=1e-14)
    assert_same(hat, corrected, rtol=1e-8)

