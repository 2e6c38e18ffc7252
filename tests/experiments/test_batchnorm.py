"""batchnorm: a quick synthetic run, divergence bookkeeping, and each claim check decides both ways."""

import copy
import json

import numpy as np
import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import EXPERIMENTS, run_experiment
from trainlab.experiments.batchnorm import CHANCE, Config, book, check
from trainlab.plots.batchnorm import plot_batchnorm

# Scales 1, 0.1, 0.01, 0.001: a large one that diverges without BatchNorm and small ones that stall.
# A larger step than the book's 0.01 makes up for the few iterations (5 per epoch).
SYNTHETIC = {"dataset": "synthetic", "n_train": 500, "n_scales": 4, "smallest_exp": -3.0, "epochs": 6,
             "lr": 0.1}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp")
    return run_experiment("batchnorm", out, quick=True, overrides=SYNTHETIC, log=None), out


def test_quick_run_writes_metrics_and_figures(result):
    res, out = result
    assert res.error is None
    saved = json.loads((out / res.folder / "metrics.json").read_text())
    assert saved["config"]["n_scales"] == 4 and saved["config"]["epochs"] == 6
    assert sorted(res.figures) == ["accuracy-by-scale.png", "accuracy-grid.png"]
    metrics = res.metrics
    assert metrics["epochs"] == [1, 2, 3, 4, 5, 6]
    assert [r["scale"] for r in metrics["runs"]] == pytest.approx([1.0, 0.1, 0.01, 0.001])
    for r in metrics["runs"]:
        for key in ("bn", "plain"):
            run = r[key]
            assert len(run["train_acc"]) == 6
            if run["diverged_at"] is None:
                assert run["final_acc"] == run["train_acc"][-1]
                assert run["mean_acc"] == pytest.approx(np.mean(run["train_acc"]))
            else:  # epochs after the divergence are missing, and count as chance in the mean
                assert run["final_acc"] is None and run["train_acc"][-1] is None
                done = [a for a in run["train_acc"] if a is not None]
                assert run["mean_acc"] == pytest.approx(np.mean(done + [CHANCE] * (6 - len(done))))


def test_measured_claims(result):
    res, _ = result
    assert len(res.claims) == 4
    assert all(c.passed for c in res.claims), [c.evidence for c in res.claims if not c.passed]
    rows = book(res.metrics, Config(**SYNTHETIC))
    assert rows[0].measured.endswith("of 4")


def test_claims_fail_when_the_numbers_say_so(result):
    res, _ = result
    bad = copy.deepcopy(res.metrics)
    for r in bad["runs"]:   # the plain network learns faster and better at every scale
        r["plain"].update(diverged_at=None, final_acc=1.0, mean_acc=1.0, train_acc=[1.0] * 6)
    verdicts = [c.passed for c in check(bad, Config(**SYNTHETIC))]
    assert verdicts == [False, False, False, False]


def test_too_large_weights_decide_both_ways(result):
    res, _ = result
    config = Config(**SYNTHETIC)
    m = copy.deepcopy(res.metrics)
    largest = m["runs"][0]["plain"]                 # scale 1, the largest
    largest.update(diverged_at=None, final_acc=0.5, mean_acc=0.3)
    claim = check(m, config)[3]
    assert claim.passed and claim.values["largest std"] == 1.0
    largest.update(final_acc=0.9, mean_acc=0.7)     # it learns after all
    assert not check(m, config)[3].passed
    largest.update(diverged_at=4, final_acc=None, mean_acc=CHANCE)
    assert check(m, config)[3].passed


def test_plot_with_two_seeds(result, tmp_path):
    res, _ = result
    second = copy.deepcopy(res.metrics)
    for r in second["runs"]:
        r["bn"]["mean_acc"] *= 0.9
    second["runs"][1]["plain"].update(diverged_at=2, final_acc=None, train_acc=[0.1] + [None] * 5)
    paths = plot_batchnorm([res.metrics, second], Config(**SYNTHETIC), tmp_path)
    assert sorted(p.name for p in paths) == ["accuracy-by-scale.png", "accuracy-grid.png"]


def test_a_diverged_run_ranks_below_a_finished_one(result):
    res, _ = result
    metrics = copy.deepcopy(res.metrics)
    for r in metrics["runs"]:
        r["bn"].update(diverged_at=None, final_acc=0.2, mean_acc=0.2)
        r["plain"].update(diverged_at=3, final_acc=None, mean_acc=CHANCE)
    claims = check(metrics, Config(**SYNTHETIC))
    assert claims[0].passed and "diverged (NaN loss) at scales" in claims[0].evidence


def test_config_validation():
    with pytest.raises(ConfigError):
        Config(smallest_exp=1.0)
    with pytest.raises(ConfigError):
        Config(win_fraction=0.0)
    assert Config().scales == pytest.approx(np.logspace(0, -4, 16))
    EXPERIMENTS.get("batchnorm").make_config(quick=True)
