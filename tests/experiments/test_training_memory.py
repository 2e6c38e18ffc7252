"""training-memory: the quick run, each claim decided both ways, a two-seed figure."""

import copy

import numpy as np
import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import EXPERIMENTS
from trainlab.experiments.training_memory import CLAIMS, Config, check, held_bytes, run
from trainlab.models.mlp import MultiLayerNet
from trainlab.plots.training_memory import plot_training_memory

QUICK = EXPERIMENTS.get("training-memory").quick


@pytest.fixture(scope="module")
def metrics():
    return run(Config(**QUICK), seed=0)


def _verdicts(metrics):
    return {c.id.split("/")[1]: c.passed for c in check(metrics, Config(**QUICK))}


def test_quick_run_passes_and_counts_what_backprop_keeps(metrics):
    claims = check(metrics, Config(**QUICK))
    assert [c.id for c in claims] == list(CLAIMS) and all(c.values for c in claims)
    assert all(c.passed for c in claims), [c.evidence for c in claims if not c.passed]
    # One hidden layer of 100, batch 10: input 784 + hidden 100 floats, a 100-byte mask, 10 probabilities, labels.
    model = MultiLayerNet(784, [100], 10, seed=0)
    x, t = np.zeros((10, 784), np.float32), np.zeros(10, np.int64)
    assert held_bytes(model) == 0
    model.loss(x, t, train=True)
    assert held_bytes(model) == 10 * (784 * 4 + 100 * 4 + 100 + 10 * 4) + t.nbytes


def test_claims_decide_both_ways(metrics):
    bad = copy.deepcopy(metrics)
    bad["depth_fit"]["r2"] = 0.9                          # not a line
    bad["held_by_batch"][-1] *= 1.5                       # more bytes per sample at the largest batch
    bad["forward"]["calls"][0] = 2                        # a layer computed twice
    bad["state_bytes"]["adam"] = bad["param_bytes"]       # Adam with one array
    bad["param_counts"][-1] += 1                          # not a quadratic
    assert not any(_verdicts(bad).values())


def test_plot_takes_two_seeds(metrics, tmp_path):
    paths = plot_training_memory([metrics, run(Config(**QUICK), seed=1)], Config(**QUICK), tmp_path)
    assert [p.name for p in paths] == ["memory.png"]


def test_config_validation():
    with pytest.raises(ConfigError, match="equally spaced"):
        Config(widths=(100, 200, 400))
    with pytest.raises(ConfigError, match="at least 3"):
        Config(depths=(1, 2))
    with pytest.raises(ConfigError):
        Config(min_r2=1.5)
