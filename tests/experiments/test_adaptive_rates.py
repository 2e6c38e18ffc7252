"""adaptive-rates: a tiny synthetic run, each claim decided both ways, a two-seed figure."""

import copy

import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import EXPERIMENTS
from trainlab.experiments.adaptive_rates import CLAIMS, Config, check, run
from trainlab.plots.adaptive_rates import plot_adaptive_rates

TINY = {"dataset": "synthetic", "n_train": 300, "iterations": 60, "probe_every": 5}


@pytest.fixture(scope="module")
def metrics():
    return run(EXPERIMENTS.get("adaptive-rates").make_config(quick=True, overrides=TINY), seed=0)


def _verdicts(metrics, **config):
    return {c.id.split("/")[1]: c.passed for c in check(metrics, Config(**{**TINY, **config}))}


def test_run_records_the_steps(metrics):
    for label in ("AdaGrad", "RMSProp"):
        r = metrics["runs"][label]
        assert r["iteration"][-1] == 59 and len(r["median_step"]) == len(r["iteration"])
        assert all(s > 0 for s in r["median_step"]) and 0 <= r["never_updated"] <= 1
    steps = metrics["runs"]["AdaGrad"]["median_step"]
    assert all(b <= a * (1 + 1e-6) for a, b in zip(steps, steps[1:]))  # AdaGrad's h only grows
    claims = check(metrics, Config(**TINY))
    assert [c.id for c in claims] == list(CLAIMS) and all(c.values for c in claims)


def test_claims_decide_both_ways(metrics):
    good = copy.deepcopy(metrics)
    good["runs"]["AdaGrad"].update(step_ratio=0.3, late_improvement=1.5)
    good["runs"]["RMSProp"].update(step_ratio=2.0, late_improvement=4.0)
    assert all(_verdicts(good).values())
    bad = copy.deepcopy(good)
    bad["runs"]["AdaGrad"].update(step_ratio=0.6, late_improvement=5.0)
    bad["runs"]["RMSProp"]["step_ratio"] = 0.4
    assert not any(_verdicts(bad).values())
    assert _verdicts(bad, shrink_ratio=0.7, hold_ratio=0.3)["adagrad-step-shrinks"]


def test_plot_takes_two_seeds(metrics, tmp_path):
    other = copy.deepcopy(metrics)
    for r in other["runs"].values():
        r["median_step"] = [2 * s for s in r["median_step"]]
    paths = plot_adaptive_rates([metrics, other], Config(**TINY), tmp_path)
    assert [p.name for p in paths] == ["effective-steps.png"]


def test_config_validation():
    with pytest.raises(ConfigError, match="shrink_ratio"):
        Config(shrink_ratio=1.5)
    with pytest.raises(ConfigError, match="early_fraction"):
        Config(early_fraction=0.0)
    with pytest.raises(ConfigError):
        Config(dataset="cifar")
    assert Config(dataset="fashion-mnist").dataset == "fashion-mnist"
