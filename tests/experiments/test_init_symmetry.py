"""init-symmetry: a quick synthetic run, the spread measures, each claim decided both ways, a 2-seed figure."""

import copy
import json

import numpy as np
import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import EXPERIMENTS, run_experiment
from trainlab.experiments.init_symmetry import RUNS, Config, _output_spread, _weight_spread, check, run
from trainlab.plots.init_symmetry import plot_init_symmetry

SYNTHETIC = {"dataset": "synthetic", "n_train": 400, "n_test": 200, "hidden": (20, 20), "iterations": 120}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp")
    return run_experiment("init-symmetry", out, quick=True, overrides=SYNTHETIC, log=None), out


def test_quick_run_writes_metrics_and_figures(result):
    res, out = result
    assert res.error is None
    saved = json.loads((out / res.folder / "metrics.json").read_text())
    assert saved["config"]["iterations"] == 120
    assert sorted(res.figures) == ["accuracy-by-start.png", "unit-spread.png"]
    runs = res.metrics["runs"]
    assert list(runs) == list(RUNS)
    assert runs["He"]["hidden"] == [20, 20] and runs["width 1 (He)"]["hidden"] == [1, 1]
    for r in runs.values():
        assert len(r["weight_spread"]) == len(r["output_spread"]) == len(r["active_fraction"]) == 2


def test_the_symmetry_is_measured_not_assumed(result):
    res, _ = result
    runs = res.metrics["runs"]
    # From zeros every weight stays 0 and only the output bias moves; the net predicts one class.
    assert runs["zeros"]["max_abs_weight"] == 0.0 and runs["zeros"]["output_bias_change"] > 0
    assert runs["zeros"]["distinct_predictions"] == 1
    # Equal units stay equal up to float32 rounding; random ones differ.
    assert max(runs["constant"]["weight_spread"]) < 1e-3
    assert min(runs["He"]["weight_spread"]) > 0.1 and min(runs["He"]["output_spread"]) > 0.01


def test_spread_measures():
    w = np.ones((5, 3))
    assert _weight_spread(w) == 0.0 and _weight_spread(np.zeros((5, 3))) == 0.0
    w[:, 2] = [1, 1, 1, 1, 3]   # one unit differs: distance 2 over the mean norm
    norms = np.linalg.norm(w, axis=0).mean()
    assert _weight_spread(w) == pytest.approx(2 / norms)
    h = np.outer(np.arange(1.0, 7.0), [1.0, 2.0, 3.0])   # rank 1: every unit a multiple of one output
    assert _output_spread(h) < 1e-12
    assert _output_spread(np.eye(4)) == pytest.approx(1.0)
    assert _output_spread(np.ones((4, 1))) == 0.0


def _good(metrics):
    m = copy.deepcopy(metrics)
    r = m["runs"]
    r["zeros"].update(max_abs_weight=0.0, distinct_predictions=1, test_acc=0.11)
    r["constant"].update(weight_spread=[0.0, 1e-6], output_spread=[0.0, 2e-6], test_acc=0.30)
    r["He"].update(weight_spread=[1.5, 1.8], test_acc=0.95)
    r["width 1 (He)"]["test_acc"] = 0.11
    r["width 1 (constant)"]["test_acc"] = 0.29
    return m


def test_each_claim_decides_both_ways(result):
    res, _ = result
    config = Config(**SYNTHETIC)
    good = _good(res.metrics)
    claims = check(good, config)
    assert [c.passed for c in claims] == [True] * 4, [c.evidence for c in claims if not c.passed]
    assert claims[2].values["best width 1: test accuracy"] == 0.29
    bad = _good(res.metrics)
    r = bad["runs"]
    r["zeros"]["max_abs_weight"] = 0.01             # a weight moved away from 0
    r["constant"]["output_spread"] = [0.0, 0.2]     # the units' outputs came apart
    r["constant"]["test_acc"] = 0.60                # far above the width-1 nets
    r["He"]["test_acc"] = 0.70                      # less than 0.2 above the constant start
    assert [c.passed for c in check(bad, config)] == [False] * 4
    # Each claim on its own: a zero start predicting several classes, a He control whose units are alike.
    one = _good(res.metrics)
    one["runs"]["zeros"]["distinct_predictions"] = 3
    one["runs"]["He"]["weight_spread"] = [0.05, 1.0]
    assert [c.passed for c in check(one, config)] == [False, False, True, True]


def test_plot_with_two_seeds(result, tmp_path):
    res, _ = result
    config = Config(**SYNTHETIC)
    second = copy.deepcopy(res.metrics)
    for r in second["runs"].values():
        r["test_acc"] = min(1.0, r["test_acc"] + 0.05)
        r["test_acc_curve"] = [min(1.0, a + 0.05) for a in r["test_acc_curve"]]
    paths = plot_init_symmetry([res.metrics, second], config, tmp_path)
    assert [p.name for p in paths] == ["accuracy-by-start.png", "unit-spread.png"]
    assert all(p.stat().st_size > 10_000 for p in paths)


def test_seed_changes_the_weights_and_batches():
    config = Config(**{**SYNTHETIC, "iterations": 20})
    a, b = run(config, seed=0), run(config, seed=1)
    assert a["runs"]["He"]["weight_spread"] != b["runs"]["He"]["weight_spread"]


def test_config_validation():
    with pytest.raises(ConfigError):
        Config(constant=0.0)
    with pytest.raises(ConfigError):
        Config(hidden=())
    with pytest.raises(ConfigError):
        Config(learn_margin=-0.1)
    EXPERIMENTS.get("init-symmetry").make_config(quick=True)
