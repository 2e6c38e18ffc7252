"""optimizer-mnist: a quick synthetic run, and each claim check decides both ways."""

import copy
import json

import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import EXPERIMENTS, run_experiment
from trainlab.experiments.common import BOOK_FOUR, curve_indices
from trainlab.experiments.optimizer_mnist import OPTIMIZERS, Config, book, check, mean_loss, run
from trainlab.plots.optimizer_mnist import plot_optimizer_mnist

SYNTHETIC = {"dataset": "synthetic", "n_train": 400, "n_test": 200, "iterations": 40, "curve_points": 20}


class _Result:
    """The metrics of a quick synthetic run and its claims."""

    def __init__(self, metrics):
        self.metrics = metrics
        self.claims = check(metrics, Config(**SYNTHETIC))


@pytest.fixture(scope="module")
def result():
    config = EXPERIMENTS.get("optimizer-mnist").make_config(quick=True, overrides=SYNTHETIC)
    return _Result(run(config, seed=0)), None


def test_quick_run_writes_metrics_and_figures(tmp_path):
    res = run_experiment("optimizer-mnist", tmp_path, quick=True, overrides=SYNTHETIC, log=None)
    assert res.error is None
    saved = json.loads((tmp_path / getattr(res, "folder", "optimizer-mnist") / "metrics.json").read_text())
    assert saved["quick"] is True and saved["config"]["iterations"] == 40
    assert sorted(res.figures) == ["loss-curves.png", "test-accuracy.png"]


def test_quick_metrics(result):
    metrics = result[0].metrics
    assert list(metrics["runs"]) == [label for label, _, _ in OPTIMIZERS]
    n_points = len(metrics["curve_iterations"])
    assert n_points <= 21 and metrics["curve_iterations"][-1] == 39
    for r in metrics["runs"].values():
        assert len(r["loss"]) == len(r["smoothed_loss"]) == n_points
        assert 0.0 <= r["test_acc"] <= 1.0 and r["final_loss"] > 0
    assert metrics["book_iteration"] == 39  # the run is shorter than the book's 1900 iterations


def test_measured_claims(result):
    res, _ = result
    assert len(res.claims) == 3
    assert all(c.passed for c in res.claims[:2]), [c.evidence for c in res.claims if not c.passed]
    assert all(c.values for c in res.claims)
    assert "SGD" in res.claims[0].evidence and "order:" in res.claims[0].evidence
    rows = book(res.metrics, Config(**SYNTHETIC))
    assert [r.book for r in rows[:4]] == [0.150, 0.050, 0.016, 0.032]


def test_claims_fail_when_the_numbers_say_so(result):
    res, _ = result
    bad = copy.deepcopy(res.metrics)
    bad["runs"]["Adam"]["final_loss"] = bad["runs"]["SGD"]["final_loss"] + 1.0  # Adam ends above SGD
    bad["runs"]["AdaGrad"]["test_acc"] = bad["runs"]["SGD"]["test_acc"]        # a tie is not "higher"
    verdicts = [c.passed for c in check(bad, Config(**SYNTHETIC))]
    assert verdicts[:2] == [False, False]


def _with_pace(metrics, paces):
    """A copy of ``metrics`` whose smoothed loss curves are flat at the given means."""
    out = copy.deepcopy(metrics)
    for label, value in paces.items():
        r = out["runs"][label]
        r["smoothed_loss"] = [value] * len(r["smoothed_loss"])
    return out


def test_same_pace_decides_both_ways(result):
    res, _ = result
    config = Config(**SYNTHETIC)
    same = _with_pace(res.metrics, {"SGD": 1.0, "Momentum": 0.30, "AdaGrad": 0.25, "Adam": 0.36})
    assert mean_loss(same["runs"]["Adam"]) == pytest.approx(0.36)
    assert check(same, config)[2].passed                    # 0.36 / 0.25 = 1.44 <= 1.5
    apart = _with_pace(res.metrics, {"SGD": 1.0, "Momentum": 0.40, "AdaGrad": 0.25, "Adam": 0.36})
    claim = check(apart, config)[2]
    assert not claim.passed and claim.values["largest / smallest of the three"] == pytest.approx(1.6)
    assert check(apart, Config(**SYNTHETIC, pace_tolerance=2.0))[2].passed


def test_plot_shows_the_spread_of_two_seeds(result, tmp_path):
    res, _ = result
    other = copy.deepcopy(res.metrics)
    for r in other["runs"].values():
        r["test_acc"] *= 0.9
    paths = plot_optimizer_mnist([res.metrics, other], Config(**SYNTHETIC), tmp_path)
    assert [p.name for p in paths] == ["loss-curves.png", "test-accuracy.png"]


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
    with pytest.raises(ConfigError, match="pace_tolerance"):
        Config(pace_tolerance=0.5)
    assert Config(dataset="fashion-mnist").dataset == "fashion-mnist"
    EXPERIMENTS.get("optimizer-mnist").make_config(quick=True)
