"""vanishing-gradients: a quick synthetic run writes its files, and each claim decides both ways."""

import copy

import numpy as np
import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import run_experiment
from trainlab.experiments.vanishing_gradients import NETS, Config, check, weight_grad_norms
from trainlab.models.mlp import MultiLayerNet

NAME = "vanishing-gradients"
OVERRIDES = {"dataset": "synthetic", "n_samples": 100, "n_inits": 2}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp")
    res = run_experiment(NAME, out, quick=True, overrides=OVERRIDES, log=None)
    return next(out.iterdir()), res  # the run's one folder, whatever the runner names it


def set_rms(net, rms, depth=10):
    """Replace a net's per-layer RMS and the two numbers derived from it."""
    hidden = np.asarray(rms[:depth], float)
    net.update(rms=list(rms), first_to_last_hidden=float(hidden[0] / hidden[-1]),
               spread=float(hidden.max() / hidden.min()))


def test_quick_run_writes_metrics_and_figure(result):
    folder, r = result
    assert r.error is None
    assert (folder / "metrics.json").is_file()
    m = r.metrics
    assert m["layers"] == list(range(1, 12)) and m["n_samples"] == 100
    assert list(m["nets"]) == [label for label, *_ in NETS]
    for net in m["nets"].values():
        assert len(net["norm"]) == len(net["rms"]) == 11
        assert np.array(net["norm_per_init"]).shape == (2, 11)
        # RMS = Frobenius norm / sqrt(weights): 784 x 100 in layer 1, 100 x 100 inside, 100 x 10 at the output.
        assert net["rms"][0] == pytest.approx(net["norm"][0] / 280)
        assert net["rms"][10] == pytest.approx(net["norm"][10] / 1000 ** 0.5)
    assert r.figures == ["gradient-norms.png"]
    assert (folder / "gradient-norms.png").stat().st_size > 10_000


def test_norms_are_read_after_one_backward_pass():
    rng = np.random.default_rng(0)
    x, t = rng.random((20, 784)), rng.integers(0, 10, 20)
    model = MultiLayerNet(784, [30, 30], 10, activation="sigmoid", weight_init="xavier", seed=0, dtype=np.float64)
    norms, sizes = weight_grad_norms(model, x, t)
    assert sizes == [784 * 30, 30 * 30, 30 * 10] and all(n > 0 for n in norms)


def test_claims_hold_on_the_synthetic_run(result):
    # Vanishing at initialisation depends on the net far more than on the images.
    _, r = result
    claims = check(r.metrics, Config(**OVERRIDES))
    assert len(claims) == 6 and all(c.passed for c in claims)
    assert "0.25^9 = 4e-06" in claims[0].evidence
    assert all(c.values for c in claims)
    assert claims[0].values["threshold"] == 0.1


def test_each_claim_fails_when_the_numbers_say_so(result):
    _, r = result
    bad = copy.deepcopy(r.metrics)
    nets = bad["nets"]
    flat = [1e-3] * 11
    set_rms(nets["sigmoid, Xavier"], flat)                                     # sigmoid does not vanish
    set_rms(nets["ReLU, He"], [1e-3 * 1.5 ** (k - 9) for k in range(11)])     # ReLU does (ratio 0.026)
    set_rms(nets["ReLU, He + BN"], [1e-3 * 2.0 ** (k - 9) for k in range(11)])  # BN uneven and worse
    set_rms(nets["sigmoid, std 0.01 + BN"], [1e-9] * 11)                      # BN far from the usual scale
    set_rms(nets["ReLU, std 0.01 + BN"], [1e-9] * 11)
    bad["explode"]["ReLU, 2 x He"].update(first_to_last=5.0)               # grows, but not 10x
    verdicts = [c.passed for c in check(bad, Config(**OVERRIDES))]
    assert verdicts == [False, False, False, False, False, False]


def test_explosion_needs_growth_at_every_layer_and_an_even_he_net(result):
    _, r = result
    config = Config(**OVERRIDES)
    assert check(r.metrics, config)[5].passed
    for key, value in (("smallest_step", 0.9), ("first_to_last", 8.0)):      # one layer shrinks; too little
        bad = copy.deepcopy(r.metrics)
        bad["explode"]["ReLU, 2 x He"][key] = value
        assert not check(bad, config)[5].passed
    uneven_he = copy.deepcopy(r.metrics)
    uneven_he["explode"]["ReLU, He"]["first_to_last"] = 20.0                  # He's net grows as well
    assert not check(uneven_he, config)[5].passed


def test_the_exploding_gradient_doubles_per_layer(result):
    _, r = result
    big = np.asarray(r.metrics["explode"]["ReLU, 2 x He"]["signal_rms"])
    steps = big[:-1] / big[1:]
    assert len(big) == 10 and np.all((steps > 1.5) & (steps < 2.7))


def test_figure_of_two_seeds(result, tmp_path):
    from trainlab.plots.vanishing_gradients import plot_vanishing_gradients

    _, r = result
    other = copy.deepcopy(r.metrics)
    for net in other["nets"].values():
        net["rms"] = [2 * v for v in net["rms"]]
    paths = plot_vanishing_gradients([r.metrics, other], Config(**OVERRIDES), tmp_path)
    assert [p.name for p in paths] == ["gradient-norms.png"] and paths[0].stat().st_size > 10_000


def test_config_validation():
    with pytest.raises(ConfigError):
        Config(depth=1)
    with pytest.raises(ConfigError):
        Config(vanish_ratio=1.5)
    with pytest.raises(ConfigError, match="explode_gain"):
        Config(explode_gain=1.0)
