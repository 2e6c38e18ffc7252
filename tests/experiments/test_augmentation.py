"""augmentation: a quick synthetic run writes its files and sample digits, and each claim decides both ways."""

import copy

import numpy as np
import pytest

from trainlab.errors import ConfigError, UnknownNameError
from trainlab.experiments import run_experiment
from trainlab.experiments.augmentation import Config, book, check
from trainlab.plots.augmentation import decode_images, encode_images

NAME = "augmentation"
OVERRIDES = {"dataset": "synthetic", "n_train": 200, "n_test": 200, "epochs": 6, "window": 2,
             "n_show": 4, "n_variants": 3}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp")
    res = run_experiment(NAME, out, quick=True, overrides=OVERRIDES, log=None)
    return next(out.iterdir()), res  # the run's one folder, whatever the runner names it


def set_accuracy(run, train, test):
    run.update(mean_train_acc=train, mean_test_acc=test, mean_gap=train - test, best_test_acc=test)


def test_quick_run_writes_metrics_samples_and_figures(result):
    folder, r = result
    assert r.error is None
    assert (folder / "metrics.json").is_file()
    m = r.metrics
    assert m["pipeline"] == [{"name": "affine", "degrees": 10.0, "scale": [0.9, 1.1], "translate": 2.0,
                              "interpolation": "bilinear", "fill": 0.0}]
    assert set(m["runs"]) == {"without", "with"}
    for run in m["runs"].values():
        assert len(run["train_acc"]) == len(run["test_acc"]) == 6
    samples = m["samples"]
    assert samples["labels"] == [0, 1, 2, 3]
    original = decode_images(samples["original"])
    augmented = np.array([decode_images(a) for a in samples["augmented"]])
    assert original.shape == (4, 28, 28) and augmented.shape == (4, 3, 28, 28)
    assert original.max() > 200                                # digits, not blank images
    assert not np.array_equal(augmented[:, 0], original)      # the copies really are warped
    assert sorted(r.figures) == ["augmentation-accuracy.png", "augmented-digits.png"]
    for name in r.figures:
        assert (folder / name).stat().st_size > 10_000


def test_images_survive_the_encoding():
    images = np.random.default_rng(0).random((3, 784)).astype(np.float32)
    encoded = encode_images(images)
    assert len(encoded) == 3 and len(encoded[0]) == 28 and len(encoded[0][0]) == 56
    assert np.abs(decode_images(encoded) / 255 - images.reshape(3, 28, 28)).max() <= 0.5 / 255 + 1e-6


def test_claims_on_the_run_follow_its_numbers(result):
    _, r = result
    config = Config(**OVERRIDES)
    claims = check(r.metrics, config)
    off, on = r.metrics["runs"]["without"], r.metrics["runs"]["with"]
    assert claims[0].passed == (on["mean_test_acc"] - off["mean_test_acc"] >= config.min_test_gain)
    assert claims[1].passed == (off["mean_gap"] - on["mean_gap"] >= config.min_gap_reduction)
    assert f"{off['mean_test_acc']:.4f}" in claims[0].evidence


def test_each_claim_decides_both_ways(result):
    _, r = result
    config = Config(**OVERRIDES)
    good = copy.deepcopy(r.metrics)
    set_accuracy(good["runs"]["without"], 1.0, 0.87)
    set_accuracy(good["runs"]["with"], 0.97, 0.92)
    assert [c.passed for c in check(good, config)] == [True, True]
    bad = copy.deepcopy(r.metrics)
    set_accuracy(bad["runs"]["without"], 1.0, 0.87)
    set_accuracy(bad["runs"]["with"], 0.995, 0.875)   # test +0.005, gap -0.01: both below their margins
    assert [c.passed for c in check(bad, config)] == [False, False]
    assert [b.measured for b in book(good, config)] == [0.87, 0.92]
    assert check(good, config)[0].values["gain"] == pytest.approx(0.05)
    assert check(good, config)[1].values["reduction"] == pytest.approx(0.08)


def test_figures_of_two_seeds(result, tmp_path):
    from trainlab.plots.augmentation import plot_augmentation

    _, r = result
    other = copy.deepcopy(r.metrics)
    other["runs"]["with"]["test_acc"] = [a * 0.95 for a in other["runs"]["with"]["test_acc"]]
    paths = plot_augmentation([r.metrics, other], Config(**OVERRIDES), tmp_path)
    assert sorted(p.name for p in paths) == ["augmentation-accuracy.png", "augmented-digits.png"]


def test_config_validation():
    with pytest.raises(ConfigError):
        Config(n_show=11)
    with pytest.raises(ConfigError):
        Config(epochs=5, window=10)
    with pytest.raises(UnknownNameError):
        Config(augment="twirl:3")
