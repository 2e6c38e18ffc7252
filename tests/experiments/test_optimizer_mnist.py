"""optimizer-mnist: a quick synthetic run, and each claim check decides both ways."""

import copy
import json

import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import EXPERIMENTS, run_experiment
from trainlab.experiments.common import BOOK_FOUR, curve_indices
from trainlab.experiments.optimizer_mnist import OPTIMIZERS, Config, book, check

SYNTHETIC = {"dataset": "synthetic", "n_train": 400, "n_test": 200, "iterations": 40, "curve_points": 20}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp")
    return run_experiment("optimizer-mnist", out, quick=True, overrides=SYNTHETIC, log=None), out


def test_quick_run_writes_metrics_and_figures(result):
    res, out = result
    assert res.error is None
    saved = json.loads((out / "optimizer-mnist" / "metrics.json").read_text())
    assert saved["quick"] is True and saved["config"]["iterations"] == 40
    assert sorted(res.figures) == ["loss-curves.png", "test-accuracy.png"]
    metrics = saved["metrics"]
    assert list(metrics["runs"]) == [label for label, _, _ in OPTIMIZERS]
    n_points = len(metrics["curve_iterations"])
    assert n_points <= 21 and metrics["curve_iterations"][-1] == 39
    for r in metrics["runs"].values():
        assert len(r["loss"]) == len(r["smoothed_loss"]) == n_points
        assert 0.0 <= r["test_acc"] <= 1.0 and r["final_loss"] > 0
    assert metrics["book_iteration"] == 39  # the run is shorter than the book's 1900 iterations


def test_measured_claims(result):
    res, _ = result
    assert len(res.claims) == 2
    assert all(c.passed for c in res.claims), [c.evidence for c in res.claims if not c.passed]
    assert "SGD" in res.claims[0].evidence and "order:" in res.claims[0].evidence
    rows = book(res.metrics, Config(**SYNTHETIC))
    assert [r.book for r in rows[:4]] == [0.150, 0.050, 0.016, 0.032]


def test_claims_fail_when_the_numbers_say_so(result):
    res, _ = result
    bad = copy.deepcopy(res.metrics)
    bad["runs"]["Adam"]["final_loss"] = bad["runs"]["SGD"]["final_loss"] + 1.0  # Adam ends above SGD
    bad["runs"]["AdaGrad"]["test_acc"] = bad["runs"]["SGD"]["test_acc"]        # a tie is not "higher"
    verdicts = [c.passed for c in check(bad, Config(**SYNTHETIC))]
    assert verdicts == [False, False]


def test_curve_indices_keep_both_ends():
    assert curve_indices(2000, 500).tolist()[:3] == [0, 4, 8]
    assert curve_indices(2000, 500)[-1] == 1999
    assert curve_indices(10, 500).tolist() == list(range(10))


def test_config_validation():
    with pytest.raises(ConfigError, match="book's four"):
        Config(optimizers=("SGD", "Adam"))
    with pytest.raises(ConfigError, match="unknown optimizer"):
        Config(optimizers=(*BOOK_FOUR, "Lion"))
    with pytest.raises(ConfigError):
        Config(dataset="cifar")
    EXPERIMENTS.get("optimizer-mnist").make_config(quick=True)
