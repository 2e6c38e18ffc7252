"""conv-layers: the measurements on small tensors, claims decided both ways, the figures of two seeds."""

import copy

import numpy as np
import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import EXPERIMENTS, run_experiment
from trainlab.experiments.conv_layers import Config, check, run, single_channel_conv, without_pooling
from trainlab.layers.pooling import MaxPool2d
from trainlab.models.cnn import SimpleConvNet
from trainlab.plots.conv_layers import plot_conv_layers


@pytest.fixture(scope="module")
def metrics():
    return run(Config(), seed=0)


def test_run_through_the_runner(tmp_path):
    res = run_experiment("conv-layers", tmp_path, quick=True, log=None)
    assert res.error is None
    assert sorted(res.figures) == ["channel-pairs.png", "conv-layers.png"]
    assert all(c.passed for c in res.claims), [c.evidence for c in res.claims if not c.passed]


def test_measured_numbers(metrics):
    c, s, p, m = metrics["channels"], metrics["stride"], metrics["pooling"], metrics["macs"]
    assert c["pairs"] == 12 and c["output_shape"] == [2, 4, 10, 10]
    assert c["max_abs_diff"] < 1e-12 < 1.0 < c["max_abs_diff_one_channel_left_out"]
    assert s["measured"] == [25, 13, 9, 7]
    assert p["max"]["output_shape"] == [2, 3, 12, 12] and p["output_pixels"] * 4 == p["input_pixels"]
    # SimpleConvNet: conv 30 x 24 x 24 x 25 = 432,000 MACs; Linear 4320 x 100 with the pool, 17280 x 100 without.
    assert m["SimpleConvNet"]["with pooling"]["total"] == 432_000 + 432_000 + 1_000
    assert m["SimpleConvNet"]["without pooling"]["total"] == 432_000 + 1_728_000 + 1_000
    claims = check(metrics, Config())
    assert [c.passed for c in claims] == [True] * 4 and all(c.values for c in claims)


def test_single_channel_conv_is_a_cross_correlation():
    x = np.zeros((1, 5, 5))
    x[0, 2, 2] = 1.0
    kernel = np.arange(9.0).reshape(3, 3)
    # A unit impulse through a cross-correlation gives the kernel flipped in both axes.
    assert np.array_equal(single_channel_conv(x, kernel, 1)[0, 1:4, 1:4], kernel[::-1, ::-1])


def test_without_pooling_drops_the_pools_and_widens_the_linear_layer():
    net = without_pooling(SimpleConvNet(seed=0))
    assert not any(isinstance(m, MaxPool2d) for m in net.modules())
    assert net.forward(np.zeros((2, 1, 28, 28), np.float32), train=False).shape == (2, 10)


def test_claims_fail_when_the_numbers_say_so(metrics):
    bad = copy.deepcopy(metrics)
    bad["channels"]["max_abs_diff"] = 1e-3                    # the layer is not the sum of its pairs
    bad["stride"]["measured"] = [25, 13, 13, 7]               # stride 3 no smaller than stride 2
    bad["pooling"]["max"]["max_abs_diff"] = 0.5               # an output is not its window's maximum
    bad["macs"]["DeepConvNet"]["with pooling"]["total"] = bad["macs"]["DeepConvNet"]["without pooling"]["total"]
    assert [c.passed for c in check(bad, Config())] == [False] * 4
    off_formula = copy.deepcopy(metrics)
    off_formula["stride"]["measured"] = [25, 12, 9, 7]        # smaller, but not what the formula says
    assert not check(off_formula, Config())[1].passed
    fewer_pairs = copy.deepcopy(metrics)
    fewer_pairs["channels"]["pairs"] = 4
    assert not check(fewer_pairs, Config())[0].passed


def test_figures_of_two_seeds(metrics, tmp_path):
    paths = plot_conv_layers([metrics, run(Config(), seed=1)], Config(), tmp_path)
    assert [p.name for p in paths] == ["channel-pairs.png", "conv-layers.png"]
    assert all(p.stat().st_size > 10_000 for p in paths)


def test_config_validation():
    with pytest.raises(ConfigError, match="strides"):
        Config(strides=(5,))
    with pytest.raises(ConfigError, match="strides"):
        Config(strides=(1, 5))                                 # 5 does not divide 24
    with pytest.raises(ConfigError, match="kernel_size"):
        Config(kernel_size=4)
    EXPERIMENTS.get("conv-layers").make_config(quick=True)
