"""optimizer-paths: runs in quick mode, and each claim check decides both ways."""

import copy

import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import EXPERIMENTS, run_experiment
from trainlab.experiments.optimizer_paths import CLAIMS, Config, check, run
from trainlab.plots.optimizer_paths import plot_optimizer_paths


@pytest.fixture(scope="module")
def metrics():
    return run(EXPERIMENTS.get("optimizer-paths").make_config(quick=True))


def _verdicts(metrics, config=None):
    return {c.id.split("/")[1]: c.passed for c in check(metrics, config or Config())}


def test_quick_run_writes_metrics_and_figures(tmp_path):
    result = run_experiment("optimizer-paths", tmp_path, quick=True, log=None)
    assert result.error is None
    assert (tmp_path / "optimizer-paths" / "metrics.json").exists()
    assert sorted(result.figures) == ["saddle-and-local-minimum.png", "valley-paths.png", "valley-steps.png"]


def test_plot_takes_several_seeds(metrics, tmp_path):
    config = Config(saddle_steps=60, local_steps=60)
    paths = plot_optimizer_paths([metrics, run(config, seed=1)], config, tmp_path)
    assert [p.name for p in paths] == ["valley-paths.png", "valley-steps.png", "saddle-and-local-minimum.png"]


def test_measured_claims(metrics):
    claims = check(metrics, Config())
    assert [c.id for c in claims] == list(CLAIMS)
    # Every claim but one holds on the book's bowl: averaged over the run, SGD is nearer x = 0 than Momentum.
    failing = [c.id for c in claims if not c.passed]
    assert failing == ["optimizer-paths/momentum-nearer-along-x"], [c.evidence for c in claims if not c.passed]
    assert all(c.values for c in claims)
    zigzag = claims[0]
    assert "SGD 29 sign changes" in zigzag.evidence and zigzag.values["SGD y sign changes"] == 29


def test_the_seed_changes_nothing(metrics):
    assert run(Config(saddle_steps=60, local_steps=60), seed=7) == metrics


def test_claims_fail_when_the_numbers_say_so(metrics):
    bad = copy.deepcopy(metrics)
    v = bad["valley"]
    v["Adam"]["y_sign_changes"] = 40                      # someone zig-zags more than SGD
    v["Momentum"]["efficiency"] = 0.01                    # and wanders
    v["Momentum"]["update_change"] = 2.0                  # its update reverses every step
    v["Momentum"]["x_sign_changes"] = 1                   # its x-velocity turns
    v["Momentum"]["x_mean_abs"] = v["SGD"]["x_mean_abs"] + 1.0   # stays further from x = 0
    v["AdaGrad"]["y_step_at_fade"] = v["AdaGrad"]["y_step_first"] * 0.5   # its y-steps do not fade
    v["AdaGrad"]["rate_y"] = v["AdaGrad"]["rate_x"] * 2   # the steep coordinate keeps the larger rate
    v["Adam"]["swing_after_crossing"] = 3.0               # Adam swings wider than momentum
    bad["saddle"]["momentum"]["escape_step"] = None       # momentum stuck at the saddle
    bad["double_well"]["momentum"]["final_x"] = 1.3       # and in the local minimum
    verdicts = _verdicts(bad)
    assert not any(verdicts.values()), verdicts


@pytest.mark.parametrize("key, edit", [
    ("momentum-x-velocity-builds", lambda v: v["Momentum"].update(x_speed_peak=v["Momentum"]["x_speed_first"] * 2)),
    ("momentum-x-velocity-builds", lambda v: v["Momentum"].update(y_sign_changes=1)),
    ("adagrad-y-steps-fade", lambda v: v["SGD"].update(y_step_at_fade=0.0)),
    ("adagrad-slows-steep-coordinate", lambda v: v["SGD"].update(final_abs_x=0.0)),
])
def test_each_new_claim_fails_on_its_own_numbers(metrics, key, edit):
    bad = copy.deepcopy(metrics)
    assert _verdicts(bad)[key]
    edit(bad["valley"])
    assert not _verdicts(bad)[key]


def test_config_validation():
    with pytest.raises(ConfigError):
        Config(steps=1)
    with pytest.raises(ConfigError, match="fade_step"):
        Config(steps=5, fade_step=10)
    with pytest.raises(ConfigError, match="x_fraction"):
        Config(x_fraction=1.0)


@pytest.mark.parametrize("name", ["valley", "saddle", "double_well"])
def test_each_2d_function_has_its_gradient(name):
    import numpy as np

    from trainlab import functions2d

    f, grad = getattr(functions2d, name), getattr(functions2d, f"{name}_grad")
    h = 1e-6
    for point in ((-7.0, 2.0), (1.0, 1e-4), (2.5, 1.0), (-1.2, -0.3)):
        v = np.array(point)
        numeric = [(f(v + h * e) - f(v - h * e)) / (2 * h) for e in np.eye(2)]
        assert grad(v) == pytest.approx(numeric, rel=1e-6, abs=1e-8)
    grid = np.stack(np.meshgrid(np.linspace(-1, 1, 3), np.linspace(-1, 1, 4)))
    assert f(grid).shape == (4, 3)  # the contour plots evaluate whole grids


def test_momentum_nearer_along_x_is_decided_by_the_mean_distance_both_ways(metrics):
    """Decided by |x| averaged over the steps; on the book's bowl and rates SGD is nearer on average."""
    key = "momentum-nearer-along-x"
    valley = metrics["valley"]
    assert _verdicts(metrics)[key] == (valley["Momentum"]["x_mean_abs"] < valley["SGD"]["x_mean_abs"])
    for momentum, sgd, expected in ((1.0, 2.0, True), (2.0, 1.0, False), (1.5, 1.5, False)):
        edited = copy.deepcopy(metrics)
        edited["valley"]["Momentum"]["x_mean_abs"], edited["valley"]["SGD"]["x_mean_abs"] = momentum, sgd
        assert _verdicts(edited)[key] is expected
