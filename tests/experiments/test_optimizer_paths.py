"""optimizer-paths: runs in quick mode, and each claim check decides both ways."""

import copy

import pytest

from trainlab.experiments import EXPERIMENTS, run_experiment
from trainlab.experiments.optimizer_paths import Config, check, run


@pytest.fixture(scope="module")
def metrics():
    return run(EXPERIMENTS.get("optimizer-paths").make_config(quick=True))


def test_quick_run_writes_metrics_and_figures(tmp_path):
    result = run_experiment("optimizer-paths", tmp_path, quick=True, log=None)
    assert result.error is None
    assert (tmp_path / "optimizer-paths" / "metrics.json").exists()
    assert sorted(result.figures) == ["saddle-and-local-minimum.png", "valley-paths.png"]


def test_measured_claims(metrics):
    claims = {c.statement.split(":")[0][:30]: c for c in check(metrics, Config())}
    assert len(claims) == 5
    zigzag = next(c for c in check(metrics, Config()) if "zig-zags" in c.statement)
    assert zigzag.passed and "SGD 29 sign changes" in zigzag.evidence
    saddle = next(c for c in check(metrics, Config()) if "saddle" in c.statement)
    assert saddle.passed
    well = next(c for c in check(metrics, Config()) if "local minimum" in c.statement)
    assert well.passed


def test_claims_fail_when_the_numbers_say_so(metrics):
    bad = copy.deepcopy(metrics)
    bad["valley"]["Adam"]["y_sign_changes"] = 40          # someone zig-zags more than SGD
    bad["valley"]["Momentum"]["efficiency"] = 0.01         # and wanders
    bad["saddle"]["momentum"]["escape_step"] = None        # momentum stuck at the saddle
    bad["double_well"]["momentum"]["final_x"] = 1.3        # and in the local minimum
    verdicts = {c.statement: c.passed for c in check(bad, Config())}
    assert not any(verdicts.values())


def test_config_validation():
    from trainlab.errors import ConfigError

    with pytest.raises(ConfigError):
        Config(steps=1)


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
