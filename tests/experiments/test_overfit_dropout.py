"""overfit-dropout: a quick synthetic run writes its files, and each claim decides both ways."""

import copy
import json

import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import run_experiment
from trainlab.experiments.overfit_dropout import Config, book, check
from trainlab.experiments.overfitting import build_net
from trainlab.plots.overfitting import plot_overfit
from trainlab.layers.dropout import Dropout

NAME = "overfit-dropout"
OVERRIDES = {"dataset": "synthetic", "n_train": 200, "n_test": 100, "epochs": 12, "gap_window": 4,
             "compare_forms": True}


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
    assert saved["config"]["dropout"] == 0.2 and saved["config"]["inverted"] is False
    m = r.metrics
    assert set(m["runs"]) == {"without", "with", "other form"}
    assert m["runs"]["with"]["options"] == {"dropout": 0.2, "inverted_dropout": False}
    assert m["runs"]["other form"]["options"] == {"dropout": 0.2, "inverted_dropout": True}
    for run in m["runs"].values():
        assert len(run["train_acc"]) == len(run["test_acc"]) == 12
    assert r.figures == ["overfit-dropout.png"]
    assert (folder / "overfit-dropout.png").stat().st_size > 10_000
    assert len(r.book) == 6


def test_the_book_form_is_used():
    net = build_net(Config(), 0, dropout=0.2, inverted_dropout=False)
    drops = [m for m in net.modules() if isinstance(m, Dropout)]
    assert len(drops) == 6 and not any(d.inverted for d in drops)


def test_claims_on_the_run_follow_its_numbers(result):
    _, r = result
    config = Config(**OVERRIDES)
    claims = check(r.metrics, config)
    assert len(claims) == 3
    off, on = r.metrics["runs"]["without"], r.metrics["runs"]["with"]
    assert claims[1].passed == (off["mean_gap"] - on["mean_gap"] >= 0.02)
    assert claims[2].passed == (on["mean_train_acc"] < min(off["mean_train_acc"], 1.0))
    assert "in the inverted form the gap is" in claims[1].evidence
    assert claims[0].values["gap without"] == off["mean_gap"] and claims[2].values["train accuracy with"] == \
        on["mean_train_acc"]


def test_each_claim_decides_both_ways(result):
    _, r = result
    config = Config(**OVERRIDES)
    good = copy.deepcopy(r.metrics)
    set_accuracy(good["runs"]["without"], 1.0, 0.76)
    set_accuracy(good["runs"]["with"], 0.68, 0.55)
    assert all(c.passed for c in check(good, config))
    bad = copy.deepcopy(r.metrics)
    set_accuracy(bad["runs"]["without"], 1.0, 0.95)    # gap 0.05: not overfitting
    set_accuracy(bad["runs"]["with"], 1.0, 0.96)       # gap only 0.01 smaller, train accuracy still 1.0
    assert not any(c.passed for c in check(bad, config))
    del bad["runs"]["other form"]                      # runs without the comparison still check and tabulate
    assert len(check(bad, config)) == 3 and len(book(bad, config)) == 5


def test_plot_with_two_seeds(result, tmp_path):
    _, r = result
    second = copy.deepcopy(r.metrics)
    for run in second["runs"].values():
        run["train_acc"] = [min(1.0, a + 0.02) for a in run["train_acc"]]
    paths = plot_overfit([r.metrics, second], Config(**OVERRIDES), tmp_path)
    assert [p.name for p in paths] == ["overfit-dropout.png"] and paths[0].stat().st_size > 10_000


def test_config_validation():
    with pytest.raises(ConfigError):
        Config(dropout=0.0)
    with pytest.raises(ConfigError):
        Config(dropout=1.0)
    assert Config().epochs == 301
