"""hyperparameter-search: a quick run on synthetic data, the sampler and loop, and claims that decide both ways."""

import copy

import numpy as np
import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import EXPERIMENTS, run_experiment
from trainlab.experiments.hyperparameter_search import (
    Config,
    _spearman,
    book,
    check,
    log_box,
    ranked,
    sample_trials,
    search,
)

OVERRIDES = {"dataset": "synthetic"}


@pytest.fixture(scope="module")
def config():
    return EXPERIMENTS.get("hyperparameter-search").make_config(quick=True, overrides=OVERRIDES)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("hyperparameter-search")
    return run_experiment("hyperparameter-search", out, quick=True, overrides=OVERRIDES, log=None), out


def test_quick_run_writes_metrics_and_figures(result, config):
    res, out = result
    assert res.error is None
    folder = next(out.iterdir())  # the run's one folder, whatever the runner names it
    assert (folder / "metrics.json").is_file() and res.config["dataset"] == "synthetic"
    m = res.metrics
    assert {"round1", "round2", "summary", "top", "ranges", "spearman", "n_train", "n_val"} <= set(m)
    assert len(m["round1"]) == config.n_trials and len(m["round2"]) == config.n_refine_trials
    assert m["n_train"] + m["n_val"] == config.n_samples and m["n_val"] == config.n_val
    trial = m["round1"][0]
    assert {"lr", "weight_decay", "val_acc", "train_acc", "val_curve", "train_curve", "diverged"} <= set(trial)
    assert len(trial["val_curve"]) == len(trial["train_curve"]) == config.epochs
    assert trial["val_acc"] == trial["val_curve"][-1]
    assert sorted(res.figures) == ["best-trials.png", "search-space.png"]
    for name in res.figures:
        assert (folder / name).stat().st_size > 10_000


def test_second_round_samples_inside_the_best_trials_box(result, config):
    m = result[0].metrics
    best = ranked(m["round1"])[: config.refine_top]
    box = m["ranges"]["round2"]
    assert box == {k: list(v) for k, v in log_box(best, names=("weight_decay", "lr")).items()}
    for trial in m["round2"]:
        for name in ("lr", "weight_decay"):
            assert box[name][0] - 1e-12 <= np.log10(trial[name]) <= box[name][1] + 1e-12


def test_measured_claims(result, config):
    m = result[0].metrics
    concentrate, narrowed = check(m, config)
    top = m["top"]
    # The verdicts follow the stated rules on the measured numbers.
    assert concentrate.passed == (top["log_lr_span"] <= 0.5 * top["log_lr_span_all"]
                                  and top["fraction_in_band"] >= 0.8)
    assert f"{top['log_lr_span']:.2f} decades" in concentrate.evidence
    s = m["summary"]
    assert narrowed.passed and s["round2"]["median_val_acc"] > s["round1"]["median_val_acc"]
    assert f"round 1 {s['round1']['median_val_acc']:.3f}" in narrowed.evidence
    rows = book(m, config)
    assert rows[2].book == 0.83 and rows[2].measured == round(top["val_acc"][0], 3)


def test_claims_fail_when_the_numbers_say_so(result, config):
    good = copy.deepcopy(result[0].metrics)
    good["top"].update(log_lr_span=1.0, log_lr_span_all=4.0, fraction_in_band=0.9)
    assert check(good, config)[0].passed

    spread = copy.deepcopy(good)
    spread["top"]["log_lr_span"] = 3.0                   # the best trials spread over most of the range
    off_band = copy.deepcopy(good)
    off_band["top"]["fraction_in_band"] = 0.5       # concentrated, but not where the book says
    no_gain = copy.deepcopy(good)
    no_gain["summary"]["round2"]["median_val_acc"] = no_gain["summary"]["round1"]["median_val_acc"]
    assert not check(spread, config)[0].passed
    assert not check(off_band, config)[0].passed
    assert not check(no_gain, config)[1].passed
    claims = check(good, config)
    assert claims[0].values["top 5: fraction in the band"] == 0.9 and all(c.values for c in claims)


