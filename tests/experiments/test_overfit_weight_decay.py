"""overfit-weight-decay: a quick synthetic run writes its files, and each claim decides both ways."""

import copy
import json

import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import run_experiment
from trainlab.experiments.overfit_weight_decay import Config, book, check
from trainlab.plots.overfitting import plot_overfit

NAME = "overfit-weight-decay"
OVERRIDES = {"dataset": "synthetic", "n_train": 200, "n_test": 200, "epochs": 20, "gap_window": 5}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp")
    r = run_experiment(NAME, out, quick=True, overrides=OVERRIDES, log=None)
    return out / r.folder, r


def set_accuracy(run, train, test):
    """Overwrite a run's summary numbers as if it ended at these accuracies."""
    run.update(mean_train_acc=train, final_train_acc=train, mean_test_acc=test, final_test_acc=test,
               mean_gap=train - test, final_gap=train - test)


def test_quick_run_writes_metrics_and_figure(result):
    folder, r = result
    assert r.error is None
    saved = json.loads((folder / "metrics.json").read_text())
    assert saved["config"]["dataset"] == "synthetic" and saved["config"]["weight_decay"] == 0.1
    m = r.metrics
    assert (m["n_train"], m["n_test"], m["epochs"]) == (200, 200, list(range(1, 21)))
    assert set(m["runs"]) == {"without", "with"}
    assert m["runs"]["with"]["options"] == {"weight_decay": 0.1}
    for run in m["runs"].values():
        assert len(run["train_acc"]) == len(run["test_acc"]) == len(run["train_loss"]) == 20
        assert all(0 <= a <= 1 for a in run["train_acc"] + run["test_acc"])
        assert run["mean_gap"] == pytest.approx(run["mean_train_acc"] - run["mean_test_acc"])
        assert run["weight_norm_initial"] > 0 and run["largest_weight_final"] > 0
    # Both runs start from the same weights.
    assert m["runs"]["without"]["weight_norm_initial"] == m["runs"]["with"]["weight_norm_initial"]
    assert r.figures == ["overfit-weight-decay.png"]
    assert (folder / "overfit-weight-decay.png").stat().st_size > 10_000
    assert len(r.book) == 4 and r.book[2].book == 0.927


def test_claims_on_the_run_follow_its_numbers(result):
    _, r = result
    config = Config(**OVERRIDES)
    claims = check(r.metrics, config)
    assert len(claims) == 4
    off, on = r.metrics["runs"]["without"], r.metrics["runs"]["with"]
    assert claims[0].passed == (off["mean_train_acc"] >= 0.98 and off["mean_gap"] > 0.1)
    assert claims[1].passed == (off["mean_gap"] - on["mean_gap"] >= 0.02)
    assert claims[2].passed == (on["mean_train_acc"] < min(off["mean_train_acc"], 1.0))
    assert claims[1].values["gap with"] == on["mean_gap"]
    # Weight decay pulls the weights towards 0.
    assert on["weight_norm_final"] < off["weight_norm_final"]
    assert f"gap without {off['mean_gap']:.3f}, with {on['mean_gap']:.3f}" in claims[1].evidence


def test_each_claim_decides_both_ways(result):
    _, r = result
    config = Config(**OVERRIDES)
    good = copy.deepcopy(r.metrics)
    set_accuracy(good["runs"]["without"], 1.0, 0.75)   # the book's picture
    set_accuracy(good["runs"]["with"], 0.9, 0.72)
    good["runs"]["without"].update(weight_norm_initial=30.0, weight_norm_final=40.0)
    good["runs"]["with"].update(weight_norm_initial=30.0, weight_norm_final=20.0)
    assert all(c.passed for c in check(good, config))
    assert "not because test accuracy rises" in check(good, config)[1].evidence
    bad = copy.deepcopy(r.metrics)
    set_accuracy(bad["runs"]["without"], 0.9, 0.85)    # no overfitting to begin with
    set_accuracy(bad["runs"]["with"], 0.95, 0.89)      # gap only 0.01 smaller, train accuracy higher
    bad["runs"]["without"].update(weight_norm_initial=30.0, weight_norm_final=29.0)   # the weights shrink
    bad["runs"]["with"].update(weight_norm_initial=30.0, weight_norm_final=20.0)
    assert not any(c.passed for c in check(bad, config))
    bad["runs"]["without"]["weight_norm_final"] = 31.0   # they grow, but end below the decayed net's
    bad["runs"]["with"]["weight_norm_final"] = 32.0
    assert not check(bad, config)[3].passed
    assert [b.measured for b in book(good, config)] == [1.0, 0.75, 0.9, 0.72]


def test_plot_with_two_seeds(result, tmp_path):
    _, r = result
    second = copy.deepcopy(r.metrics)
    for run in second["runs"].values():
        run["test_acc"] = [max(0.0, a - 0.03) for a in run["test_acc"]]
    paths = plot_overfit([r.metrics, second], Config(**OVERRIDES), tmp_path)
    assert [p.name for p in paths] == ["overfit-weight-decay.png"] and paths[0].stat().st_size > 10_000


def test_config_validation():
    with pytest.raises(ConfigError):
        Config(epochs=10, gap_window=20)
    with pytest.raises(ConfigError):
        Config(weight_decay=0.0)
    with pytest.raises(ConfigError):
        Config(dataset="cifar")
