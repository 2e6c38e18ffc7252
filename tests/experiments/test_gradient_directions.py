"""gradient-directions: angles on the two bowls, descent from many starts, claims decided both ways."""

import copy

import numpy as np
import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import EXPERIMENTS, run_experiment
from trainlab.experiments.gradient_directions import DOUBLE_WELL_MINIMA, Config, angles, check, descend, run
from trainlab.functions2d import bowl, bowl_grad, valley_grad
from trainlab.plots.gradient_directions import plot_gradient_directions

QUICK = EXPERIMENTS.get("gradient-directions").quick


@pytest.fixture(scope="module")
def metrics():
    return run(Config(**QUICK), seed=0)


def test_run_through_the_runner(tmp_path):
    res = run_experiment("gradient-directions", tmp_path, quick=True, log=None)
    assert res.error is None and res.figures == ["gradient-directions.png"]
    assert all(c.passed for c in res.claims), [c.evidence for c in res.claims if not c.passed]


def test_angles_by_hand():
    points = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    assert np.allclose(angles(bowl_grad, (0.0, 0.0), points), 0.0, atol=1e-5)  # arccos near 1 rounds to ~1e-6
    # Valley at (1, 1): -grad = (-0.1, -2) against (-1, -1): cos = 2.1 / (sqrt(4.01) sqrt(2)).
    expected = np.degrees(np.arccos(2.1 / np.sqrt(4.01 * 2)))
    assert angles(valley_grad, (0.0, 0.0), points)[2] == pytest.approx(expected)
    assert angles(valley_grad, (0.0, 0.0), points)[:2] == pytest.approx([0.0, 0.0], abs=1e-5)  # on the axes
    assert bowl(np.array([3.0, 4.0])) == 25.0


def test_descent_and_the_double_well_minima():
    ends, paths = descend(bowl_grad, np.array([[1.0, -2.0], [3.0, 0.5]]), lr=0.25, iterations=60, keep=1)
    assert np.abs(ends).max() < 1e-12 and paths.shape == (2, 1, 61)
    low, high = DOUBLE_WELL_MINIMA
    assert -1.5 < low < -1.45 and 1.3 < high < 1.35
    assert [x ** 3 - 2 * x + 0.3 for x in DOUBLE_WELL_MINIMA] == pytest.approx([0.0, 0.0], abs=1e-9)


def test_measured_claims(metrics):
    claims = check(metrics, Config(**QUICK))
    assert [c.passed for c in claims] == [True, True, True] and all(c.values for c in claims)
    well = metrics["descent"]["double well"]
    assert 0 < well["global_fraction"] < 1                 # the non-convex contrast depends on the start


def test_claims_fail_when_the_numbers_say_so(metrics):
    config = Config(**QUICK)
    bad = copy.deepcopy(metrics)
    bad["directions"]["bowl"]["max_angle"] = 12.0           # somewhere the bowl's gradient misses the minimum
    bad["directions"]["valley"]["within_tolerance"] = 0.6   # the valley's gradient mostly points at it
    bad["descent"]["valley"].update(reached=0.98, worst_distance=0.3)
    assert [c.passed for c in check(bad, config)] == [False, False, False]
    far = copy.deepcopy(metrics)
    far["descent"]["bowl"]["worst_distance"] = 1e-3         # all counted, but one ended too far
    assert not check(far, config)[2].passed


def test_figure_of_two_seeds(metrics, tmp_path):
    paths = plot_gradient_directions([metrics, run(Config(**QUICK), seed=1)], Config(**QUICK), tmp_path)
    assert [p.name for p in paths] == ["gradient-directions.png"] and paths[0].stat().st_size > 10_000


def test_config_validation():
    with pytest.raises(ConfigError, match="angle_tolerance"):
        Config(angle_tolerance=0.0)
    with pytest.raises(ConfigError, match="lr"):
        Config(lr=-0.1)
    with pytest.raises(ConfigError, match="grid"):
        Config(grid=2)
