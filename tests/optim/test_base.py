"""The Optimizer contract: registry, validation, step semantics, weight decay, checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest

from trainlab.errors import CheckpointError, ConfigError, ShapeError, UnknownNameError
from trainlab.layers.base import Parameter
from trainlab.optim import (
    OPTIMIZERS,
    SGD,
    Adam,
    AdamW,
    CosineDecay,
    LinearWarmup,
    StepDecay,
    clip_grad_norm,
    create_optimizer,
    optimizer_class,
)

ALL = OPTIMIZERS.names()
COUPLED = [n for n in ALL if not optimizer_class(n).decoupled_weight_decay]


def grads_for(params: dict[str, Parameter]) -> dict[str, np.ndarray]:
    """Gradient of sum(log cosh(w) + 0.1 w^3 - 0.2 w) per array: non-quadratic, never zero for long."""
    return {k: np.tanh(p.data) + 0.3 * p.data ** 2 - 0.2 for k, p in params.items()}


def train(opt, params: dict[str, Parameter], steps: int, extra=None) -> None:
    for _ in range(steps):
        for k, g in grads_for(params).items():
            p = params[k]
            p.grad = g if extra is None else g + extra(p)
        opt.step()


def snapshot(params):
    return {k: p.data.copy() for k, p in params.items()}


# ---- registry and hyperparameter checks -------------------------------------------

def test_unknown_name_lists_valid_names(make_params):
    with pytest.raises(UnknownNameError, match="valid names: .*adam.*sgd"):
        create_optimizer("adamm", make_params())


def test_unknown_hyperparameter_lists_valid_ones(make_params):
    with pytest.raises(ConfigError, match=r"beta1.*valid: lr, betas, eps, weight_decay, amsgrad, eps_mode, clip_norm"):
        create_optimizer("adam", make_params(), beta1=0.9)


def test_registry_variants_carry_their_defaults(make_params):
    opt = create_optimizer("nesterov", make_params())
    assert isinstance(opt, SGD) and opt.config.nesterov and opt.config.momentum == 0.9
    assert create_optimizer("nesterov", make_params(), momentum=0.5).config.momentum == 0.5
    assert create_optimizer("amsgrad", make_params()).config.amsgrad
    assert create_optimizer("Sgd_Momentum", make_params()).config.momentum == 0.9


BAD = [
    ("sgd", dict(lr=-0.1), "lr"), ("sgd", dict(lr=0.0), "lr"), ("adam", dict(lr=float("nan")), "lr"),
    ("sgd", dict(lr="0.1"), "lr"), ("sgd", dict(momentum=-0.5), "momentum"),
    ("sgd", dict(nesterov=True), "nesterov"), ("sgd", dict(momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    ("sgd", dict(weight_decay=-1e-4), "weight_decay"), ("sgd", dict(clip_norm=0.0), "clip_norm"),
    ("adam", dict(betas=(0.9, 1.0)), r"betas\[1\]"), ("adam", dict(betas=(-0.1, 0.999)), r"betas\[0\]"),
    ("adam", dict(betas=(0.9,)), "betas"), ("adam", dict(eps=0.0), "eps"), ("adam", dict(eps=-1e-8), "eps"),
    ("adam", dict(eps_mode="keras"), "eps_mode"), ("adam", dict(amsgrad="yes"), "amsgrad"),
    ("adamw", dict(weight_decay=-0.01), "weight_decay"), ("rmsprop", dict(alpha=1.0), "alpha"),
    ("rmsprop", dict(momentum=-1), "momentum"), ("adadelta", dict(rho=1.5), "rho"),
    ("adagrad", dict(lr_decay=-1), "lr_decay"), ("adagrad", dict(initial_accumulator_value=-1), "initial_acc"),
    ("nadam", dict(momentum_decay=-1), "momentum_decay"), ("ftrl", dict(learning_rate_power=0.5), "learning_rate_p"),
    ("ftrl", dict(l1_regularization_strength=-1), "l1_reg"), ("momentum", dict(momentum=-0.9), "momentum"),
]


@pytest.mark.parametrize("name, hyper, field", BAD, ids=[f"{n}-{f}" for n, _, f in BAD])
def test_bad_hyperparameter_raises_config_error(make_params, name, hyper, field):
    with pytest.raises(ConfigError, match=field):
        create_optimizer(name, make_params(), **hyper)


def test_error_names_the_value_and_the_range(make_params):
    with pytest.raises(ConfigError, match=r"Adam: betas\[1\]=1\.0 is out of range; valid range: 0 <= betas\[1\] < 1"):
        Adam(make_params(), betas=(0.9, 1.0))


def test_bad_params(make_params):
    with pytest.raises(ConfigError, match="empty"):
        SGD([])
    p = make_params()["W"]
    with pytest.raises(ConfigError, match="twice"):
        SGD([p, p])
    with pytest.raises(ConfigError, match="not a Parameter"):
        SGD([np.zeros(3)])
    with pytest.raises(ConfigError, match="single"):
        SGD(p)


def test_params_by_list_dict_pairs_and_layer(make_params):
    params = make_params()
    assert SGD(list(params.values())).param_names == ["0", "1", "2"]
    assert SGD(params).param_names == ["W", "b", "c"]
    assert SGD(list(params.items())).param_names == ["W", "b", "c"]

    class Layer:
        def named_parameters(self):
            return iter(params.items())

    assert SGD(Layer()).param_names == ["W", "b", "c"]


# ---- step semantics ------------------------------------------------------------------

@pytest.mark.parametrize("name", ALL)
def test_step_updates_in_place_and_leaves_grad_alone(make_params, name):
    params = make_params(decay=True)
    refs = {k: p.data for k, p in params.items()}
    opt = create_optimizer(name, params, weight_decay=0.1, clip_norm=0.5)
    before = snapshot(params)
    grads = grads_for(params)
    for k, p in params.items():
        p.grad = grads[k]
    frozen = {k: g.copy() for k, g in grads.items()}
    opt.step()
    for k, p in params.items():
        assert p.data is refs[k]
        np.testing.assert_array_equal(p.grad, frozen[k])
        assert not np.array_equal(p.data, before[k])
    assert opt.step_count == 1


@pytest.mark.parametrize("name", ALL)
def test_params_without_grad_are_skipped(make_params, name):
    params = make_params()
    opt = create_optimizer(name, params)
    before = snapshot(params)
    params["W"].grad = grads_for(params)["W"]
    opt.step()
    assert not np.array_equal(params["W"].data, before["W"])
    for k in ("b", "c"):
        np.testing.assert_array_equal(params[k].data, before[k])
    assert [s["step"] for s in opt.state] == [1, 0, 0]


def test_zero_grad(make_params):
    params = make_params()
    opt = SGD(params, lr=0.1)
    for p in params.values():
        p.grad = np.ones_like(p.data)
    opt.zero_grad()
    assert all(p.grad is None for p in params.values())


def test_grad_shape_mismatch(make_params):
    params = make_params()
    params["W"].grad = np.ones((3, 4))
    with pytest.raises(ShapeError, match="'W'"):
        SGD(params, lr=0.1).step()


@pytest.mark.parametrize("name", ALL)
def test_float32_stays_float32(make_params, name):
    p32, p64 = make_params(dtype=np.float32), make_params()
    o32, o64 = create_optimizer(name, p32, lr=1e-2), create_optimizer(name, p64, lr=1e-2)
    train(o32, p32, 20)
    train(o64, p64, 20)
    for k in p32:
        assert p32[k].data.dtype == np.float32
        np.testing.assert_allclose(p32[k].data, p64[k].data, rtol=1e-3, atol=1e-4)
    for state in o32.state:
        assert all(v.dtype == np.float32 for v in state.values() if hasattr(v, "dtype"))


def test_follows_a_parameter_cast_to_another_dtype(make_params):
    params = make_params()
    opt = Adam(params, lr=1e-2)
    train(opt, params, 3)
    for p in params.values():
        p.data = p.data.astype(np.float32)
    train(opt, params, 3)
    assert opt.state[0]["exp_avg"].dtype == np.float32 and params["W"].data.dtype == np.float32


# ---- learning rate -------------------------------------------------------------------

def test_lr_follows_the_schedule(make_params):
    params = make_params()
    sched = LinearWarmup(CosineDecay(0.1, total_steps=10), warmup_steps=5)
    opt = SGD(params, lr=sched)
    seen = []
    for _ in range(15):
        seen.append(opt.lr)
        train(opt, params, 1)
    assert seen == [sched(t) for t in range(15)]
    opt.lr = 0.5
    assert opt.lr == 0.5
    with pytest.raises(ConfigError):
        opt.lr = -1.0


def test_schedule_returning_a_negative_rate(make_params):
    params = make_params()
    opt = SGD(params, lr=lambda step: -0.1)
    with pytest.raises(ConfigError, match="schedule"):
        train(opt, params, 1)


def test_get_config_rebuilds_the_optimizer(make_params):
    opt = create_optimizer("adamw", make_params(), lr=StepDecay(0.01, 10), betas=(0.8, 0.9), amsgrad=True)
    config = json.loads(json.dumps(opt.get_config()))
    again = create_optimizer(config.pop("name"), make_params(), **config)
    assert again.config == opt.config


# ---- weight decay ----------------------------------------------------------------------

@pytest.mark.parametrize("name", COUPLED)
def test_weight_decay_equals_l2_in_the_loss(make_params, name):
    lam = 0.05
    a, b = make_params(decay=True), make_params(decay=True)
    train(create_optimizer(name, a, weight_decay=lam), a, 30)
    # the gradient of 0.5 * lam * ||w||^2 is lam * w
    train(create_optimizer(name, b), b, 30, extra=lambda p: lam * p.data)
    for k in a:
        np.testing.assert_allclose(a[k].data, b[k].data, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ALL)
def test_decay_flag_is_respected(make_params, name):
    decayed, plain = make_params(decay=False), make_params(decay=False)
    train(create_optimizer(name, decayed, weight_decay=0.1), decayed, 10)
    train(create_optimizer(name, plain, weight_decay=0.0), plain, 10)
    for k in decayed:
        np.testing.assert_array_equal(decayed[k].data, plain[k].data)


def test_default_decay_flag_decays_weights_not_biases(make_params):
    params = make_params()          # decay=None: 2-D W decays, 1-D b and c do not
    assert [p.decay for p in params.values()] == [True, False, False]


def test_adamw_decay_is_decoupled(make_params):
    params = make_params(decay=None)
    before = snapshot(params)
    opt = AdamW(params, lr=0.1, weight_decay=0.2)
    for _ in range(5):
        for p in params.values():
            p.grad = np.zeros_like(p.data)    # zero gradient: only the decay acts
        opt.step()
    np.testing.assert_allclose(params["W"].data, before["W"] * (1 - 0.1 * 0.2) ** 5, rtol=1e-12)
    np.testing.assert_array_equal(params["b"].data, before["b"])


# ---- clipping option ---------------------------------------------------------------------

def test_clip_norm_option_equals_clipping_first(make_params):
    a, b = make_params(), make_params()
    oa, ob = Adam(a, lr=0.01, clip_norm=0.3), Adam(b, lr=0.01)
    for _ in range(10):
        for params in (a, b):
            for k, g in grads_for(params).items():
                params[k].grad = g
        norm = clip_grad_norm(b, 0.3)
        oa.step()
        ob.step()
        assert oa.last_grad_norm == pytest.approx(norm, rel=1e-12)
    for k in a:
        np.testing.assert_allclose(a[k].data, b[k].data, rtol=1e-12)


# ---- checkpoints ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ALL)
def test_state_dict_round_trip_resumes_the_same_trajectory(make_params, name):
    params = make_params()
    sched = StepDecay(1e-2, step_size=7, gamma=0.5)
    opt = create_optimizer(name, params, lr=sched, weight_decay=0.01)
    train(opt, params, 10)
    saved_params, saved_state = snapshot(params), opt.state_dict()
    assert all(isinstance(v, np.ndarray) for v in saved_state.values())
    train(opt, params, 10)
    expected = snapshot(params)

    resumed = make_params()
    for k, p in resumed.items():
        p.data[...] = saved_params[k]
    opt2 = create_optimizer(name, resumed, lr=sched, weight_decay=0.01)
    opt2.load_state_dict(saved_state)
    assert opt2.step_count == 10
    train(opt2, resumed, 10)
    for k in expected:
        np.testing.assert_array_equal(resumed[k].data, expected[k])


def test_state_dict_is_a_copy(make_params):
    params = make_params()
    opt = Adam(params, lr=0.1)
    train(opt, params, 2)
    sd = opt.state_dict()
    sd["W.exp_avg"][...] = 123.0
    assert not np.any(opt.state[0]["exp_avg"] == 123.0)
    assert set(sd) == {"step_count"} | {f"{k}.{s}" for k in params for s in ("step", "exp_avg", "exp_avg_sq")}


def test_load_state_dict_rejects_a_mismatch(make_params):
    params = make_params()
    sd = Adam(params).state_dict()
    with pytest.raises(CheckpointError, match="missing"):
        Adam(params, amsgrad=True).load_state_dict(sd)
    bad = dict(sd)
    bad["W.exp_avg"] = np.zeros((2, 2))
    with pytest.raises(ShapeError, match="W.exp_avg"):
        Adam(params).load_state_dict(bad)


def test_ftrl_rejects_a_zero_rate_before_touching_anything(make_params):
    params = make_params()
    before = snapshot(params)
    opt = create_optimizer("ftrl", params, lr=LinearWarmup(0.1, warmup_steps=3))
    with pytest.raises(ConfigError, match="FTRL needs lr > 0"):
        train(opt, params, 1)
    assert opt.step_count == 0 and all(s["step"] == 0 for s in opt.state)
    for k in params:
        np.testing.assert_array_equal(params[k].data, before[k])


def test_ftrl_rejects_a_zero_accumulator():
    import numpy as np
    import pytest

    from trainlab.errors import ConfigError
    from trainlab.layers.base import Parameter
    from trainlab.optim import FTRL

    with pytest.raises(ConfigError, match="initial_accumulator_value"):
        FTRL([Parameter(np.zeros(3))], initial_accumulator_value=0.0)


# ---- one declaration of the hyperparameters ----------------------------------------------------

@pytest.mark.parametrize("name", ALL)
def test_constructor_names_and_defaults_come_from_the_config_fields(make_params, name):
    import dataclasses
    import inspect

    from trainlab.optim import optimizer_defaults

    cls = optimizer_class(name)
    fields = dataclasses.fields(cls.config_class)
    positional = [f.name for f in fields if not f.kw_only]
    keyword = [f.name for f in fields if f.kw_only]
    assert cls.hyperparameter_names() == positional + keyword
    signature = inspect.signature(cls)
    assert list(signature.parameters) == ["params", *positional, *keyword]
    assert {n: p.default for n, p in signature.parameters.items() if n != "params"} == cls.defaults()
    assert [n for n, p in signature.parameters.items() if p.kind is p.KEYWORD_ONLY] == keyword
    assert cls(make_params()).config == cls.config_class()  # the class's defaults are the fields'
    built = create_optimizer(name, make_params())
    assert built.get_config() == {"name": cls.name, **{k: list(v) if isinstance(v, tuple) else v
                                                       for k, v in optimizer_defaults(name).items()}}


def test_hyperparameters_by_position_as_in_pytorch(make_params):
    opt = SGD(make_params(), 0.1, 0.9, 0.0, 1e-4, True)
    assert (opt.config.lr, opt.config.momentum, opt.config.weight_decay, opt.config.nesterov) == (0.1, 0.9, 1e-4, True)
    adam = Adam(make_params(), 1e-2, (0.8, 0.99), 1e-6)
    assert (adam.config.lr, adam.config.betas, adam.config.eps) == (1e-2, (0.8, 0.99), 1e-6)
    with pytest.raises(TypeError, match=r"SGD\(\) takes params and at most 5 positional"):
        SGD(make_params(), 0.1, 0.9, 0.0, 1e-4, True, 1.0)
    with pytest.raises(TypeError, match="multiple values for lr"):
        Adam(make_params(), 0.1, lr=0.2)


def test_unknown_keyword_to_a_constructor_names_the_optimizer(make_params):
    with pytest.raises(ConfigError, match=r"unknown hyperparameter\(s\) betas for optimizer 'sgd'; "
                                          r"valid: lr, momentum, dampening, weight_decay, nesterov, clip_norm"):
        SGD(make_params(), betas=(0.9, 0.99))
    with pytest.raises(ConfigError, match=r"beta1.* for optimizer 'nesterov'; valid: lr, momentum"):
        create_optimizer("nesterov", make_params(), beta1=0.9)


def test_docs_table_quotes_the_declared_defaults():
    """Every ``name=value`` in the defaults column of docs/optimizers.md is the registry name's default."""
    import ast
    import re
    from pathlib import Path

    from trainlab.optim import optimizer_defaults

    text = (Path(__file__).parents[2] / "docs" / "optimizers.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if re.match(r"\| `[a-z-]+`( \(`[a-z-]+`\))? \| `[A-Za-z]+` \|", line)]
    assert {re.match(r"\| `([a-z-]+)`", row).group(1) for row in rows} == set(ALL)
    for row in rows:
        name = re.match(r"\| `([a-z-]+)`", row).group(1)
        defaults = optimizer_defaults(name)
        quoted = re.findall(r"`(\w+)=([^`]+)`", row.rsplit("|", 2)[1])
        assert quoted, row
        for key, value in quoted:
            assert defaults[key] == ast.literal_eval(value), f"{name}: docs say {key}={value}, code {defaults[key]!r}"