def test_the_band_is_declared_per_dataset(result):
    from trainlab.experiments.hyperparameter_search import BOOK_LR_BAND

    assert Config().band == BOOK_LR_BAND and Config(dataset="fashion-mnist").band == BOOK_LR_BAND
    assert Config(dataset="fashion-mnist", lr_band=(1e-4, 1e-3)).band == (1e-4, 1e-3)
    with pytest.raises(ConfigError, match="lr_band"):
        Config(lr_band=(1e-2, 1e-3))
    # The claim reads the band the run measured with.
    m = copy.deepcopy(result[0].metrics)
    m["top"].update(log_lr_span=1.0, log_lr_span_all=4.0, fraction_in_band=0.9, lr_band=[1e-4, 1e-3])
    assert "[0.0001, 0.001]" in check(m, Config())[0].evidence


def test_figures_of_two_seeds(result, config, tmp_path):
    from trainlab.plots.hyperparameter_search import plot_hyperparameter_search

    m = result[0].metrics
    other = copy.deepcopy(m)
    other["summary"]["round2"]["median_val_acc"] = 0.5
    paths = plot_hyperparameter_search([m, other], config, tmp_path)
    assert sorted(p.name for p in paths) == ["best-trials.png", "search-space.png"]


def test_sample_trials_is_log_uniform_and_seeded():
    ranges = {"weight_decay": (-8.0, -4.0), "lr": (-6.0, -2.0)}
    a = sample_trials(2000, ranges, np.random.default_rng(5))
    b = sample_trials(2000, ranges, np.random.default_rng(5))
    assert a == b
    log_lr = np.log10([t["lr"] for t in a])
    assert log_lr.min() >= -6 and log_lr.max() <= -2
    # Uniform in the exponent: each decade gets about a quarter of the draws.
    counts = np.histogram(log_lr, bins=[-6, -5, -4, -3, -2])[0]
    assert np.all(np.abs(counts / 2000 - 0.25) < 0.04)


def test_search_loop_takes_any_trainer():
    def fake_trainer(params, train, val, config, seed):
        return {**params, "val_acc": -abs(np.log10(params["lr"]) + 3), "seed": seed}

    trials = sample_trials(6, {"lr": (-5.0, -1.0)}, np.random.default_rng(0))
    out = search(trials, None, None, Config(), np.random.default_rng(1), train_fn=fake_trainer)
    assert [r["lr"] for r in out] == [t["lr"] for t in trials]
    assert len({r["seed"] for r in out}) == 6
    assert ranked(out)[0]["lr"] == min(trials, key=lambda t: abs(np.log10(t["lr"]) + 3))["lr"]


def test_spearman_handles_ties():
    assert _spearman([1, 2, 3, 4], [0.1, 0.1, 0.5, 0.9]) == pytest.approx(np.corrcoef([0, 1, 2, 3],
                                                                                     [0.5, 0.5, 2, 3])[0, 1])
    assert _spearman([1, 2, 3], [0.2, 0.2, 0.2]) == 0.0


def test_config_validation():
    with pytest.raises(ConfigError):
        Config(lr_range=(-2.0, -6.0))
    with pytest.raises(ConfigError):
        Config(refine_top=1)
    with pytest.raises(ConfigError):
        Config(n_trials=10, top_k=20)
    with pytest.raises(ConfigError):
        Config(val_fraction=1.0)
    with pytest.raises(ConfigError):
        Config(dataset="cifar")


@pytest.mark.parametrize("engine", ["optuna", "loop"])
def test_both_engines_produce_the_same_kind_of_round(engine, tmp_path):
    if engine == "optuna":
        pytest.importorskip("optuna")
    overrides = {**OVERRIDES, "engine": engine, "n_trials": 6, "n_refine_trials": 3, "epochs": 3,
                 "top_k": 3, "refine_top": 3}
    res = run_experiment("hyperparameter-search", tmp_path, quick=True, overrides=overrides, log=None,
                         figures=False)
    assert res.error is None
    m = res.metrics
    assert len(m["round1"]) == 6 and len(m["round2"]) == 3
    for row in m["round1"]:
        assert 1e-6 <= row["lr"] <= 1e-2 and 1e-8 <= row["weight_decay"] <= 1e-4
        assert 0.0 <= row["val_acc"] <= 1.0 and (row["diverged"] or len(row["val_curve"]) == 3)


def test_unknown_engine_is_refused():
    from trainlab.errors import ConfigError

    with pytest.raises(ConfigError, match="engine"):
        EXPERIMENTS.get("hyperparameter-search").make_config(overrides={"engine": "grid"})
