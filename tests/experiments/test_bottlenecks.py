"""bottlenecks: counts against hand arithmetic, the receptive field probe, each claim decided both ways, the figures."""

import copy

import numpy as np
import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import EXPERIMENTS
from trainlab.experiments.bottlenecks import CLAIMS, Config, check, naive_inception, receptive_field, run
from trainlab.layers import Conv2d, InceptionBlock, Sequential
from trainlab.plots.bottlenecks import plot_bottlenecks

SYNTHETIC = {"dataset": "synthetic"}


@pytest.fixture(scope="module")
def metrics():
    config = EXPERIMENTS.get("bottlenecks").make_config(quick=True, overrides=SYNTHETIC)
    return run(config, seed=0), config


def test_counts_follow_the_arithmetic(metrics):
    m, config = metrics
    a = m["inception"]["InceptionNet a"]   # (32, 16, 16, 24, 4, 8, 8) at 14x14
    convs_reduced = 32 * 16 + 32 * 16 + 16 * 24 * 9 + 32 * 4 + 4 * 8 * 25 + 32 * 8
    convs_naive = 32 * 16 + 32 * 24 * 9 + 32 * 8 * 25 + 32 * 8
    assert a["reduced"]["macs"] == convs_reduced * 14 * 14 and a["naive"]["macs"] == convs_naive * 14 * 14
    # every convolution is followed by a BatchNorm (gamma and beta per channel)
    assert a["reduced"]["parameters"] == convs_reduced + 2 * (16 + 16 + 24 + 4 + 8 + 8)
    assert a["naive"]["parameters"] == convs_naive + 2 * (16 + 24 + 8 + 8)
    assert a["reduced"]["out_channels"] == a["naive"]["out_channels"] == 56
    dense = m["dense"]
    k, size = config.growth_rate, config.dense_size
    assert dense["in_channels"] == [2 * k + i * k for i in range(config.dense_layers)]
    assert dense["plain"] == [c * k * 9 * size * size for c in dense["in_channels"]]
    assert dense["bottleneck"] == [(c * 4 * k + 4 * k * k * 9) * size * size for c in dense["in_channels"]]
    assert len(m["aux"]["ratio"]) == config.aux_batches and m["aux"]["n_heads"] == 2


def test_receptive_field_probe_sees_the_geometry(rng):
    one = Sequential(Conv2d(2, 3, 3, padding=1, rng=rng, dtype=np.float64))
    assert receptive_field(one, 2, 9, rng) == [3, 3]
    two = Sequential(Conv2d(2, 3, 3, padding=1, rng=rng, dtype=np.float64),
                     Conv2d(3, 3, 5, padding=2, rng=rng, dtype=np.float64))
    assert receptive_field(two, 2, 11, rng) == [7, 7]
    sizes = (6, 2, 2, 3, 1, 2, 2)
    assert receptive_field(InceptionBlock(*sizes, rng=rng, dtype=np.float64), 6, 9, rng) == [5, 5]
    assert receptive_field(naive_inception(*sizes, rng=rng, dtype=np.float64), 6, 9, rng) == [5, 5]


def test_measured_claims(metrics):
    m, config = metrics
    claims = check(m, config)
    assert [c.id for c in claims] == list(CLAIMS)
    assert all(c.values for c in claims)
    # The counts and the field do not depend on data or seed.
    assert [c.passed for c in claims[:3]] == [True, True, True], [c.evidence for c in claims[:3]]
    assert claims[4].passed and claims[4].values["slope ratio"] == pytest.approx(4 / 9)


def test_claims_fail_when_the_numbers_say_so(metrics):
    m, config = metrics
    good = copy.deepcopy(m)
    good["aux"]["ratio"] = [1.01, 1.2]
    good["dense"]["bottleneck"][-1] = good["dense"]["plain"][-1] - 1
    assert [c.passed for c in check(good, config)] == [True] * 6
    bad = copy.deepcopy(good)
    row = bad["inception"]["InceptionNet c"]
    row["reduced"]["parameters"] = row["naive"]["parameters"]     # no saving on one block
    row["reduced"]["macs"] = row["naive"]["macs"] + 1
    row["reduced"]["receptive_field"] = [3, 3]                     # a smaller field
    bad["aux"]["ratio"] = [1.3, 0.999]                             # one batch with a smaller gradient
    bad["dense"]["bottleneck"] = [2 * p for p in bad["dense"]["plain"]]  # grows twice as fast
    assert [c.passed for c in check(bad, config)] == [False] * 6


def test_plots_with_two_seeds(metrics, tmp_path):
    m, config = metrics
    other = copy.deepcopy(m)
    other["aux"]["ratio"] = [r * 1.05 for r in m["aux"]["ratio"]]
    paths = plot_bottlenecks([m, other], config, tmp_path)
    assert [p.name for p in paths] == ["inception-reductions.png", "auxiliary-gradient.png", "dense-bottleneck.png"]
    assert all(p.stat().st_size > 0 for p in paths)


def test_config_validation():
    with pytest.raises(ConfigError, match="dense_layers"):
        Config(dense_layers=1)
    with pytest.raises(ConfigError, match="aux_batches"):
        Config(aux_batches=0)
    with pytest.raises(ConfigError):
        Config(dataset="cifar")
    EXPERIMENTS.get("bottlenecks").make_config(quick=True)
