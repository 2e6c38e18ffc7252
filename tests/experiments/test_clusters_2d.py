"""clusters-2d: a quick run writes figures and .npz files that load back; claims decide both ways."""

import copy

import numpy as np
import pytest

from trainlab.checkpoint import load
from trainlab.data.synthetic import load_npz
from trainlab.errors import ConfigError
from trainlab.experiments import EXPERIMENTS, run_experiment
from trainlab.experiments.clusters_2d import DATASET_FILE, MODEL_FILE, Config, check, nearest_centre, run


@pytest.fixture(scope="module")
def config():
    return EXPERIMENTS.get("clusters-2d").make_config(quick=True)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("clusters-2d")
    return run_experiment("clusters-2d", out, quick=True, log=None), out


def test_quick_run_writes_metrics_figure_and_data_files(result, config):
    res, out = result
    assert res.error is None
    folder = out / "clusters-2d"
    assert (folder / "metrics.json").is_file()
    m = res.metrics
    assert {"train_loss", "train_acc", "batch_loss_mean", "final_train_acc", "nearest_centre_acc", "grid",
            "data", "params", "saved"} <= set(m)
    assert len(m["train_acc"]) == len(m["batch_loss_mean"]) == config.epochs
    grid = np.asarray(m["grid"]["net"])
    assert grid.shape == (config.grid_size, config.grid_size)
    assert grid.min() >= 0 and grid.max() < config.n_centers
    assert res.figures == ["clusters-decision-regions.png"]
    assert (folder / res.figures[0]).stat().st_size > 10_000
    assert sorted(res.artifacts) == sorted([DATASET_FILE, MODEL_FILE])

    # The files beside the figure are the run's data set and model.
    x, t = load_npz(folder / DATASET_FILE)
    assert x.dtype == np.float32 and x.shape == (config.n_centers * config.n_per_center, 2)
    assert np.array_equal(x, np.asarray(m["data"]["x"], np.float32)) and np.array_equal(t, m["data"]["t"])
    model = load(folder / MODEL_FILE)
    for name, value in model.state_dict().items():
        assert np.array_equal(value, np.asarray(m["params"][name], np.float32))
    assert (model.forward(x, train=False).argmax(1) == t).mean() == pytest.approx(m["final_train_acc"])


def test_measured_claims(result, config):
    m = result[0].metrics
    fits, saved = check(m, config)
    assert fits.passed and m["final_train_acc"] >= m["nearest_centre_acc"] - config.accuracy_slack
    assert f"{m['nearest_centre_acc']:.3f}" in fits.evidence
    assert saved.passed and "max |score difference| of the reloaded model 0.0e+00" in saved.evidence
    assert fits.values["nearest-centre accuracy"] == m["nearest_centre_acc"]
    assert saved.values["max |score difference| of the reloaded model"] == 0.0


def test_figure_of_two_seeds(result, config, tmp_path):
    from trainlab.plots.clusters_2d import plot_clusters_2d

    m = result[0].metrics
    other = copy.deepcopy(m)
    other["train_acc"] = [a * 0.9 for a in m["train_acc"]]
    other["nearest_centre_acc"] = m["nearest_centre_acc"] - 0.02
    paths = plot_clusters_2d([m, other], config, tmp_path)
    assert [p.name for p in paths] == ["clusters-decision-regions.png"] and paths[0].stat().st_size > 10_000


def test_claims_fail_when_the_numbers_say_so(result, config):
    m = result[0].metrics
    underfit = copy.deepcopy(m)
    underfit["final_train_acc"] = m["nearest_centre_acc"] - 0.1
    assert not check(underfit, config)[0].passed
    for key, value in (("dataset_identical", False), ("params_identical", False),
                       ("predictions_identical", False), ("max_abs_score_diff", 1e-3)):
        broken = copy.deepcopy(m)
        broken["saved"][key] = value
        assert not check(broken, config)[1].passed, key


def test_legacy_data_are_the_example_script_points():
    # The example: np.random.seed(0); centres uniform in [-8, 8]^2; then each point's noise in turn.
    rs = np.random.RandomState(0)
    centres = rs.uniform(-8.0, 8.0, (10, 2))
    pts = np.stack([c + rs.randn(2) for c in centres for _ in range(100)]).astype(np.float32)
    m = run(Config(legacy=True, epochs=1, grid_size=4), seed=0)
    assert np.array_equal(np.asarray(m["data"]["x"], np.float32), pts)
    assert m["data"]["t"] == [k for k in range(10) for _ in range(100)]


def test_nearest_centre():
    centres = np.array([[0.0, 0.0], [10.0, 0.0]])
    assert nearest_centre(np.array([[1.0, 5.0], [6.0, -1.0]]), centres).tolist() == [0, 1]


def test_config_validation():
    with pytest.raises(ConfigError):
        Config(n_centers=1)
    with pytest.raises(ConfigError):
        Config(low=1.0, high=1.0)
    with pytest.raises(ConfigError):
        Config(grid_size=1)


def test_data_files_are_written_without_figures(tmp_path, config):
    from trainlab.experiments import run_experiment

    res = run_experiment("clusters-2d", tmp_path, quick=True, figures=False, log=None,
                         overrides={"epochs": 2})
    assert res.error is None and res.figures == []
    assert (tmp_path / "clusters-2d" / DATASET_FILE).exists() and (tmp_path / "clusters-2d" / MODEL_FILE).exists()
