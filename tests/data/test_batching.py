"""BatchIterator: coverage per epoch, drop_last, reshuffling, layouts and augmentation."""

import numpy as np
import pytest

from trainlab.data import BatchIterator, build_pipeline
from trainlab.errors import ConfigError, ShapeError


def _data(n=103):
    x = np.arange(n, dtype=np.uint8)[:, None].repeat(16, axis=1)  # sample i is all i's, (n, 16)
    t = np.arange(n, dtype=np.int64)
    return x, t


def _ids(batches):
    return np.concatenate([xb[:, 0].astype(int) for xb, _ in batches])


def test_every_sample_once_per_epoch_and_len():
    x, t = _data()
    it = BatchIterator(x, t, 10, seed=0)
    assert len(it) == 11
    batches = list(it)
    assert len(batches) == 11 and [len(b[0]) for b in batches][-1] == 3
    ids = _ids(batches)
    assert sorted(ids.tolist()) == list(range(103))
    for xb, tb in batches:
        np.testing.assert_array_equal(xb[:, 0], tb)  # labels travel with their samples
        assert xb.dtype == np.float32


def test_drop_last():
    x, t = _data()
    it = BatchIterator(x, t, 10, drop_last=True, seed=1)
    batches = list(it)
    assert len(it) == len(batches) == 10
    assert all(len(xb) == 10 for xb, _ in batches)
    assert len(set(_ids(batches).tolist())) == 100


def test_reshuffles_every_epoch_deterministically():
    x, t = _data()
    it = BatchIterator(x, t, 16, seed=7)
    e1, e2 = _ids(it), _ids(it)
    assert not np.array_equal(e1, e2)
    again = BatchIterator(x, t, 16, seed=7)
    np.testing.assert_array_equal(_ids(again), e1)
    np.testing.assert_array_equal(_ids(again), e2)
    assert not np.array_equal(_ids(BatchIterator(x, t, 16, seed=8)), e1)


def test_no_shuffle_keeps_order_and_generator_seed():
    x, t = _data()
    np.testing.assert_array_equal(_ids(BatchIterator(x, t, 16, shuffle=False)), np.arange(103))
    gen_it = BatchIterator(x, t, 16, seed=np.random.default_rng(3))
    assert not np.array_equal(_ids(gen_it), _ids(gen_it))


def test_layout_and_dtype():
    x = np.random.default_rng(0).random((20, 1, 4, 4))
    t = np.zeros(20, np.int64)
    xb, _ = next(iter(BatchIterator(x, t, 8, shape=(16,), dtype=np.float64)))
    assert xb.shape == (8, 16) and xb.dtype == np.float64
    xb, _ = next(iter(BatchIterator(x.reshape(20, 16), t, 8, shape=(1, 4, 4))))
    assert xb.shape == (8, 1, 4, 4) and xb.dtype == np.float32


def test_augmentation_applies_to_x_only_and_is_seeded():
    x = np.random.default_rng(0).random((40, 1, 6, 6)).astype(np.float32)
    t = np.arange(40)
    aug = build_pipeline(["shift:1", "noise:0.05"])
    plain = list(BatchIterator(x, t, 8, seed=0))
    augmented = list(BatchIterator(x, t, 8, seed=0, augment=aug))
    for (xp, tp), (xa, ta) in zip(plain, augmented):
        np.testing.assert_array_equal(tp, ta)
        assert xa.shape == xp.shape and xa.dtype == np.float32
        assert not np.array_equal(xa, xp)
    repeat = list(BatchIterator(x, t, 8, seed=0, augment=aug))
    for (xa, _), (xr, _) in zip(augmented, repeat):
        np.testing.assert_array_equal(xa, xr)


def test_augment_on_flat_data_with_image_shape_then_flatten():
    x = np.random.default_rng(0).random((10, 36)).astype(np.float32)
    aug = build_pipeline(["rotate:10"], image_shape=(1, 6, 6))
    xb, _ = next(iter(BatchIterator(x, np.zeros(10), 5, augment=aug)))
    assert xb.shape == (5, 36)


@pytest.mark.parametrize("kwargs, error", [
    ({"batch_size": 0}, ConfigError), ({"batch_size": -2}, ConfigError), ({"batch_size": 2.5}, ConfigError),
    ({"seed": "x"}, ConfigError), ({"augment": 3}, ConfigError), ({"shape": (5,)}, ShapeError),
])
def test_argument_validation(kwargs, error):
    x, t = _data(10)
    args = {"batch_size": 4, **kwargs}
    with pytest.raises(error):
        BatchIterator(x, t, **args)


def test_batch_size_error_names_the_iterator():
    x, t = _data(10)
    with pytest.raises(ConfigError, match=r"BatchIterator: batch_size must be an integer >= 1, got '16'"):
        BatchIterator(x, t, "16")


def test_length_mismatch_is_a_shape_error():
    with pytest.raises(ShapeError, match="10 samples but t has 9"):
        BatchIterator(np.zeros((10, 2)), np.zeros(9), 4)
