"""init-activations: runs, writes its figures, and each claim check decides both ways."""

import copy
import json

import numpy as np
import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import EXPERIMENTS, run_experiment
from trainlab.experiments.init_activations import Config, check, reference_std, run
from trainlab.plots.init_activations import plot_init_activations

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
                                   "sigmoid-gradients.png", "std-by-layer.png"]
    runs = res.metrics["runs"]
    assert set(runs) == {"sigmoid", "tanh", "relu"}
    for activation, by_init in runs.items():
        assert set(by_init) == {"std=1", "std=0.01", "Xavier", "He"}
        assert len(res.metrics["edges"][activation]) == 31
        for r in by_init.values():
            assert len(r["layers"]) == len(r["mean_derivative"]) == len(r["weight_grad_std"]) == 3
            assert all(len(layer["counts"]) == 30 for layer in r["layers"])
    # Sigmoid and tanh outputs all fall inside their range, so the counts add up to every output.
    assert sum(runs["sigmoid"]["Xavier"]["layers"][0]["counts"]) == 300 * 100


def test_reference_std_matches_sampling():
    z = np.random.default_rng(0).standard_normal(1_000_000)
    assert reference_std("tanh") == pytest.approx(np.tanh(z).std(), rel=5e-3)
    assert reference_std("relu") == pytest.approx(np.maximum(z, 0).std(), rel=5e-3)


def test_measured_claims(result):
    res, _ = result
    assert len(res.claims) == 9
    spread = res.claims[:5] + [res.claims[5], res.claims[7]]   # the spreads, and the sigmoid's derivative
    assert all(c.passed for c in spread), [c.evidence for c in spread if not c.passed]
    runs = res.metrics["runs"]["sigmoid"]
    # The sigmoid's derivative is at most 0.25, and about that for outputs at 0.5 (std 0.01).
    assert all(0 < d <= 0.25 for r in runs.values() for d in r["mean_derivative"])
    assert min(runs["std=0.01"]["mean_derivative"]) > 0.24
    # Weights of std 0.01 shrink the gradient about 40-fold per layer on its way back.
    grads = runs["std=0.01"]["weight_grad_std"]
    assert grads[0] < grads[1] < grads[2] and grads[0] / grads[2] < 1e-2


def test_gradient_claims_decide_both_ways(result):
    res, _ = result
    config = Config(**SMALL)
    m = copy.deepcopy(res.metrics)
    big, small = m["runs"]["sigmoid"]["std=1"], m["runs"]["sigmoid"]["std=0.01"]
    big.update(mean_derivative=[0.05, 0.06, 0.06], weight_grad_std=[0.01, 0.1, 1.0])
    small.update(mean_derivative=[0.249, 0.25, 0.25], weight_grad_std=[0.5, 0.8, 1.0])
    claims = check(m, config)[5:]
    assert [c.passed for c in claims] == [True] * 4, [c.evidence for c in claims]
    assert claims[1].values["first / last layer weight gradient"] == pytest.approx(0.01)
    big.update(mean_derivative=[0.05, 0.2, 0.06], weight_grad_std=[0.2, 0.1, 1.0])
    small.update(mean_derivative=[0.2, 0.25, 0.25], weight_grad_std=[0.05, 0.8, 1.0])
    assert [c.passed for c in check(m, config)[5:]] == [False] * 4


def test_plot_with_two_seeds(result, tmp_path):
    res, _ = result
    second = copy.deepcopy(res.metrics)
    for by_init in second["runs"].values():
        for r in by_init.values():
            r["weight_grad_std"] = [g * 1.5 for g in r["weight_grad_std"]]
            for layer in r["layers"]:
                layer["std"] *= 0.9
    paths = plot_init_activations([res.metrics, second], Config(**SMALL), tmp_path)
    assert [p.name for p in paths][-2:] == ["std-by-layer.png", "sigmoid-gradients.png"]


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
    verdicts = {c.statement: c.passed for c in check(bad, config)[:5]}
    assert len(verdicts) == 5 and not any(verdicts.values())


def test_run_is_deterministic_given_the_seed():
    config = Config(n_layers=3, n_samples=50)
    a, b = run(config, seed=5), run(config, seed=5)
    assert a == b
    other = run(config, seed=6)
    # The seed draws the input, the weights and the gradient sent back.
    assert other["runs"]["tanh"]["He"]["layers"][0]["std"] != a["runs"]["tanh"]["He"]["layers"][0]["std"]
    assert other["runs"]["sigmoid"]["std=1"]["weight_grad_std"] != a["runs"]["sigmoid"]["std=1"]["weight_grad_std"]


def test_config_validation():
    with pytest.raises(ConfigError):
        Config(n_layers=2)
    with pytest.raises(ConfigError):
        Config(edge=0.6)
    EXPERIMENTS.get("init-activations").make_config(quick=True)
