"""resnet-preactivation: the gradient probe, a quick run, each claim decided both ways, the figures."""

import copy

import numpy as np
import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import EXPERIMENTS
from trainlab.experiments.resnet_preactivation import CLAIMS, Config, build, check, gradient_reach, pooled, run
from trainlab.plots.resnet_preactivation import plot_resnet_preactivation

SYNTHETIC = {"dataset": "synthetic"}


@pytest.fixture(scope="module")
def metrics():
    config = EXPERIMENTS.get("resnet-preactivation").make_config(quick=True, overrides=SYNTHETIC)
    return run(config, seed=0), config


def test_pooling_averages_squares():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(pooled(x, 2)[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    assert pooled(x, 1) is x


def test_gradient_probe_reads_the_stack_ends(rng):
    config = Config(width=3)
    x = rng.random((4, 1, 7, 7), dtype=np.float32)
    t = np.array([0, 1, 2, 3])
    for pre in (True, False):
        model = build(config, 3, pre, 0, (1, 7, 7))
        seen = gradient_reach(model, x, t)
        assert model.backward_hooks == []  # the probe removes its hook
        assert seen["ratio"] == pytest.approx(seen["bottom"] / seen["top"]) and seen["stem"] > 0
        # The same batch through the same weights gives the same numbers.
        assert gradient_reach(model, x, t)["ratio"] == pytest.approx(seen["ratio"], rel=1e-5)


def test_quick_run_shapes(metrics):
    m, config = metrics
    for key in ("pre", "post"):
        assert len(m["gradients"][key]) == len(config.grad_depths)
        assert [len(r["loss"]) for r in m["training"][key]] == [config.steps] * len(config.train_depths)
        assert all(r["final_loss"] > 0 and not r["diverged"] for r in m["training"][key])
    claims = check(m, config)
    assert [c.id for c in claims] == list(CLAIMS) and all(c.values for c in claims)


def _edit(m, ratios_pre, ratios_post, loss_pre, loss_post):
    out = copy.deepcopy(m)
    for d, r in zip(out["gradients"]["pre"], ratios_pre):
        d["ratio"] = r
    for d, r in zip(out["gradients"]["post"], ratios_post):
        d["ratio"] = r
    for d, v in zip(out["training"]["pre"], loss_pre):
        d["final_loss"] = v
    for d, v in zip(out["training"]["post"], loss_post):
        d["final_loss"] = v
    return out


def test_claims_decide_both_ways(metrics):
    m, config = metrics
    good = _edit(m, [4.0, 12.0], [2.0, 4.0], [1.0, 0.9], [1.0, 1.5])
    assert [c.passed for c in check(good, config)] == [True, True, True, True]
    bad = _edit(m, [4.0, 12.0], [2.0, 12.5], [1.0, 1.5], [1.1, 1.4])
    assert [c.passed for c in check(bad, config)] == [False, False, False, False]
    # A diverged post-activation run counts as the worse one, and its loss is left out of the values.
    diverged = _edit(m, [4.0, 12.0], [2.0, 4.0], [1.0, 0.9], [1.0, None])
    claims = check(diverged, config)
    assert claims[2].passed and claims[3].passed
    assert all(np.isfinite(v) for c in claims for v in c.values.values())


def test_plots_with_two_seeds(metrics, tmp_path):
    m, config = metrics
    other = copy.deepcopy(m)
    for key in ("pre", "post"):
        for d in other["gradients"][key]:
            d["ratio"] *= 1.1
        other["training"][key][-1]["loss"] = other["training"][key][-1]["loss"][:-2]  # stopped early
    paths = plot_resnet_preactivation([m, other], config, tmp_path)
    assert [p.name for p in paths] == ["gradient-reach.png", "training.png"]
    assert all(p.stat().st_size > 0 for p in paths)


def test_config_validation():
    with pytest.raises(ConfigError, match="pool"):
        Config(pool=3)
    with pytest.raises(ConfigError, match="train_depths"):
        Config(train_depths=(8, 2))
    with pytest.raises(ConfigError, match="grad_depths"):
        Config(grad_depths=(4,))
    with pytest.raises(ConfigError, match="exceeds n_train"):
        Config(n_train=64)
    with pytest.raises(ConfigError, match="momentum"):
        Config(momentum=1.0)
    EXPERIMENTS.get("resnet-preactivation").make_config(quick=True)
