"""overfit-weight-decay: a quick synthetic run writes its files, and each claim decides both ways."""

import copy
import json

import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import run_experiment
from trainlab.experiments.overfit_weight_decay import Config, book, check

NAME = "overfit-weight-decay"
OVERRIDES = {"dataset": "synthetic", "n_train": 200, "n_test": 200, "epochs": 20, "gap_window": 5}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp")
    return out / NAME, run_experiment(NAME, out, quick=True, overrides=OVERRIDES, log=None)


def set_accuracy(run, train, test):
    """Overwrite a run's summary numbers as if it ended at these accuracies."""
    run.update(mean_train_acc=train, final_train_acc=train, mean_test_acc=test, final_test_acc=test,
               mean_gap=train - test, final_gap=train - test)


def test_quick_run_writes_metrics_and_figure(result):
    folder, r = result
    assert r.error is None
    saved = json.loads((folder / "metrics.json").read_text())
    assert saved["config"]["dataset"] == "synthetic" and saved["config"]["weight_decay"] == 0.1
    m = saved["metrics"]
    assert (m["n_train"], m["n_test"], m["epochs"]) == (200, 200, list(range(1, 21)))
    assert set(m["runs"]) == {"without", "with"}
    assert m["runs"]["with"]["options"] == {"weight_decay": 0.1}
    for run in m["runs"].values():
        assert len(run["train_acc"]) == len(run["test_acc"]) == len(run["train_loss"]) == 20
        assert all(0 <= a <= 1 for a in run["train_acc"] + run["test_acc"])
        assert run["mean_gap"] == pytest.approx(run["mean_train_acc"] - run["mean_test_acc"])
    assert r.figures == ["overfit-weight-decay.png"]
    assert (folder / "overfit-weight-decay.png").stat().st_size > 10_000
    assert len(r.book) == 4 and r.book[2].book == 0.927


def test_claims_on_the_run_follow_its_numbers(result):
    _, r = result
    config = Config(**OVERRIDES)
    claims = check(r.metrics, config)
    assert len(claims) == 3
    off, on = r.metrics["runs"]["without"], r.metrics["runs"]["with"]
    assert claims[0].passed == (off["mean_train_acc"] >= 0.98 and off["mean_gap"] > 0.1)
    assert claims[1].passed == (off["mean_gap"] - on["mean_gap"] >= 0.02)
    assert claims[2].passed == (on["mean_train_acc"] < min(off["mean_train_acc"], 1.0))
    assert f"gap without {off['mean_gap']:.3f}, with {on['mean_gap']:.3f}" in claims[1].evidence


def test_each_claim_decides_both_ways(result):
    _, r = result
    config = Config(**OVERRIDES)
    good = copy.deepcopy(r.metrics)
    set_accuracy(good["runs"]["without"], 1.0, 0.75)   # the book's picture
    set_accuracy(good["runs"]["with"], 0.9, 0.72)
    assert all(c.passed for c in check(good, config))
    assert "not because test accuracy rises" in check(good, config)[1].evidence
    bad = copy.deepcopy(r.metrics)
    set_accuracy(bad["runs"]["without"], 0.9, 0.85)    # no overfitting to begin with
    set_accuracy(bad["runs"]["with"], 0.95, 0.89)      # gap only 0.01 smaller, train accuracy higher
    assert not any(c.passed for c in check(bad, config))
    assert [b.measured for b in book(good, config)] == [1.0, 0.75, 0.9, 0.72]


def test_config_validation():
    with pytest.raises(ConfigError):
        Config(epochs=10, gap_window=20)
    with pytest.raises(ConfigError):
        Config(weight_decay=0.0)
    with pytest.raises(ConfigError):
        Config(dataset="cifar")
