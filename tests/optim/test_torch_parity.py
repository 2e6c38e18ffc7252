"""Trajectory parity with torch.optim: the same objective, 100 steps, float64, to 1e-6.

One helper trains a few parameter tensors (a 2-D weight, a bias, a
Rosenbrock pair) with a trainlab optimizer and with its torch counterpart;
each case is one line of the table below. The hyperparameter names are the
same on both sides, so the same keyword arguments go to both.
"""

from __future__ import annotations

import numpy as np
import pytest

from trainlab.optim import CosineDecay, ExponentialDecay, StepDecay, clip_grad_norm, create_optimizer

torch = pytest.importorskip("torch")

STEPS = 100
X = np.random.default_rng(42).normal(size=(6, 4))
MIX = np.array([1.0, -0.5, 0.25])


def torch_loss(W, b, c):
    """A small non-quadratic objective: log-sum-exp over tanh units plus a scaled Rosenbrock term."""
    x = torch.as_tensor(X)
    h = torch.tanh(x @ W + b)                                   # (6, 3)
    data = torch.logsumexp(3.0 * h, dim=1).mean() - (h @ torch.as_tensor(MIX)).mean()
    return data + 0.1 * ((1 - c[0]) ** 2 + 5.0 * (c[1] - c[0] ** 2) ** 2)


