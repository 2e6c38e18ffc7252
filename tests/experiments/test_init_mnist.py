"""init-mnist: a quick synthetic run, each claim check decides both ways, and a short real-MNIST run."""

import copy
import json
import math

import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import EXPERIMENTS, run_experiment
from trainlab.experiments.init_mnist import Config, book, check, run
from trainlab.plots.init_mnist import plot_init_mnist

# A larger step than the book's 0.01 lets Xavier and He learn the synthetic set in a few hundred steps.
SYNTHETIC = {"dataset": "synthetic", "n_train": 600, "n_test": 200, "iterations": 200, "lr": 0.05,
             "curve_points": 30}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp")
    return run_experiment("init-mnist", out, quick=True, overrides=SYNTHETIC, log=None), out


def test_quick_run_writes_metrics_and_figures(result):
    res, out = result
    assert res.error is None
    saved = json.loads((out / res.folder / "metrics.json").read_text())
    assert saved["config"]["iterations"] == 200 and saved["config"]["dataset"] == "synthetic"
    assert res.figures == ["loss-by-init.png"]
    runs = res.metrics["runs"]
    assert list(runs) == ["std=0.01", "Xavier", "He"]
    n_points = len(res.metrics["curve_iterations"])
    for r in runs.values():
        assert len(r["loss"]) == len(r["smoothed_loss"]) == n_points
        assert len(r["test_acc_curve"]) == len(r["eval_iterations"])
    # The initial weights have the intended spread: 0.01, sqrt(1/784) and sqrt(2/784).
    assert runs["std=0.01"]["first_layer_std"] == pytest.approx(0.01, rel=0.02)
    assert runs["Xavier"]["first_layer_std"] == pytest.approx(math.sqrt(1 / 784), rel=0.02)
    assert runs["He"]["first_layer_std"] == pytest.approx(math.sqrt(2 / 784), rel=0.02)


def test_measured_claims(result):
    res, _ = result
    assert len(res.claims) == 3
    assert all(c.passed for c in res.claims), [c.evidence for c in res.claims if not c.passed]
    rows = book(res.metrics, Config(**SYNTHETIC))
    assert [r.book for r in rows] == [2.305, 0.377, 0.286]


def test_claims_fail_when_the_numbers_say_so(result):
    res, _ = result
    bad = copy.deepcopy(res.metrics)
    bad["runs"]["std=0.01"]["final_loss"] = 1.2   # std 0.01 learns after all
    bad["runs"]["Xavier"]["final_loss"] = 2.30    # Xavier does not
    bad["runs"]["He"]["final_loss"] = 2.31        # nor He, which ends above Xavier
    claims = check(bad, Config(**SYNTHETIC))
    assert [c.passed for c in claims] == [False, False, False]
    assert claims[0].values["std=0.01: final loss"] == 1.2 and claims[1].values["Xavier: final loss"] == 2.30
    good = copy.deepcopy(res.metrics)
    good["runs"]["std=0.01"]["final_loss"] = 2.28
    good["runs"]["Xavier"]["final_loss"] = 0.40
    good["runs"]["He"]["final_loss"] = 0.39
    assert [c.passed for c in check(good, Config(**SYNTHETIC))] == [True, True, True]


def test_plot_with_two_seeds(result, tmp_path):
    res, _ = result
    second = copy.deepcopy(res.metrics)
    for r in second["runs"].values():
        r["smoothed_loss"] = [v * 0.9 for v in r["smoothed_loss"]]
        r["test_acc_curve"] = [min(1.0, a + 0.02) for a in r["test_acc_curve"]]
    paths = plot_init_mnist([res.metrics, second], Config(**SYNTHETIC), tmp_path)
    assert [p.name for p in paths] == ["loss-by-init.png"] and paths[0].stat().st_size > 10_000


def test_short_run_on_real_mnist():
    from trainlab.data import load_mnist

    try:
        load_mnist()
    except Exception as e:  # no cached copy and no network: nothing to test here
        pytest.skip(f"MNIST is not available: {e}")
    config = Config(n_train=2000, n_test=500, iterations=150)
    claims = check(run(config, seed=0), config)
    assert claims[0].passed, claims[0].evidence   # std 0.01 stays at ln 10
    assert claims[2].passed, claims[2].evidence   # He ahead of Xavier


def test_config_validation():
    with pytest.raises(ConfigError):
        Config(learned_fraction=1.5)
    with pytest.raises(ConfigError):
        Config(iterations=5)
    EXPERIMENTS.get("init-mnist").make_config(quick=True)
