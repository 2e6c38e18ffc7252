"""cnn-mnist: a quick synthetic run, claims both ways, and a short real-MNIST comparison."""

import copy
import json

import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import EXPERIMENTS, run_experiment
from trainlab.experiments.cnn_mnist import Config, book, check, run

SYNTHETIC = {"dataset": "synthetic", "n_train": 3000, "n_test": 300, "epochs": 1, "mlp_long_factor": 3,
             "curve_test": 300, "curve_points": 6}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp")
    return run_experiment("cnn-mnist", out, quick=True, overrides=SYNTHETIC, log=None), out


def test_quick_run_writes_metrics_and_figures(result):
    res, out = result
    assert res.error is None
    saved = json.loads((out / "cnn-mnist" / "metrics.json").read_text())
    assert saved["config"]["dataset"] == "synthetic" and res.figures == ["cnn-vs-mlp.png"]
    runs = saved["metrics"]["runs"]
    assert list(runs) == ["CNN", "MLP", "MLP long"]
    assert runs["CNN"]["steps"] == runs["MLP"]["steps"] == 30 and runs["MLP long"]["steps"] == 90
    assert runs["CNN"]["parameters"] == 433890 and runs["MLP"]["parameters"] == 89610
    for r in runs.values():
        assert len(r["curve_steps"]) == len(r["curve_acc"]) == len(r["curve_seconds"]) >= 2
        assert r["curve_steps"][-1] == r["steps"] and r["samples_per_second"] > 0


def test_measured_claims(result):
    res, _ = result
    assert len(res.claims) == 3
    reaches, equal_steps, _ = res.claims   # the MLP learns the ten synthetic patterns well given 3x the steps
    assert reaches.passed and equal_steps.passed, [c.evidence for c in res.claims]
    assert book(res.metrics, Config(**SYNTHETIC))[0].book == 0.989


def test_claims_fail_when_the_numbers_say_so(result):
    res, _ = result
    bad = copy.deepcopy(res.metrics)
    bad["runs"]["CNN"]["test_acc"] = 0.5          # the CNN falls short of the threshold
    bad["runs"]["MLP"]["test_acc"] = 0.9          # and behind both MLPs
    bad["runs"]["MLP long"]["test_acc"] = 0.95
    assert [c.passed for c in check(bad, Config(**SYNTHETIC))] == [False, False, False]


def test_short_run_on_real_mnist():
    from trainlab.data import load_mnist

    try:
        load_mnist()
    except Exception as e:  # no cached copy and no network: nothing to test here
        pytest.skip(f"MNIST is not available: {e}")
    config = Config(n_train=5000, n_test=1000, epochs=1, mlp_long_factor=2, curve_points=4)
    claims = check(run(config, seed=0), config)
    assert claims[1].passed, claims[1].evidence   # CNN ahead at equal steps
    assert claims[2].passed, claims[2].evidence   # and ahead of the MLP with twice the steps


def test_config_validation():
    with pytest.raises(ConfigError):
        Config(hidden=())
    with pytest.raises(ConfigError):
        Config(min_cnn_accuracy=1.5)
    EXPERIMENTS.get("cnn-mnist").make_config(quick=True)
