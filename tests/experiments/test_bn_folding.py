"""bn-folding: a quick run on synthetic data, and each claim check decides both ways."""

import copy

import numpy as np
import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import EXPERIMENTS, run_experiment
from trainlab.experiments.bn_folding import Config, best_time, check, time_inference

OVERRIDES = {"dataset": "synthetic"}


@pytest.fixture(scope="module")
def config():
    return EXPERIMENTS.get("bn-folding").make_config(quick=True, overrides=OVERRIDES)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("bn-folding")
    return run_experiment("bn-folding", out, quick=True, overrides=OVERRIDES, log=None), out


def test_quick_run_writes_metrics_and_figure(result, config):
    res, out = result
    assert res.error is None
    folder = next(out.iterdir())  # the run's one folder, whatever the runner names it
    assert (folder / "metrics.json").is_file()
    m = res.metrics
    assert {"max_abs_diff", "agreement", "test_acc_original", "test_acc_folded", "timing", "diff_histogram",
            "scatter", "layers", "max_abs_error_original", "max_abs_error_folded"} <= set(m)
    assert m["dtype"] == "float32" and m["n_test"] == config.n_test
    assert set(m["timing"]) == {str(b) for b in config.timing_batch_sizes}
    for r in m["timing"].values():
        assert len(r["original"]) == len(r["folded"]) == config.repeats
        assert r["speedup"] == pytest.approx(r["best_original"] / r["best_folded"])
        # The sum of per-batch minima is never slower than the fastest whole pass.
        assert r["best_original"] <= min(r["original"]) + 1e-12 and r["best_folded"] <= min(r["folded"]) + 1e-12
    hist = m["diff_histogram"]
    assert sum(hist["counts"]) + hist["zeros"] + hist["below"] + hist["above"] == m["n_test"] * 10
    assert m["layers"]["original"]["BatchNorm"] == len((100, 100, 100, 100))
    assert m["layers"]["folded"] == {"Linear": 5, "BatchNorm": 0,
                                     "parameters": m["layers"]["original"]["parameters"] - 4 * 2 * 100}
    assert res.figures == ["bn-folding.png"]
    assert (folder / res.figures[0]).stat().st_size > 10_000


def test_measured_claims(result, config):
    m = result[0].metrics
    same_outputs, same_predictions, faster = check(m, config)
    assert same_outputs.passed and m["max_abs_diff"] <= config.tolerance * max(1.0, m["max_abs_score"])
    assert same_predictions.passed and m["n_disagree"] == 0
    assert f"{m['max_abs_diff']:.2e}" in same_outputs.evidence
    # Timing depends on the machine: the verdict must follow the measured speedups.
    assert faster.passed == all(r["speedup"] > 1 for r in m["timing"].values())
    assert same_outputs.values["max |score difference|"] == m["max_abs_diff"]
    assert set(faster.values) == {f"speedup, batch {b}" for b in config.timing_batch_sizes}


def test_figure_of_two_seeds(result, config, tmp_path):
    from trainlab.plots.bn_folding import plot_bn_folding

    m = result[0].metrics
    other = copy.deepcopy(m)
    for r in other["timing"].values():
        r["best_folded"] *= 1.5
    paths = plot_bn_folding([m, other], config, tmp_path)
    assert [p.name for p in paths] == ["bn-folding.png"] and paths[0].stat().st_size > 10_000


def test_claims_fail_when_the_numbers_say_so(result, config):
    m = result[0].metrics
    off = copy.deepcopy(m)
    off["max_abs_diff"] = 10 * config.tolerance * max(1.0, m["max_abs_score"])
    # Rounding grows with the scores: the same relative error on 100x larger scores still passes.
    large = copy.deepcopy(m)
    large["max_abs_score"], large["max_abs_diff"] = 1000.0, 500 * config.tolerance
    unfolded = copy.deepcopy(m)
    unfolded["layers"]["folded"]["BatchNorm"] = 1
    flipped = copy.deepcopy(m)
    flipped["n_disagree"], flipped["agreement"] = 3, 1 - 3 / m["n_test"]
    slower = copy.deepcopy(m)
    first = next(iter(slower["timing"].values()))
    first["speedup"] = 0.95
    assert not check(off, config)[0].passed
    assert check(large, config)[0].passed
    assert not check(unfolded, config)[0].passed
    assert not check(flipped, config)[1].passed
    assert not check(slower, config)[2].passed


def test_time_inference_takes_turns_per_batch():
    calls = []

    class Probe:
        def __init__(self, name):
            self.name = name

        def forward(self, x, *, train):
            calls.append(self.name)
            return x

    times = time_inference({"a": Probe("a"), "b": Probe("b")}, np.zeros((6, 2)), batch_size=4, repeats=3)
    assert {k: v.shape for k, v in times.items()} == {"a": (3, 2), "b": (3, 2)}
    # Warm-up (each model over both batches), then turns per batch, the order swapping each repeat.
    assert calls == ["a", "a", "b", "b"] + ["a", "b"] * 2 + ["b", "a"] * 2 + ["a", "b"] * 2
    assert best_time(np.array([[3.0, 1.0], [2.0, 5.0]])) == 3.0


def test_config_validation():
    with pytest.raises(ConfigError):
        Config(hidden_sizes=())
    with pytest.raises(ConfigError):
        Config(timing_batch_sizes=(0,))
    with pytest.raises(ConfigError):
        Config(dataset="imagenet")
