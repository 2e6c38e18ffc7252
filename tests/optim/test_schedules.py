"""Learning-rate schedules: values, validation, JSON round trips, and torch.optim.lr_scheduler parity."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from trainlab.errors import ConfigError, UnknownNameError
from trainlab.optim import (
    SCHEDULES,
    Chain,
    ConstantLR,
    CosineDecay,
    ExponentialDecay,
    InverseTimeDecay,
    LinearWarmup,
    StepDecay,
    create_schedule,
    schedule_from_spec,
    schedule_to_spec,
)

EXAMPLES = [
    ConstantLR(0.1),
    StepDecay(0.1, step_size=3, gamma=0.5),
    ExponentialDecay(0.1, gamma=0.9),
    ExponentialDecay(0.1, gamma=0.5, decay_steps=4, staircase=True),
    InverseTimeDecay(0.1, decay_rate=0.5),
    InverseTimeDecay(0.1, decay_rate=0.5, decay_steps=3, staircase=True),
    CosineDecay(0.1, total_steps=20, min_lr=0.01),
    LinearWarmup(0.1, warmup_steps=5),
    LinearWarmup(CosineDecay(0.1, total_steps=10), warmup_steps=4, start_factor=0.1),
    Chain([0.1, StepDecay(0.05, step_size=2), CosineDecay(0.01, 5)], boundaries=[3, 8]),
]


def test_every_registered_schedule_has_an_example():
    assert {type(s).name for s in EXAMPLES} == set(SCHEDULES.names())


@pytest.mark.parametrize("schedule", EXAMPLES, ids=repr)
def test_json_round_trip(schedule):
    spec = json.loads(json.dumps(schedule_to_spec(schedule)))
    again = schedule_from_spec(spec)
    assert again == schedule
    assert [again(t) for t in range(40)] == [schedule(t) for t in range(40)]


def test_values():
    assert [StepDecay(1.0, 2, 0.5)(t) for t in range(6)] == [1, 1, 0.5, 0.5, 0.25, 0.25]
    assert ExponentialDecay(1.0, 0.5)(3) == 0.125
    assert ExponentialDecay(1.0, 0.5, decay_steps=2)(3) == pytest.approx(0.5 ** 1.5)
    assert ExponentialDecay(1.0, 0.5, decay_steps=2, staircase=True)(3) == 0.5
    assert InverseTimeDecay(1.0, 0.5)(4) == pytest.approx(1 / 3)
    assert InverseTimeDecay(1.0, 0.5, decay_steps=3, staircase=True)(5) == pytest.approx(1 / 1.5)
    cos = CosineDecay(1.0, total_steps=10, min_lr=0.2)
    assert cos(0) == 1.0 and cos(5) == pytest.approx(0.6) and cos(10) == 0.2 and cos(99) == 0.2
    assert ConstantLR(0.3)(1000) == 0.3


def test_linear_warmup_ramps_then_hands_over():
    inner = StepDecay(0.1, step_size=2, gamma=0.5)
    s = LinearWarmup(inner, warmup_steps=4, start_factor=0.2)
    assert s(0) == pytest.approx(0.02)
    assert s(2) == pytest.approx(0.1 * (0.2 + 0.8 * 0.5))
    assert [s(4 + t) for t in range(5)] == [inner(t) for t in range(5)]
    assert LinearWarmup(0.1, warmup_steps=10)(0) == 0.0


def test_chain_switches_at_the_boundaries():
    a, b = ConstantLR(1.0), StepDecay(0.5, step_size=1, gamma=0.5)
    s = Chain([a, b], boundaries=[3])
    assert [s(t) for t in range(6)] == [1.0, 1.0, 1.0, 0.5, 0.25, 0.125]


BAD = [
    ("constant", dict(lr=-1.0)), ("step", dict(lr=0.1, step_size=0)), ("step", dict(lr=0.1, step_size=2, gamma=0)),
    ("exponential", dict(lr=0.1, gamma=-0.5)), ("exponential", dict(lr=0.1, gamma=0.5, decay_steps=0)),
    ("inverse-time", dict(lr=0.1, decay_rate=-1)), ("cosine", dict(lr=0.1, total_steps=0)),
    ("cosine", dict(lr=0.1, total_steps=10, min_lr=0.2)), ("warmup", dict(schedule=0.1, warmup_steps=0)),
    ("warmup", dict(schedule=0.1, warmup_steps=5, start_factor=1.5)), ("warmup", dict(schedule="x", warmup_steps=5)),
    ("chain", dict(schedules=[0.1, 0.2], boundaries=[])), ("chain", dict(schedules=[0.1, 0.2, 0.3], boundaries=[5, 5])),
    ("chain", dict(schedules=[], boundaries=[])), ("step", dict(lr=0.1, step_size=2.5)),
    ("step", dict(lr=0.1)), ("step", dict(lr=0.1, step_size=2, gama=0.5)),
]


@pytest.mark.parametrize("name, kwargs", BAD, ids=[f"{n}-{sorted(k)}" for n, k in BAD])
def test_bad_arguments_raise_config_error(name, kwargs):
    with pytest.raises(ConfigError):
        create_schedule(name, **kwargs)


def test_unknown_schedule_name_lists_valid_names():
    with pytest.raises(UnknownNameError, match="valid names: .*cosine"):
        create_schedule("cosin", lr=0.1)


def test_unknown_argument_lists_valid_ones():
    with pytest.raises(ConfigError, match="valid arguments: lr, step_size, gamma"):
        create_schedule("step", lr=0.1, step_size=2, gama=0.5)


TORCH_CASES = [
    (StepDecay(0.1, step_size=7, gamma=0.3), "StepLR", dict(step_size=7, gamma=0.3)),
    (ExponentialDecay(0.1, gamma=0.95), "ExponentialLR", dict(gamma=0.95)),
    (CosineDecay(0.1, total_steps=30, min_lr=0.001), "CosineAnnealingLR", dict(T_max=30, eta_min=0.001)),
]


@pytest.mark.parametrize("schedule, torch_name, kwargs", TORCH_CASES, ids=[c[1] for c in TORCH_CASES])
def test_matches_torch_lr_scheduler(schedule, torch_name, kwargs):
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=schedule(0))
    sched = getattr(torch.optim.lr_scheduler, torch_name)(opt, **kwargs)
    theirs = []
    for _ in range(30):
        theirs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    np.testing.assert_allclose([schedule(t) for t in range(30)], theirs, rtol=1e-10)


def test_cosine_is_smooth_and_monotone():
    s = CosineDecay(1.0, total_steps=100)
    values = [s(t) for t in range(101)]
    assert all(b <= a for a, b in zip(values, values[1:]))
    assert values[50] == pytest.approx(0.5) and math.isclose(values[100], 0.0)
