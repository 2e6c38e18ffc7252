"""Loader options (normalize, flatten, one-hot, validation), IDX folders and the name registry."""

import numpy as np
import pytest

from trainlab.data import DATASETS, DataSplits, load_dataset, load_idx_folder
from trainlab.data.datasets import prepare_splits
from trainlab.data.idx import write_idx
from trainlab.errors import ConfigError, DataError, UnknownNameError


def _raw(n_train=50, n_test=20, h=5, w=4, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, h, w)).astype(np.uint8),
        "t_train": (np.arange(n_train) % n_classes).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, h, w)).astype(np.uint8),
        "t_test": (np.arange(n_test) % n_classes).astype(np.uint8),
    }


def test_defaults_match_the_book():
    raw = _raw()
    d = prepare_splits(raw)
    assert d.x_train.shape == (50, 20) and d.x_train.dtype == np.float32
    assert d.t_train.dtype == np.int64 and d.t_train.shape == (50,)
    np.testing.assert_allclose(d.x_train, raw["x_train"].reshape(50, 20) / 255.0, rtol=1e-6)
    assert d.x_val.shape == (0, 20) and d.t_val.shape == (0,)
    (x_train, t_train), (x_test, t_test) = d
    assert x_train is d.x_train and t_test is d.t_test
    assert d.book() == ((d.x_train, d.t_train), (d.x_test, d.t_test))


def test_unnormalised_nchw_one_hot():
    raw = _raw()
    d = prepare_splits(raw, normalize=False, flatten=False, one_hot_label=True)
    assert d.x_test.shape == (20, 1, 5, 4)
    np.testing.assert_array_equal(d.x_test[:, 0], raw["x_test"].astype(np.float32))
    assert d.t_train.shape == (50, 3) and d.t_train.dtype == np.float32
    np.testing.assert_array_equal(d.t_train.argmax(1), raw["t_train"])
    assert d.t_train.sum() == 50 and d.n_classes == 3


@pytest.mark.parametrize("validation, n_val", [(0.2, 10), (7, 7), (0.0, 0)])
def test_validation_split_is_disjoint_seeded_and_ordered(validation, n_val):
    raw = _raw()
    raw["x_train"] = np.arange(50, dtype=np.uint8)[:, None, None] * np.ones((1, 5, 4), np.uint8)
    d = prepare_splits(raw, validation=validation, seed=3, normalize=False)
    assert len(d.x_val) == len(d.t_val) == n_val and len(d.x_train) == 50 - n_val
    ids_val, ids_train = d.x_val[:, 0].astype(int), d.x_train[:, 0].astype(int)
    assert sorted(np.concatenate([ids_val, ids_train]).tolist()) == list(range(50))
    assert np.all(np.diff(ids_train) > 0), "training samples keep their order"
    np.testing.assert_array_equal(d.t_val, raw["t_train"][ids_val])
    again = prepare_splits(raw, validation=validation, seed=3, normalize=False)
    np.testing.assert_array_equal(again.x_val, d.x_val)
    if n_val:
        other = prepare_splits(raw, validation=validation, seed=4, normalize=False)
        assert not np.array_equal(other.x_val, d.x_val)


@pytest.mark.parametrize("bad", [-0.1, 1.0, 50, -1, True])
def test_bad_validation_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="validation"):
        prepare_splits(_raw(), validation=bad)


def _write_folder(folder, raw, prefix="", compress=True):
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if compress else ""
    names = {"x_train": "train-images-idx3-ubyte", "t_train": "train-labels-idx1-ubyte",
             "x_test": "test-images-idx3-ubyte", "t_test": "test-labels-idx1-ubyte"}
    for key, name in names.items():
        write_idx(folder / f"{prefix}{name}{ext}", raw[key], gzip=compress)


def test_load_idx_folder_reads_any_idx_set(tmp_path):
    raw = _raw(h=6, w=3)
    _write_folder(tmp_path / "kmnist", raw)
    d = load_idx_folder(tmp_path / "kmnist", flatten=False, validation=0.1)
    assert isinstance(d, DataSplits)
    assert d.x_train.shape == (45, 1, 6, 3) and d.x_test.shape == (20, 1, 6, 3)
    np.testing.assert_array_equal(d.t_test, raw["t_test"])


def test_load_idx_folder_prefix_and_transpose(tmp_path):
    raw = _raw(h=6, w=3)
    _write_folder(tmp_path / "emnist", raw, prefix="emnist-balanced-", compress=False)
    _write_folder(tmp_path / "emnist", _raw(seed=1), prefix="emnist-digits-", compress=False)
    with pytest.raises(DataError, match="prefix"):
        load_idx_folder(tmp_path / "emnist")
    d = load_idx_folder(tmp_path / "emnist", prefix="emnist-balanced-", transpose=True,
                        normalize=False, flatten=False)
    np.testing.assert_array_equal(d.x_test[:, 0], raw["x_test"].transpose(0, 2, 1))


def test_labels_outside_classes_are_refused():
    raw = _raw()
    with pytest.raises(DataError, match="outside 0..1"):
        prepare_splits(raw, classes=("a", "b"))


def test_registry_by_name():
    assert {"mnist", "fashion-mnist"} <= set(DATASETS.names())
    assert DATASETS.get("Fashion_MNIST") is DATASETS.get("fmnist")
    with pytest.raises(UnknownNameError, match="valid names: fashion-mnist, mnist"):
        load_dataset("cifar-10")
