"""architectures: a quick synthetic run of the five models, and claims that decide both ways."""

import copy
import json

import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import EXPERIMENTS, run_experiment
from trainlab.experiments.architectures import MODELS, Config, book, check

SYNTHETIC = {"dataset": "synthetic", "n_train": 200, "n_test": 200}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp")
    return run_experiment("architectures", out, quick=True, overrides=SYNTHETIC, log=None), out


def test_quick_run_writes_metrics_and_figures(result):
    res, out = result
    assert res.error is None
    saved = json.loads((out / "architectures" / "metrics.json").read_text())
    assert saved["config"]["dataset"] == "synthetic" and res.figures == ["accuracy-vs-parameters.png"]
    runs = saved["metrics"]["runs"]
    assert list(runs) == [label for label, _ in MODELS]
    # The parameter counts documented for the models.
    assert {k: r["parameters"] for k, r in runs.items()} == {
        "SimpleConvNet": 433890, "DeepConvNet": 123552, "ResNet": 77674, "InceptionNet": 94950, "DenseNet": 65410}
    for r in runs.values():
        assert r["iterations"] == 4 and r["train_seconds"] > 0 and 0 <= r["test_acc"] <= 1
        assert len(r["loss_iterations"]) == len(r["smoothed_loss"])


def test_measured_claims(result):
    res, _ = result
    assert len(res.claims) == 4
    # Four steps teach the models little; the architecture facts hold regardless of training.
    _, _, smaller, costlier = res.claims
    assert smaller.passed, smaller.evidence
    assert costlier.passed, costlier.evidence
    rows = book(res.metrics, Config(**SYNTHETIC))
    assert [r.book for r in rows] == ["0.876-0.932", 0.937, 0.949, 0.954]


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
