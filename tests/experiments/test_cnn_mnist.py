"""cnn-mnist: a quick synthetic run, claims both ways, and a short real-MNIST comparison."""

import copy
import json

import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import EXPERIMENTS, run_experiment
from trainlab.experiments.cnn_mnist import MIN_CNN_ACCURACY, Config, book, check, run
from trainlab.plots.cnn_mnist import plot_cnn_mnist

SYNTHETIC = {"dataset": "synthetic", "n_train": 3000, "n_test": 300, "epochs": 1, "mlp_long_factor": 3,
             "curve_test": 300, "curve_points": 6}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp")
    res = run_experiment("cnn-mnist", out, quick=True, overrides=SYNTHETIC, log=None)
    res.checked = check(res.metrics, EXPERIMENTS.get("cnn-mnist").make_config(quick=True, overrides=SYNTHETIC))
    return res, out


def test_quick_run_writes_metrics_and_figures(result):
    res, out = result
    assert res.error is None
    saved = json.loads((out / res.folder / "metrics.json").read_text())
    assert saved["config"]["dataset"] == "synthetic" and res.figures == ["cnn-vs-mlp.png"]
    runs = res.metrics["runs"]
    assert list(runs) == ["CNN", "MLP", "MLP long", "Small CNN"]
    assert runs["CNN"]["steps"] == runs["MLP"]["steps"] == runs["Small CNN"]["steps"] == 30
    assert runs["MLP long"]["steps"] == 90
    assert runs["CNN"]["parameters"] == 433890 and runs["MLP"]["parameters"] == 89610
    # conv 8*9+8, conv 16*8*9+16, linear 16*7*7*10+10
    assert runs["Small CNN"]["parameters"] == 80 + 1168 + 7850
    assert runs["Small CNN"]["macs"] == 28 * 28 * 8 * 9 + 14 * 14 * 16 * 8 * 9 + 784 * 10
    assert runs["MLP"]["macs"] == 784 * 100 + 100 * 100 + 100 * 10
    for r in runs.values():
        assert len(r["curve_steps"]) == len(r["curve_acc"]) == len(r["curve_seconds"]) >= 2
        assert r["curve_steps"][-1] == r["steps"] and r["samples_per_second"] > 0


def test_measured_claims(result):
    res, _ = result
    assert len(res.checked) == 4
    assert all(c.values for c in res.checked)
    reaches, equal_steps, _, _ = res.checked   # the MLP learns the ten synthetic patterns well given 3x the steps
    assert reaches.passed and equal_steps.passed, [c.evidence for c in res.checked]
    assert book(res.metrics, Config(**SYNTHETIC))[0].book == 0.989


def test_claims_fail_when_the_numbers_say_so(result):
    res, _ = result
    bad = copy.deepcopy(res.metrics)
    bad["runs"]["CNN"]["test_acc"] = 0.5          # the CNN falls short of the threshold
    bad["runs"]["MLP"]["test_acc"] = 0.9          # and behind both MLPs
    bad["runs"]["MLP long"]["test_acc"] = 0.95
    bad["runs"]["Small CNN"]["test_acc"] = 0.89   # the small CNN just behind the MLP
    assert [c.passed for c in check(bad, Config(**SYNTHETIC))] == [False, False, False, False]


def test_small_cnn_claim_decides_both_ways(result):
    res, _ = result
    config = Config(**SYNTHETIC)
    good = copy.deepcopy(res.metrics)
    good["runs"]["MLP"]["test_acc"] = 0.9
    good["runs"]["Small CNN"]["test_acc"] = 0.9   # a tie reaches the MLP's accuracy
    claim = check(good, config)[3]
    assert claim.id == "cnn-mnist/conv-fraction-of-parameters" and claim.passed, claim.evidence
    assert claim.values["parameter fraction"] == 9098 / 89610 and claim.values["threshold fraction"] == 0.2
    assert not check(good, Config(**SYNTHETIC, max_param_fraction=0.1))[3].passed  # 10.2% is too many
    good["runs"]["Small CNN"]["test_acc"] = 0.8999
    assert not check(good, config)[3].passed


def test_accuracy_threshold_is_declared_per_dataset(result):
    res, _ = result
    metrics = copy.deepcopy(res.metrics)
    metrics["runs"]["CNN"]["test_acc"] = 0.9
    for dataset, threshold in MIN_CNN_ACCURACY.items():
        claim = check(metrics, Config(dataset=dataset))[0]
        assert claim.values["threshold"] == threshold and claim.passed == (0.9 >= threshold)
    assert check(metrics, Config(dataset="mnist", min_cnn_accuracy=0.85))[0].passed


def test_plot_shows_two_seeds(result, tmp_path):
    res, _ = result
    other = copy.deepcopy(res.metrics)
    for r in other["runs"].values():
        r["test_acc"] *= 0.99
        r["curve_acc"] = [a * 0.98 for a in r["curve_acc"]]
    paths = plot_cnn_mnist([res.metrics, other], Config(**SYNTHETIC), tmp_path)
    assert [p.name for p in paths] == ["cnn-vs-mlp.png"] and paths[0].stat().st_size > 0


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
    with pytest.raises(ConfigError, match="small_filters"):
        Config(small_filters=(8,))
    with pytest.raises(ConfigError, match="max_param_fraction"):
        Config(max_param_fraction=0.0)
    EXPERIMENTS.get("cnn-mnist").make_config(quick=True)
