"""IDX reading and writing: round trips for every element type, and every kind of damage."""

import gzip
import hashlib
import struct

import numpy as np
import pytest

from trainlab.data.idx import idx_sha256, is_gzip, read_idx, read_idx_pair, write_idx
from trainlab.data.sources import find_idx_files, read_idx_set
from trainlab.errors import DataError, DTypeError

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


def _sample(dtype, shape, rng):
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("shape", [(7,), (5, 3, 4), (2, 1, 3, 2)])
def test_round_trip_every_type(tmp_path, rng, dtype, compress, shape):
    a = _sample(dtype, shape, rng)
    path = write_idx(tmp_path / "a.idx", a, gzip=compress)
    assert is_gzip(path) == compress
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative
    assert b.shape == shape
    np.testing.assert_array_equal(a, b)
    assert b.flags.writeable


def test_header_is_big_endian_and_documented(tmp_path):
    a = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int16)
    raw = write_idx(tmp_path / "a", a).read_bytes()
    assert raw[:4] == bytes([0, 0, 0x0B, 2])
    assert struct.unpack(">II", raw[4:12]) == (2, 3)
    assert raw[12:14] == b"\x00\x01"  # big-endian 1
    assert len(raw) == 12 + 6 * 2


def test_gzip_detected_by_content_not_name(tmp_path, rng):
    a = _sample(np.uint8, (4, 5), rng)
    raw_named_gz = write_idx(tmp_path / "raw.gz", a, gzip=False)
    gz_named_raw = write_idx(tmp_path / "packed-ubyte", a, gzip=True)
    np.testing.assert_array_equal(read_idx(raw_named_gz), a)
    np.testing.assert_array_equal(read_idx(gz_named_raw), a)


def test_gzip_output_is_deterministic(tmp_path, rng):
    a = _sample(np.uint8, (30, 8), rng)
    one = write_idx(tmp_path / "one.gz", a, gzip=True).read_bytes()
    two = write_idx(tmp_path / "two.gz", a, gzip=True).read_bytes()
    assert one == two


@pytest.mark.parametrize("dtype", DTYPES)
def test_idx_sha256_is_the_raw_file_hash(tmp_path, rng, dtype):
    a = _sample(dtype, (3, 4), rng)
    path = write_idx(tmp_path / "a", a)
    assert idx_sha256(a) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_write_refuses_unsupported_dtype(tmp_path):
    with pytest.raises(DTypeError, match="int64"):
        write_idx(tmp_path / "a", np.arange(3, dtype=np.int64))


def _raw(tmp_path, a):
    return bytearray(write_idx(tmp_path / "src", a).read_bytes())


@pytest.mark.parametrize("compress", [False, True])
def test_wrong_magic(tmp_path, compress):
    data = _raw(tmp_path, np.zeros((2, 2), np.uint8))
    data[0] = 0x12
    path = tmp_path / "bad"
    path.write_bytes(gzip.compress(bytes(data)) if compress else bytes(data))
    with pytest.raises(DataError, match=r"bad: wrong magic number 0x12"):
        read_idx(path)


def test_unknown_type_byte(tmp_path):
    data = _raw(tmp_path, np.zeros((2, 2), np.uint8))
    data[2] = 0x0A
    (tmp_path / "bad").write_bytes(bytes(data))
    with pytest.raises(DataError, match="wrong magic"):
        read_idx(tmp_path / "bad")


@pytest.mark.parametrize("compress", [False, True])
def test_truncated_body(tmp_path, compress):
    data = bytes(_raw(tmp_path, np.zeros((4, 3, 3), np.uint8)))[:-5]
    path = tmp_path / "short"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(DataError, match=r"short: truncated body.*needs 36 bytes, found 31"):
        read_idx(path)


def test_truncated_header(tmp_path):
    data = bytes(_raw(tmp_path, np.zeros((4, 3, 3), np.uint8)))[:9]
    (tmp_path / "h").write_bytes(data)
    with pytest.raises(DataError, match="truncated header"):
        read_idx(tmp_path / "h")
    (tmp_path / "tiny").write_bytes(b"\x00\x00")
    with pytest.raises(DataError, match="too short"):
        read_idx(tmp_path / "tiny")


@pytest.mark.parametrize("compress", [False, True])
def test_trailing_bytes(tmp_path, compress):
    data = bytes(_raw(tmp_path, np.zeros((2, 2), np.uint8))) + b"junk"
    path = tmp_path / "long"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(DataError, match=r"long: 4 trailing bytes"):
        read_idx(path)


def test_cut_gzip_stream(tmp_path):
    packed = gzip.compress(bytes(_raw(tmp_path, np.arange(400, dtype=np.uint8).reshape(20, 20) % 7)))
    (tmp_path / "cut.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataError, match="cut.gz"):
        read_idx(tmp_path / "cut.gz")


def test_mismatched_counts(tmp_path):
    write_idx(tmp_path / "images", np.zeros((5, 2, 2), np.uint8))
    write_idx(tmp_path / "labels", np.zeros(4, np.uint8))
    with pytest.raises(DataError, match="5 images but .*labels holds 4 labels"):
        read_idx_pair(tmp_path / "images", tmp_path / "labels")


def _write_set(folder, n_train=6, n_test=4, prefix="", compress=True, sep="-"):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    ext = ".gz" if compress else ""
    parts = {
        "train-images": rng.integers(0, 256, (n_train, 3, 3)).astype(np.uint8),
        "train-labels": rng.integers(0, 3, n_train).astype(np.uint8),
        "t10k-images": rng.integers(0, 256, (n_test, 3, 3)).astype(np.uint8),
        "t10k-labels": rng.integers(0, 3, n_test).astype(np.uint8),
    }
    for stem, a in parts.items():
        nd = 3 if "images" in stem else 1
        write_idx(folder / f"{prefix}{stem}{sep}idx{nd}-ubyte{ext}", a, gzip=compress)
    return parts


def test_find_and_read_standard_names(tmp_path):
    parts = _write_set(tmp_path / "set")
    files = find_idx_files(tmp_path / "set")
    arrays = read_idx_set(files)
    np.testing.assert_array_equal(arrays["x_train"], parts["train-images"])
    np.testing.assert_array_equal(arrays["t_test"], parts["t10k-labels"])


def test_find_dot_spelling_and_prefixes(tmp_path):
    _write_set(tmp_path / "dots", compress=False, sep=".")
    assert find_idx_files(tmp_path / "dots")["x_train"].name == "train-images.idx3-ubyte"
    _write_set(tmp_path / "two", prefix="emnist-digits-")
    _write_set(tmp_path / "two", prefix="emnist-letters-")
    with pytest.raises(DataError, match="several IDX sets"):
        find_idx_files(tmp_path / "two")
    files = find_idx_files(tmp_path / "two", prefix="emnist-letters-")
    assert files["t_test"].name == "emnist-letters-t10k-labels-idx1-ubyte.gz"


def test_read_set_mismatched_counts(tmp_path):
    _write_set(tmp_path / "s")
    write_idx(tmp_path / "s" / "t10k-labels-idx1-ubyte.gz", np.zeros(3, np.uint8), gzip=True)
    with pytest.raises(DataError, match="4 images but .* 3 labels"):
        read_idx_set(find_idx_files(tmp_path / "s"))


def test_missing_files_and_folder(tmp_path):
    _write_set(tmp_path / "s")
    (tmp_path / "s" / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError, match="lacks t10k-images-idx3-ubyte"):
        find_idx_files(tmp_path / "s")
    with pytest.raises(DataError, match="does not exist"):
        find_idx_files(tmp_path / "nowhere")
