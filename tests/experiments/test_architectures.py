"""architectures: a quick synthetic run of the five models, and claims that decide both ways."""

import copy
import json

import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import EXPERIMENTS, run_experiment
from trainlab.experiments.architectures import BEST_ACCURACY, MIN_ACCURACY, MODELS, Config, book, check
from trainlab.plots.architectures import plot_architectures

SYNTHETIC = {"dataset": "synthetic", "n_train": 200, "n_test": 200}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp")
    res = run_experiment("architectures", out, quick=True, overrides=SYNTHETIC, log=None)
    res.checked = check(res.metrics, EXPERIMENTS.get("architectures").make_config(quick=True, overrides=SYNTHETIC))
    return res, out


def test_quick_run_writes_metrics_and_figures(result):
    res, out = result
    assert res.error is None
    saved = json.loads((out / res.folder / "metrics.json").read_text())
    assert saved["config"]["dataset"] == "synthetic" and res.figures == ["accuracy-vs-parameters.png"]
    runs = res.metrics["runs"]
    assert list(runs) == [label for label, _ in MODELS]
    # The parameter counts documented for the models.
    assert {k: r["parameters"] for k, r in runs.items()} == {
        "SimpleConvNet": 433890, "DeepConvNet": 123552, "ResNet": 77674, "InceptionNet": 94950, "DenseNet": 65410}
    for r in runs.values():
        assert r["iterations"] == 4 and r["train_seconds"] > 0 and 0 <= r["test_acc"] <= 1
        assert len(r["loss_iterations"]) == len(r["smoothed_loss"])


def test_measured_claims(result):
    res, _ = result
    assert len(res.checked) == 4 and all(c.values for c in res.checked)
    # Four steps teach the models little; the architecture facts hold regardless of training.
    _, _, smaller, costlier = res.checked
    assert smaller.passed, smaller.evidence
    assert costlier.passed, costlier.evidence
    # The published table is Fashion-MNIST's; on other data the book's own MNIST number.
    assert [r.book for r in book(res.metrics, Config(**SYNTHETIC))] == [0.989]
    fashion = copy.deepcopy(res.metrics)
    fashion["dataset"] = "fashion-mnist"
    assert [r.book for r in book(fashion, Config())] == ["0.876-0.932", 0.937, 0.949, 0.954]


def test_accuracy_thresholds_are_declared_per_dataset(result):
    res, _ = result
    m = copy.deepcopy(res.metrics)
    for r in m["runs"].values():
        r["test_acc"] = 0.8
    m["runs"]["ResNet"]["test_acc"] = 0.9
    for dataset in ("mnist", "fashion-mnist"):
        claims = check(m, Config(dataset=dataset))
        assert claims[0].values["threshold"] == MIN_ACCURACY[dataset]
        assert claims[1].values["threshold"] == BEST_ACCURACY[dataset]
        assert [c.passed for c in claims[:2]] == [0.8 >= MIN_ACCURACY[dataset], 0.9 >= BEST_ACCURACY[dataset]]
    assert [c.passed for c in check(m, Config(dataset="mnist", min_accuracy=0.5, best_accuracy=0.9))[:2]] == [
        True, True]


def test_plot_shows_two_seeds(result, tmp_path):
    res, _ = result
    other = copy.deepcopy(res.metrics)
    for r in other["runs"].values():
        r["test_acc"] = min(1.0, r["test_acc"] + 0.05)
        r["smoothed_loss"] = [v * 0.9 for v in r["smoothed_loss"]]
    paths = plot_architectures([res.metrics, other], Config(**SYNTHETIC), tmp_path)
    assert [p.name for p in paths] == ["accuracy-vs-parameters.png"] and paths[0].stat().st_size > 0


def test_claims_fail_when_the_numbers_say_so(result):
    res, _ = result
    bad = copy.deepcopy(res.metrics)
    for r in bad["runs"].values():
        r["test_acc"] = 0.11                                     # nothing learned
    bad["runs"]["ResNet"]["parameters"] = 500000                  # a ResNet larger than SimpleConvNet
    bad["runs"]["DenseNet"]["macs"] = bad["runs"]["SimpleConvNet"]["macs"]   # as cheap as it
    assert [c.passed for c in check(bad, Config(**SYNTHETIC))] == [False, False, False, False]


def test_config_validation():
    with pytest.raises(ConfigError):
        Config(dataset="cifar")
    with pytest.raises(ConfigError):
        Config(mac_ratio=0.5)
    EXPERIMENTS.get("architectures").make_config(quick=True)
