"""Augmentation: shape, dtype and determinism; identities; building from configs; validation."""

import json

import numpy as np
import pytest

from trainlab.data import TRANSFORMS, build_pipeline, build_transform
from trainlab.data.augment import RandomHorizontalFlip, RandomShift
from trainlab.data.pipeline import Compose
from trainlab.data.warp import affine_coords, sample, shift_whole_pixels, smooth
from trainlab.errors import ConfigError, DTypeError, ShapeError, UnknownNameError

CONFIGS = ["shift:2", "rotate:15", "scale:0.2", "affine:10,0.1,1.5", "hflip", "noise:0.1",
           "brightness-contrast:0.2,0.3", "erase:1.0", "elastic:34,4",
           "rotate:20,nearest", "elastic:alpha=20,sigma=3,interpolation=nearest"]


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    x = np.zeros((16, 2, 12, 10), np.float32)
    x[:, :, 3:9, 2:8] = rng.random((16, 2, 6, 6))
    return x


@pytest.mark.parametrize("config", CONFIGS)
def test_shape_dtype_determinism(batch, config):
    t = build_transform(config)
    a = t(batch, np.random.default_rng(1))
    b = t(batch, np.random.default_rng(1))
    c = t(batch, np.random.default_rng(2))
    assert a.shape == batch.shape and a.dtype == batch.dtype
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, batch)
    assert np.all(np.isfinite(a))
    np.testing.assert_array_equal(batch, batch.copy())  # input untouched


@pytest.mark.parametrize("config", CONFIGS)
def test_flat_input_with_image_shape(batch, config):
    flat = batch.reshape(16, -1)
    t = build_transform(config)
    out = t(flat, np.random.default_rng(5), image_shape=(2, 12, 10))
    ref = t(batch, np.random.default_rng(5))
    assert out.shape == flat.shape
    np.testing.assert_array_equal(out, ref.reshape(16, -1))


def test_square_single_channel_inferred_for_flat_input():
    x = np.random.default_rng(0).random((4, 784)).astype(np.float32)
    assert build_pipeline(["shift:2"])(x, np.random.default_rng(0)).shape == (4, 784)
    with pytest.raises(ShapeError, match="image_shape"):
        build_transform("shift")(np.zeros((4, 10), np.float32), np.random.default_rng(0))


def test_float64_kept(batch):
    x = batch.astype(np.float64)
    assert build_pipeline("rotate:10 noise:0.1")(x, np.random.default_rng(0)).dtype == np.float64


@pytest.mark.parametrize("config", ["shift:0", "rotate:0", "scale:0", "affine", "noise:0",
                                    "brightness-contrast:0,0", "erase:0", "elastic:0,4", "hflip:0"])
def test_zero_strength_is_identity(batch, config):
    out = build_transform(config)(batch, np.random.default_rng(0))
    np.testing.assert_array_equal(out, batch)


def test_flip_twice_is_identity(batch):
    flip = RandomHorizontalFlip(p=1.0)
    once = flip(batch, np.random.default_rng(0))
    np.testing.assert_array_equal(once, batch[..., ::-1])
    np.testing.assert_array_equal(flip(once, np.random.default_rng(1)), batch)


def test_flip_half_flips_some():
    x = np.random.default_rng(0).random((200, 1, 4, 4)).astype(np.float32)
    out = RandomHorizontalFlip(0.5)(x, np.random.default_rng(0))
    flipped = np.all(out == x[..., ::-1], axis=(1, 2, 3))
    assert 60 < flipped.sum() < 140
    assert np.all(flipped | np.all(out == x, axis=(1, 2, 3)))


def test_shift_moves_whole_pixels_within_range():
    n, s = 400, 2
    x = np.zeros((n, 1, 9, 9), np.float32)
    x[:, 0, 4, 4] = 1.0
    out = RandomShift(s)(x, np.random.default_rng(0))
    assert np.all(out.sum(axis=(1, 2, 3)) == 1.0)  # one whole pixel, nothing blended
    rows, cols = np.nonzero(out[:, 0])[1:]
    assert set(rows - 4) == set(range(-s, s + 1)) and set(cols - 4) == set(range(-s, s + 1))


@pytest.mark.parametrize("s, fill, shape", [(2, 0.0, (64, 1, 28, 28)), (1, 0.5, (33, 3, 5, 7)), (4, -1.0, (9, 2, 6, 6))])
def test_shift_equals_nearest_sampling_at_the_shifted_grid(s, fill, shape):
    """The padded-gather shift gives exactly the general sampler's result for the same draws."""
    x = np.random.default_rng(1).random(shape).astype(np.float32)
    out = RandomShift(s, fill)(x, np.random.default_rng(7))
    dy, dx = np.random.default_rng(7).integers(-s, s + 1, size=(2, shape[0])).astype(np.float64)
    n, _, h, w = shape
    ys, xs = affine_coords(np, n, h, w, np.zeros(n), np.ones(n), dy, dx)
    expected = sample(x, ys, xs, mode="nearest", fill=fill)
    assert out.dtype == x.dtype and out.shape == x.shape
    np.testing.assert_array_equal(out, expected)