def numpy_grads(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Gradient of :func:`torch_loss` in NumPy, by hand (cheaper than autograd; checked below)."""
    W, b, c = arrays["W"], arrays["b"], arrays["c"]
    n = X.shape[0]
    h = np.tanh(X @ W + b)                                      # (6, 3)
    s = np.exp(3.0 * h - np.max(3.0 * h, axis=1, keepdims=True))
    s /= s.sum(axis=1, keepdims=True)                           # softmax(3h), (6, 3)
    dz = (3.0 * s - MIX) / n * (1.0 - h * h)
    r = c[1] - c[0] ** 2
    dc = 0.1 * np.array([-2.0 * (1.0 - c[0]) - 20.0 * c[0] * r, 10.0 * r])
    return {"W": X.T @ dz, "b": dz.sum(axis=0), "c": dc}


def test_hand_gradient_matches_autograd(make_params):
    arrays = {k: p.data for k, p in make_params(seed=5).items()}
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in arrays.items()}
    torch_loss(**tensors).backward()
    for k, g in numpy_grads(arrays).items():
        np.testing.assert_allclose(g, tensors[k].grad.numpy(), rtol=1e-12, atol=1e-14)


TORCH_SCHEDULERS = {
    StepDecay: lambda opt, s: torch.optim.lr_scheduler.StepLR(opt, step_size=s.step_size, gamma=s.gamma),
    ExponentialDecay: lambda opt, s: torch.optim.lr_scheduler.ExponentialLR(opt, gamma=s.gamma),
    CosineDecay: lambda opt, s: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=s.total_steps,
                                                                           eta_min=s.min_lr),
}


def run_both(make_params, name: str, torch_name: str, hyper: dict, *, schedule=None, clip_norm=None):
    """Run trainlab's ``name`` and ``torch.optim.<torch_name>`` side by side; return the max deviation."""
    ours = make_params(seed=1, decay=True)      # torch decays every parameter, so flag them all
    theirs = {k: torch.tensor(p.data.copy(), requires_grad=True) for k, p in ours.items()}
    our_hyper = dict(hyper)
    if schedule is not None:
        our_hyper["lr"] = schedule
        hyper = {**hyper, "lr": schedule(0)}
    opt = create_optimizer(name, ours, clip_norm=clip_norm, **our_hyper)
    topt = getattr(torch.optim, torch_name)(list(theirs.values()), **hyper)
    tsched = TORCH_SCHEDULERS[type(schedule)](topt, schedule) if schedule is not None else None

    worst = 0.0
    for _ in range(STEPS):
        for k, g in numpy_grads({k: p.data for k, p in ours.items()}).items():
            ours[k].grad = g
        opt.step()

        topt.zero_grad()
        torch_loss(**theirs).backward()
        if clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(list(theirs.values()), clip_norm)
        topt.step()
        if tsched is not None:
            tsched.step()
        for k, p in ours.items():
            worst = max(worst, float(np.max(np.abs(p.data - theirs[k].detach().numpy()))))
    moved = max(float(np.max(np.abs(p.data - q.data))) for p, q in zip(ours.values(), make_params(seed=1).values()))
    assert moved > 1e-3, "the optimizer barely moved; the comparison would prove nothing"
    return worst


CASES = [
    # (trainlab name, torch class, shared hyperparameters, extras)
    ("sgd", "SGD", dict(lr=0.05), {}),
    ("sgd", "SGD", dict(lr=0.05, momentum=0.9), {}),
    ("sgd", "SGD", dict(lr=0.05, momentum=0.9, nesterov=True), {}),
    ("sgd", "SGD", dict(lr=0.05, momentum=0.8, dampening=0.3), {}),
    ("sgd", "SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.1), {}),
    ("adagrad", "Adagrad", dict(lr=0.1), {}),
    ("adagrad", "Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1), {}),
    ("rmsprop", "RMSprop", dict(lr=0.01), {}),
    ("rmsprop", "RMSprop", dict(lr=0.01, centered=True), {}),
    ("rmsprop", "RMSprop", dict(lr=0.01, momentum=0.9), {}),
    ("rmsprop", "RMSprop", dict(lr=0.005, alpha=0.9, centered=True, momentum=0.5, weight_decay=0.1), {}),
    ("adadelta", "Adadelta", dict(), {}),
    ("adadelta", "Adadelta", dict(lr=0.5, rho=0.95, eps=1e-5, weight_decay=0.1), {}),
    ("adam", "Adam", dict(lr=0.01), {}),
    ("adam", "Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1), {}),
    ("adam", "Adam", dict(lr=0.01, amsgrad=True), {}),
    ("adamw", "AdamW", dict(lr=0.01, weight_decay=0.1), {}),
    ("adamw", "AdamW", dict(lr=0.01, amsgrad=True), {}),
    ("adamax", "Adamax", dict(lr=0.01), {}),
    ("adamax", "Adamax", dict(lr=0.02, betas=(0.8, 0.99), weight_decay=0.1), {}),
    ("nadam", "NAdam", dict(lr=0.01), {}),
    ("nadam", "NAdam", dict(lr=0.01, momentum_decay=0.05, weight_decay=0.1), {}),
    # schedules against torch.optim.lr_scheduler, stepped once per update
    ("sgd", "SGD", dict(momentum=0.9), dict(schedule=StepDecay(0.05, step_size=20, gamma=0.5))),
    ("adam", "Adam", dict(), dict(schedule=CosineDecay(0.02, total_steps=STEPS, min_lr=1e-3))),
    ("rmsprop", "RMSprop", dict(), dict(schedule=ExponentialDecay(0.01, gamma=0.98))),
    # global-norm clipping against torch.nn.utils.clip_grad_norm_ before torch's step
    ("adam", "Adam", dict(lr=0.01), dict(clip_norm=0.1)),
    ("sgd", "SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.1), dict(clip_norm=0.2)),
]


@pytest.mark.parametrize("name, torch_name, hyper, extras", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_trajectory_matches_torch(make_params, name, torch_name, hyper, extras):
    assert run_both(make_params, name, torch_name, hyper, **extras) < 1e-6


@pytest.mark.parametrize("name, torch_name", [
    ("sgd", "SGD"), ("adagrad", "Adagrad"), ("rmsprop", "RMSprop"), ("adadelta", "Adadelta"), ("adam", "Adam"),
    ("adamw", "AdamW"), ("adamax", "Adamax"), ("nadam", "NAdam"),
])
def test_defaults_match_torch(name, torch_name):
    import inspect

    from trainlab.optim import optimizer_defaults

    ours = optimizer_defaults(name)
    theirs = inspect.signature(getattr(torch.optim, torch_name).__init__).parameters
    shared = [key for key in ours if key in theirs]
    assert {"lr", "weight_decay"} <= set(shared)
    for key in shared:
        expected = theirs[key].default
        expected = expected.item() if isinstance(expected, torch.Tensor) else expected
        expected = tuple(expected) if isinstance(expected, (tuple, list)) else expected
        assert ours[key] == expected, f"{name}: default {key}={ours[key]!r}, torch {expected!r}"


def test_clip_grad_norm_matches_torch(make_params):
    ours = make_params(seed=3)
    grads = numpy_grads({k: p.data for k, p in ours.items()})
    for k, p in ours.items():
        p.grad = grads[k] * 10.0
    tensors = [torch.tensor(p.data) for p in ours.values()]
    for t, p in zip(tensors, ours.values()):
        t.grad = torch.tensor(p.grad)
    total = clip_grad_norm(ours, 0.5)
    expected = torch.nn.utils.clip_grad_norm_(tensors, 0.5)
    assert total == pytest.approx(float(expected), rel=1e-12)
    for t, p in zip(tensors, ours.values()):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12)
