"""optimizer-problems: a tiny synthetic run, each claim decided both ways, a two-seed figure."""

import copy

import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import EXPERIMENTS
from trainlab.experiments.optimizer_problems import CLAIMS, PROBLEMS, Config, check, ranking, reversals, run
from trainlab.plots.optimizer_problems import plot_optimizer_problems

TINY = {"dataset": "synthetic", "n_train": 300, "iterations": 20}


@pytest.fixture(scope="module")
def metrics():
    return run(EXPERIMENTS.get("optimizer-problems").make_config(quick=True, overrides=TINY), seed=0)


def _set(metrics, problem, **losses):
    out = copy.deepcopy(metrics)
    out["problems"][problem]["loss"].update(losses)
    return out


def _verdicts(metrics):
    return {c.id.split("/")[1]: c for c in check(metrics, Config(**TINY))}


def test_run_ranks_the_four_on_every_problem(metrics):
    assert list(metrics["problems"]) == list(PROBLEMS)
    for p in PROBLEMS:
        assert sorted(ranking(metrics["problems"][p])) == ["AdaGrad", "Adam", "Momentum", "SGD"]
    claims = check(metrics, Config(**TINY))
    assert [c.id for c in claims] == list(CLAIMS) and all(c.values for c in claims)


def test_claims_decide_both_ways(metrics):
    same = {"SGD": 0.4, "Momentum": 0.3, "AdaGrad": 0.2, "Adam": 0.1}
    flat = copy.deepcopy(metrics)
    for p in PROBLEMS:
        flat["problems"][p]["loss"].update(same)      # the same order everywhere: Adam best
    v = _verdicts(flat)
    assert not v["no-optimizer-best-everywhere"].passed
    assert not v["mnist-depends-on-lr"].passed and not v["mnist-depends-on-structure"].passed
    flipped = _set(flat, "mnist-lr-x10", SGD=0.1, Adam=0.4)       # SGD and Adam trade places, by 4x
    v = _verdicts(flipped)
    assert v["mnist-depends-on-lr"].passed and v["no-optimizer-best-everywhere"].passed
    assert not v["mnist-depends-on-structure"].passed
    small = _set(flat, "mnist-sigmoid", Momentum=0.22, AdaGrad=0.21)  # swapped, but by less than the margin
    assert ranking(small["problems"]["mnist-sigmoid"])[1:3] == ["AdaGrad", "Momentum"]
    assert not _verdicts(small)["mnist-depends-on-structure"].passed
    big = _set(flat, "mnist-sigmoid", Momentum=0.2, AdaGrad=0.3)
    assert _verdicts(big)["mnist-depends-on-structure"].passed


def test_a_diverged_run_ranks_last(metrics):
    p = {"loss": {"SGD": None, "Momentum": 0.3, "AdaGrad": 0.2, "Adam": 0.1}}
    q = {"loss": {"SGD": 0.05, "Momentum": 0.3, "AdaGrad": 0.2, "Adam": 0.1}}
    assert ranking(p)[-1] == "SGD"
    assert ("Adam", "SGD") in reversals(p, q, 1.25)


def test_plot_takes_two_seeds(metrics, tmp_path):
    other = _set(metrics, "mnist-book", SGD=None)
    paths = plot_optimizer_problems([metrics, other], Config(**TINY), tmp_path)
    assert [p.name for p in paths] == ["rankings.png"]


def test_config_validation():
    with pytest.raises(ConfigError, match="margin"):
        Config(margin=0.9)
    with pytest.raises(ConfigError):
        Config(dataset="cifar")
    assert Config(dataset="fashion-mnist").dataset == "fashion-mnist"
