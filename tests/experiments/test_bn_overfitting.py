"""batchnorm-overfitting: a quick synthetic run, the four nets, each claim decided both ways, a 2-seed figure."""

import copy
import json

import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import EXPERIMENTS, run_experiment
from trainlab.experiments.bn_overfitting import LABELS, Config, book, check
from trainlab.experiments.overfitting import build_net
from trainlab.layers.batchnorm import BatchNorm1d
from trainlab.layers.dropout import Dropout
from trainlab.plots.bn_overfitting import plot_bn_overfitting

NAME = "batchnorm-overfitting"
OVERRIDES = {"dataset": "synthetic", "n_train": 200, "n_test": 100, "epochs": 8, "gap_window": 4}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp")
    return out, run_experiment(NAME, out, quick=True, overrides=OVERRIDES, log=None)


def set_accuracy(run, train, test):
    run.update(mean_train_acc=train, final_train_acc=train, mean_test_acc=test, final_test_acc=test,
               mean_gap=train - test, final_gap=train - test)


def test_quick_run_writes_metrics_and_figure(result):
    out, r = result
    assert r.error is None
    saved = json.loads((out / r.folder / "metrics.json").read_text())
    assert saved["config"]["dropout"] == 0.2 and saved["config"]["inverted"] is True
    runs = r.metrics["runs"]
    assert list(runs) == list(LABELS)
    assert runs["batchnorm"]["options"] == {"use_batchnorm": True}
    assert runs["both"]["options"] == {"use_batchnorm": True, "dropout": 0.2, "inverted_dropout": True}
    for run in runs.values():
        assert len(run["train_acc"]) == len(run["test_acc"]) == 8
    assert r.figures == ["batchnorm-overfitting.png"]
    assert len(r.claims) == 2


def test_the_nets_differ_only_by_the_techniques():
    config = Config()
    both = build_net(config, 0, use_batchnorm=True, dropout=0.2)
    assert sum(isinstance(m, BatchNorm1d) for m in both.modules()) == 6
    assert sum(isinstance(m, Dropout) for m in both.modules()) == 6
    plain = build_net(config, 0)
    # The same initial weights in every run: BatchNorm and dropout draw nothing before the Linears.
    for a, b in zip([p for n, p in plain.named_parameters() if n.endswith("weight")],
                    [p for n, p in both.named_parameters() if n.endswith("weight") and p.data.ndim == 2]):
        assert (a.data == b.data).all()


def test_each_claim_decides_both_ways(result):
    _, r = result
    config = Config(**OVERRIDES)
    good = copy.deepcopy(r.metrics)
    set_accuracy(good["runs"]["without"], 1.0, 0.70)
    set_accuracy(good["runs"]["batchnorm"], 1.0, 0.78)   # gap 0.22 < 0.30 - 0.02
    set_accuracy(good["runs"]["dropout"], 0.95, 0.74)    # dropout adds 0.04 to the plain net
    set_accuracy(good["runs"]["both"], 0.98, 0.79)       # ... and 0.01 to the BatchNorm net
    claims = check(good, config)
    assert [c.passed for c in claims] == [True, True], [c.evidence for c in claims]
    assert claims[1].values["dropout's gain with BatchNorm"] == pytest.approx(0.01)
    bad = copy.deepcopy(good)
    set_accuracy(bad["runs"]["batchnorm"], 1.0, 0.69)    # a wider gap with BatchNorm
    set_accuracy(bad["runs"]["both"], 0.98, 0.76)        # dropout now adds 0.07 to the BatchNorm net
    assert [c.passed for c in check(bad, config)] == [False, False]
    edge = copy.deepcopy(good)
    set_accuracy(edge["runs"]["batchnorm"], 1.0, 0.715)  # the gap closes by 0.015 only
    assert not check(edge, config)[0].passed
    assert book(good, config)[0].measured == "0.300 -> 0.220"


def test_plot_with_two_seeds(result, tmp_path):
    _, r = result
    second = copy.deepcopy(r.metrics)
    for run in second["runs"].values():
        run["test_acc"] = [max(0.0, a - 0.05) for a in run["test_acc"]]
        run["mean_gap"] += 0.05
    paths = plot_bn_overfitting([r.metrics, second], Config(**OVERRIDES), tmp_path)
    assert [p.name for p in paths] == ["batchnorm-overfitting.png"] and paths[0].stat().st_size > 10_000


def test_config_validation():
    with pytest.raises(ConfigError):
        Config(dropout=0.0)
    with pytest.raises(ConfigError):
        Config(epochs=10, gap_window=20)
    EXPERIMENTS.get(NAME).make_config(quick=True)