def test_shift_whole_pixels_of_an_empty_batch_and_of_no_shift():
    empty = np.zeros((0, 1, 4, 4), np.float32)
    assert shift_whole_pixels(empty, np.zeros(0, int), np.zeros(0, int)).shape == (0, 1, 4, 4)
    x = np.random.default_rng(0).random((3, 1, 4, 4))
    same = shift_whole_pixels(x, np.zeros(3, int), np.zeros(3, int))
    np.testing.assert_array_equal(same, x)
    assert same is not x


def test_affine_quarter_turn_is_rot90():
    img = np.arange(25, dtype=np.float64).reshape(1, 1, 5, 5)
    ys, xs = affine_coords(np, 1, 5, 5, np.array([np.pi / 2]), np.ones(1), np.zeros(1), np.zeros(1))
    out = sample(img, ys, xs, mode="bilinear")
    rotations = [np.rot90(img[0, 0], k) for k in (1, -1)]
    assert any(np.allclose(out[0, 0], r) for r in rotations)


def test_bilinear_halfway_is_the_average():
    img = np.array([[[[0.0, 2.0], [4.0, 6.0]]]])
    out = sample(img, np.full((1, 1, 1), 0.5), np.full((1, 1, 1), 0.5))
    assert out[0, 0, 0, 0] == pytest.approx(3.0)
    outside = sample(img, np.full((1, 1, 1), 5.0), np.full((1, 1, 1), 5.0), fill=-1.0)
    assert outside[0, 0, 0, 0] == -1.0


def test_smooth_keeps_a_constant_field_inside():
    field = np.ones((2, 20, 20))
    out = smooth(field, sigma=1.0)
    np.testing.assert_allclose(out[:, 5:15, 5:15], 1.0, rtol=1e-12)


def test_erase_makes_a_rectangle_of_value(batch):
    out = build_transform({"name": "erase", "p": 1.0, "value": -3.0})(batch, np.random.default_rng(0))
    for img in out[:, 0]:
        rows, cols = np.nonzero(img == -3.0)
        assert rows.size == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)


def test_noise_has_the_asked_spread():
    x = np.zeros((64, 1, 16, 16), np.float32)
    out = build_transform("noise:0.5")(x, np.random.default_rng(0))
    assert out.std() == pytest.approx(0.5, rel=0.05)
    clipped = build_transform({"name": "noise", "std": 0.5, "clip": [0, 1]})(x, np.random.default_rng(0))
    assert clipped.min() == 0 and clipped.max() <= 1


def test_pipeline_config_round_trip_is_json(batch):
    p = build_pipeline(["shift:2", "rotate:10", {"name": "erase", "p": 0.5}, "elastic:alpha=20"])
    cfg = p.get_config()
    again = build_pipeline(json.loads(json.dumps(cfg)))
    assert again.get_config() == cfg
    np.testing.assert_array_equal(p(batch, np.random.default_rng(4)), again(batch, np.random.default_rng(4)))
    assert len(p) == 4 and [t.name for t in p] == ["shift", "rotate", "erase", "elastic"]


def test_every_registered_transform_round_trips():
    for name in TRANSFORMS.names():
        t = build_transform(name)
        assert build_transform(t.get_config()).get_config() == t.get_config()


def test_string_forms_and_aliases():
    assert build_pipeline("shift:2; rotate:10").get_config() == build_pipeline(["shift:2", "rotate:10"]).get_config()
    assert build_transform("cutout:0.3").get_config()["p"] == 0.3
    assert build_transform("crop:4").get_config() == {"name": "shift", "max_shift": 4, "fill": 0.0}
    assert build_pipeline(None)(np.ones((1, 1, 2, 2), np.float32), np.random.default_rng(0)).sum() == 4
    assert isinstance(build_pipeline([]), Compose)


@pytest.mark.parametrize("config, error", [
    ("shift:-1", ConfigError), ("shift:1.5", ConfigError), ("rotate:500", ConfigError),
    ("noise:-0.1", ConfigError), ("hflip:1.5", ConfigError), ("rotate:10,cubic", ConfigError),
    ("scale:1.5", ConfigError), ("erase:0.5,0,0.1", ConfigError), ("shift:2,0,9", ConfigError),
    ({"name": "rotate", "degree": 10}, ConfigError), ({"degrees": 10}, ConfigError),
    ("elastic:34,0", ConfigError), ("swirl:3", UnknownNameError), (42, ConfigError),
])
def test_bad_configs(config, error):
    with pytest.raises(error):
        build_pipeline([config])


def test_integer_batches_and_bad_rng_refused():
    with pytest.raises(DTypeError):
        build_transform("shift")(np.zeros((2, 1, 4, 4), np.uint8), np.random.default_rng(0))
    with pytest.raises(ConfigError, match="Generator"):
        build_transform("shift")(np.zeros((2, 1, 4, 4), np.float32), None)
