"""init-activations: runs, writes its figures, and each claim check decides both ways."""

import copy
import json

import numpy as np
import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import EXPERIMENTS, run_experiment
from trainlab.experiments.init_activations import Config, check, reference_std, run

# Fewer layers and samples keep the 3 x 4 x n_layers histogram panels quick to draw.
SMALL = {"n_layers": 3, "n_samples": 300}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp")
    return run_experiment("init-activations", out, quick=True, overrides=SMALL, log=None), out


def test_run_writes_metrics_and_figures(result):
    res, out = result
    assert res.error is None
    saved = json.loads((out / "init-activations" / "metrics.json").read_text())
    assert saved["config"]["n_layers"] == 3
    assert sorted(res.figures) == ["histograms-relu.png", "histograms-sigmoid.png", "histograms-tanh.png",
                                   "std-by-layer.png"]
    runs = saved["metrics"]["runs"]
    assert set(runs) == {"sigmoid", "tanh", "relu"}
    for activation, by_init in runs.items():
        assert set(by_init) == {"std=1", "std=0.01", "Xavier", "He"}
        assert len(saved["metrics"]["edges"][activation]) == 31
        for r in by_init.values():
            assert len(r["layers"]) == 3
            assert all(len(layer["counts"]) == 30 for layer in r["layers"])
    # Sigmoid and tanh outputs all fall inside their range, so the counts add up to every output.
    assert sum(runs["sigmoid"]["Xavier"]["layers"][0]["counts"]) == 300 * 100


def test_reference_std_matches_sampling():
    z = np.random.default_rng(0).standard_normal(1_000_000)
    assert reference_std("tanh") == pytest.approx(np.tanh(z).std(), rel=5e-3)
    assert reference_std("relu") == pytest.approx(np.maximum(z, 0).std(), rel=5e-3)


def test_measured_claims_pass(result):
    res, _ = result
    assert len(res.claims) == 5
    assert all(c.passed for c in res.claims), [c.evidence for c in res.claims if not c.passed]


def test_claims_fail_when_the_numbers_say_so(result):
    res, _ = result
    config = Config(**SMALL)
    bad = copy.deepcopy(res.metrics)
    runs = bad["runs"]
    for layer in runs["sigmoid"]["std=1"]["layers"]:       # no pile-up at 0 and 1
        layer["low_fraction"] = layer["high_fraction"] = 0.1
    runs["sigmoid"]["std=0.01"]["layers"][-1]["std"] = 0.2  # a wide last layer
    runs["tanh"]["Xavier"]["std_ratio_per_layer"] = 0.5     # Xavier shrinks with tanh
    runs["relu"]["He"]["layers"][-1]["std"] = 1e-3          # He collapses
    runs["relu"]["Xavier"]["std_ratio_per_layer"] = 0.95    # Xavier holds with ReLU
    verdicts = {c.statement: c.passed for c in check(bad, config)}
    assert len(verdicts) == 5 and not any(verdicts.values())


def test_run_is_deterministic_given_the_seed():
    config = Config(n_layers=3, n_samples=50)
    a, b = run(config, seed=5), run(config, seed=5)
    assert a == b
    assert run(config, seed=6)["runs"]["tanh"]["He"] != a["runs"]["tanh"]["He"]


def test_config_validation():
    with pytest.raises(ConfigError):
        Config(n_layers=2)
    with pytest.raises(ConfigError):
        Config(edge=0.6)
    EXPERIMENTS.get("init-activations").make_config(quick=True)
