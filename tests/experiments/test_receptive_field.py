"""receptive-field: the quick run, the analytic recursion on known stacks, and claims that fail when they should."""

import copy

import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import EXPERIMENTS, run_experiment
from trainlab.experiments.receptive_field import Config, analytic, check, hand_stacks, model_stacks


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp")
    return run_experiment("receptive-field", out, quick=True, log=None), out


def test_quick_run_writes_metrics_and_figures(result):
    res, out = result
    assert res.error is None
    folder = next(out.iterdir())
    saved = {"metrics": res.metrics}
    assert sorted(res.figures) == ["footprints.png", "receptive-field-by-layer.png"]
    assert all((folder / f).stat().st_size > 0 for f in res.figures)
    stacks = saved["metrics"]["stacks"]
    assert [r["r"] for r in stacks["DeepConvNet"]] == [3, 5, 6, 10, 14, 16, 24, 32, 36]
    assert [r["j"] for r in stacks["DeepConvNet"]] == [1, 1, 2, 2, 2, 4, 4, 4, 8]
    assert [r["r"] for r in stacks["SimpleConvNet"]] == [5, 6]
    assert [r["r"] for r in stacks["three 3x3 stride 2"]] == [3, 7, 15]
    for pic in saved["metrics"]["pictures"]:
        assert len(pic["footprint"]) == len(pic["footprint"][0]) == 28


def test_analytic_recursion_by_hand():
    # Two 3x3 pad 1 convs (r 3, 5; each pad moves the start left by one jump), a 2x2 pool (r + 1, jump 2),
    # then an unpadded 3x3 conv: r = 6 + 2 * 2 = 10, the start unchanged.
    rows = analytic(model_stacks()["DeepConvNet"][:5] + [hand_stacks(1)["one 3x3"][0]])
    assert [(r["r"], r["j"], r["start"]) for r in rows] == [(3, 1, -1), (5, 1, -2), (6, 2, -2), (10, 2, -2)]


def test_measured_claims(result):
    res, _ = result
    assert len(res.claims) == 3
    assert all(c.passed for c in res.claims), [c.evidence for c in res.claims if not c.passed]
    assert "22 of 22 layers" in res.claims[0].evidence
    assert "18C\u00b2 vs 25C\u00b2" in res.claims[1].evidence and "27C\u00b2 vs 49C\u00b2" in res.claims[1].evidence


def test_claims_fail_when_the_numbers_say_so(result):
    res, _ = result
    bad = copy.deepcopy(res.metrics)
    bad["stacks"]["DeepConvNet"][4]["empirical"]["height"] = 13   # a footprint one pixel short
    bad["weights"]["two 3x3"]["field"] = 3                         # the stack did not grow
    for pic in bad["pictures"]:
        if pic["stack"] == "DeepConvNet":
            pic["covered"] = 400                                    # the deep units miss part of the image
    verdicts = [c.passed for c in check(bad, Config())]
    assert verdicts == [False, False, False]


def test_config_validation():
    with pytest.raises(ConfigError):
        Config(canvas=4)
    with pytest.raises(ConfigError):
        Config(channels=0)
    EXPERIMENTS.get("receptive-field").make_config(quick=True)


def test_claims_carry_their_numbers(result):
    res, _ = result
    claims = check(res.metrics, Config())
    assert all(c.values for c in claims)
    assert claims[1].values["two 3x3: weights / C^2"] == 18 and claims[1].values["one 7x7: weights / C^2"] == 49
    assert claims[2].values["image pixels"] == 784


def test_figures_of_two_seeds(result, tmp_path):
    from trainlab.plots.receptive_field import plot_receptive_field

    res, _ = result
    paths = plot_receptive_field([res.metrics, copy.deepcopy(res.metrics)], Config(), tmp_path)
    assert sorted(p.name for p in paths) == ["footprints.png", "receptive-field-by-layer.png"]
