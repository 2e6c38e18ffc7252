"""Generated datasets: the classic clusters script reproduced, spirals, tiny images, npz round trip."""

import numpy as np
import pytest

from trainlab.data import load_npz, make_clusters, make_spirals, make_tiny_images, save_npz
from trainlab.errors import ConfigError, DataError


def test_clusters_shape_and_classes():
    x, t = make_clusters(seed=3)
    assert x.shape == (1000, 2) and x.dtype == np.float32
    assert t.dtype == np.int64 and np.bincount(t).tolist() == [100] * 10
    centers = np.stack([x[t == k].mean(0) for k in range(10)])
    assert np.all(np.abs(centers) < 8.5)
    assert np.all(np.abs(x[t == 0] - centers[0]).std(0) < 1.3)
    np.testing.assert_array_equal(make_clusters(seed=3)[0], x)
    assert not np.array_equal(make_clusters(seed=4)[0], x)


def test_legacy_reproduces_the_classic_script_draw_by_draw():
    # The classic script: seed 0, ten uniform centres, then one randn(2) per point.
    rs = np.random.RandomState(0)
    centers = rs.uniform(-8.0, 8.0, (10, 2))
    pts = [c + rs.randn(2) for c in centers for _ in range(100)]
    expected = np.stack(pts).astype(np.float32)
    x, t = make_clusters(10, 100, -8, 8, 1.0, seed=0, legacy=True)
    np.testing.assert_array_equal(x, expected)
    np.testing.assert_array_equal(t, np.repeat(np.arange(10), 100))


def test_npz_round_trip_uses_the_classic_keys(tmp_path):
    x, t = make_clusters(n_centers=3, n_per_center=5, seed=1)
    path = save_npz(tmp_path / "clusters.npz", x, t)
    with np.load(path) as z:
        assert sorted(z.files) == ["inputs", "labels"]
    x2, t2 = load_npz(path)
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(t2, t)


def test_load_npz_refuses_pickles_and_wrong_keys(tmp_path):
    np.savez(tmp_path / "obj.npz", inputs=np.array([{"a": 1}], dtype=object), labels=np.zeros(1))
    with pytest.raises(DataError):
        load_npz(tmp_path / "obj.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(DataError, match="inputs/labels"):
        load_npz(tmp_path / "other.npz")


def test_spirals():
    x, t = make_spirals(4, 50, noise=0.1, seed=0)
    assert x.shape == (200, 2) and np.bincount(t).tolist() == [50] * 4
    assert np.abs(x).max() <= 1.0 + 1e-6
    np.testing.assert_array_equal(make_spirals(4, 50, 0.1, seed=0)[0], x)


def test_tiny_images_are_learnable_by_nearest_class_mean():
    x, t = make_tiny_images(n=600, n_classes=10, seed=0)
    assert x.shape == (600, 1, 8, 8) and x.dtype == np.float32 and x.min() >= 0 and x.max() <= 1
    flat = x.reshape(600, -1)
    means = np.stack([flat[:400][t[:400] == k].mean(0) for k in range(10)])
    pred = np.argmin(((flat[400:, None] - means[None]) ** 2).sum(-1), axis=1)
    assert (pred == t[400:]).mean() > 0.8


@pytest.mark.parametrize("call", [
    lambda: make_clusters(n_centers=0), lambda: make_clusters(low=1, high=1),
    lambda: make_clusters(noise_std=-1), lambda: make_spirals(noise=-1),
    lambda: make_tiny_images(n_classes=11), lambda: make_tiny_images(size=2),
    lambda: make_clusters(seed=np.random.default_rng(0), legacy=True),
])
def test_bad_arguments(call):
    with pytest.raises(ConfigError):
        call()


def test_argument_errors_name_the_function_and_the_range():
    with pytest.raises(ConfigError, match=r"make_clusters: n_centers must be an integer >= 1, got 2\.0"):
        make_clusters(n_centers=2.0)
    with pytest.raises(ConfigError, match=r"make_spirals: noise=-1 is out of range; valid range: 0 <= noise"):
        make_spirals(noise=-1)
    with pytest.raises(ConfigError, match=r"make_tiny_images: size=2 is out of range; valid range: size >= 4"):
        make_tiny_images(size=2)
