"""IDX headers that declare impossible sizes, and IDX folders whose files disagree."""

import gzip
import struct
import tracemalloc

import numpy as np
import pytest

from trainlab.data.datasets import load_idx_folder
from trainlab.data.idx import read_idx, write_idx
from trainlab.data.limits import MAX_ARRAY_BYTES, MAX_CLASSES, MAX_NDIM
from trainlab.errors import DataError, ShapeError


def _header(code, dims):
    return struct.pack(">BBBB", 0, 0, code, len(dims)) + struct.pack(f">{len(dims)}I", *dims)


def _peak_while_refused(path, match) -> int:
    """The peak memory Python allocated while read_idx refused ``path`` with a DataError matching ``match``."""
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=match):
            read_idx(path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _write(path, data, compress):
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.mark.parametrize("compress", [False, True])
def test_terabytes_declared_are_refused_by_the_limit(tmp_path, compress):
    path = _write(tmp_path / "huge", _header(0x0E, [2**32 - 1, 2**32 - 1, 2**32 - 1]) + b"\0" * 16, compress)
    with pytest.raises(DataError, match=r"huge: shape .* declares \d+ bytes, over the limit"):
        read_idx(path)


@pytest.mark.parametrize("compress", [False, True])
def test_overflowing_product_is_refused_not_negative(tmp_path, compress):
    # 2**32-1 to the 8th power wraps around in int64; Python ints do not.
    path = _write(tmp_path / "wrap", _header(0x08, [2**32 - 1] * MAX_NDIM), compress)
    with pytest.raises(DataError, match="wrap: .*over the limit"):
        read_idx(path)


@pytest.mark.parametrize("ndim", [MAX_NDIM + 1, 64, 255])
def test_too_many_dimensions(tmp_path, ndim):
    path = _write(tmp_path / "dims", _header(0x08, [2] * ndim), False)
    with pytest.raises(DataError, match=f"dims: IDX header declares {ndim} dimensions; at most {MAX_NDIM}"):
        read_idx(path)


def test_writer_refuses_what_the_reader_would_refuse(tmp_path):
    with pytest.raises(ShapeError, match=f"1 to {MAX_NDIM} dimensions"):
        write_idx(tmp_path / "a", np.zeros((1,) * (MAX_NDIM + 1), np.uint8))


@pytest.mark.parametrize("compress", [False, True])
def test_small_file_declaring_gigabytes_allocates_nothing_big(tmp_path, compress):
    data = _header(0x08, [1500, 1000, 1000])  # 1.5 GB, under the limit
    assert len(data) + 12 == 28 and 1.5e9 < MAX_ARRAY_BYTES
    path = _write(tmp_path / "liar", data + b"\0" * 12, compress)
    assert _peak_while_refused(path, "liar: .*needs 1500000000 bytes") < 10 << 20


def test_gzip_bomb_past_the_declared_size_stops_reading(tmp_path):
    # Declares 10 bytes, then 50 MB of zeros: read stops one byte past the data.
    body = _header(0x08, [10]) + bytes(10) + bytes(50 << 20)
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip.compress(body, compresslevel=1))
    assert _peak_while_refused(path, "bomb.gz: more than 1048576 trailing bytes") < 8 << 20


def test_gzip_too_small_for_its_declared_size_is_refused_before_inflating(tmp_path):
    path = _write(tmp_path / "tiny.gz", _header(0x08, [1 << 30]), True)
    with pytest.raises(DataError, match="tiny.gz: .*more than \\d+ bytes of gzip can hold"):
        read_idx(path)


def test_custom_limit(tmp_path):
    path = write_idx(tmp_path / "a", np.zeros((10, 10), np.uint8))
    assert read_idx(path, max_bytes=100).shape == (10, 10)
    with pytest.raises(DataError, match="over the limit of 99 bytes"):
        read_idx(path, max_bytes=99)


def test_zero_sized_dimension_reads_as_empty(tmp_path):
    path = write_idx(tmp_path / "e", np.zeros((0, 3), np.int16))
    assert read_idx(path).shape == (0, 3)


def test_folder_is_reported_as_not_an_idx_file(tmp_path):
    with pytest.raises(DataError, match="is a folder"):
        read_idx(tmp_path)


def _folder(path, *, train_labels=None, test_images=None, compress=False):
    path.mkdir()
    ext = ".gz" if compress else ""
    write_idx(path / f"train-images-idx3-ubyte{ext}", np.zeros((4, 3, 3), np.uint8), gzip=compress)
    write_idx(path / f"train-labels-idx1-ubyte{ext}",
              np.array([0, 1, 2, 1], np.uint8) if train_labels is None else train_labels, gzip=compress)
    write_idx(path / f"t10k-images-idx3-ubyte{ext}",
              np.zeros((2, 3, 3), np.uint8) if test_images is None else test_images, gzip=compress)
    write_idx(path / f"t10k-labels-idx1-ubyte{ext}", np.array([2, 0], np.uint8), gzip=compress)
    return path


def test_float_labels_that_are_not_integers_are_refused(tmp_path):
    folder = _folder(tmp_path / "f", train_labels=np.array([0, 0.5, 1, 2], np.float32))
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte: label 0\.5 at index 1 is not an integer"):
        load_idx_folder(folder)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_float_labels_are_refused(tmp_path, bad):
    folder = _folder(tmp_path / "f", train_labels=np.array([0, 1, bad, 2], np.float64))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte: label .* not an integer"):
        load_idx_folder(folder)


def test_whole_float_labels_are_accepted_as_integers(tmp_path):
    folder = _folder(tmp_path / "f", train_labels=np.array([0, 1, 2, 1], np.float32))
    d = load_idx_folder(folder)
    assert d.t_train.dtype == np.int64 and list(d.t_train) == [0, 1, 2, 1]


def test_negative_and_huge_labels_are_refused(tmp_path):
    folder = _folder(tmp_path / "neg", train_labels=np.array([0, -1, 2, 1], np.int8))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte: label -1 is outside"):
        load_idx_folder(folder)
    folder = _folder(tmp_path / "big", train_labels=np.array([0, 1, 2, 10**9], np.int32))
    with pytest.raises(DataError, match=f"label 1000000000 is outside 0..{MAX_CLASSES - 1}"):
        load_idx_folder(folder)


def test_labels_outside_the_named_classes_are_refused(tmp_path):
    folder = _folder(tmp_path / "c")
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte: label 2 is outside 0\.\.1"):
        load_idx_folder(folder, classes=("a", "b"), one_hot_label=True)


@pytest.mark.parametrize("compress", [False, True])
def test_train_and_test_images_of_different_shapes_are_refused(tmp_path, compress):
    folder = _folder(tmp_path / "s", test_images=np.zeros((2, 4, 3), np.uint8), compress=compress)
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.* have shape \(3, 3\) but test images in "
                                        r".*t10k-images-idx3-ubyte.* have shape \(4, 3\)"):
        load_idx_folder(folder)
