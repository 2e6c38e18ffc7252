import math

import numpy as np
import pytest

from trainlab.errors import ConfigError, UnknownNameError
from trainlab.init import INITIALISERS, init_std, initialise


@pytest.mark.parametrize("spec, fan_in, fan_out", [
    ("xavier", 400, 100), ("he", 400, 100), ("xavier-normal", 400, 100), ("xavier-uniform", 400, 100),
    ("he-normal", 300, 50), ("he-uniform", 300, 50), ("lecun-normal", 200, 10), ("lecun-uniform", 200, 10),
    (0.01, 100, 100), (1.0, 100, 100),
])
def test_std_matches_the_formula(spec, fan_in, fan_out):
    w = initialise(spec, (fan_in, fan_out), fan_in=fan_in, fan_out=fan_out, rng=np.random.default_rng(0),
                   dtype=np.float64)
    assert w.std() == pytest.approx(init_std(spec, fan_in, fan_out), rel=0.03)
    assert abs(w.mean()) < 0.05 * max(w.std(), 1e-3)


def test_book_conventions():
    assert init_std("xavier", 100, 7) == pytest.approx(math.sqrt(1 / 100))
    assert init_std("he", 100, 7) == pytest.approx(math.sqrt(2 / 100))
    assert init_std("relu", 50, 7) == init_std("he", 50, 7)
    assert init_std("sigmoid", 50, 7) == init_std("xavier", 50, 7)


def test_uniform_bounds():
    w = initialise("he-uniform", (300, 40), fan_in=300, fan_out=40, rng=np.random.default_rng(1))
    assert np.abs(w).max() <= math.sqrt(6 / 300)
    assert w.dtype == np.float32


def test_zeros_and_determinism():
    z = initialise("zeros", (3, 4), fan_in=3, fan_out=4, rng=np.random.default_rng(0))
    assert not z.any()
    a = initialise("he", (3, 4), fan_in=3, fan_out=4, rng=np.random.default_rng(5))
    b = initialise("he", (3, 4), fan_in=3, fan_out=4, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)


def test_errors():
    with pytest.raises(UnknownNameError) as e:
        initialise("uniformish", (2, 2), fan_in=2, fan_out=2, rng=np.random.default_rng(0))
    for name in INITIALISERS.names():
        assert name in str(e.value)
    with pytest.raises(ConfigError):
        initialise(float("nan"), (2, 2), fan_in=2, fan_out=2, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        initialise("he", (2, 2), fan_in=2, fan_out=2, rng=np.random.RandomState(0))
