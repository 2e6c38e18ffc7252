"""Hand-built damaged ``.npz`` files: the cache reader and ``load_npz`` refuse them before allocating."""

import hashlib
import json
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest

from trainlab.data.cache import read_cache, write_cache
from trainlab.data.idx import idx_sha256
import trainlab.data.npz as npz_mod
from trainlab.data.npz import MAX_NPZ_ENTRIES, read_npz
from trainlab.data.synthetic import load_npz
from trainlab.errors import DataError

GOOD = {"x_train": np.arange(18, dtype=np.uint8).reshape(2, 3, 3), "t_train": np.array([0, 1], np.uint8)}


def npy(descr, shape, data=b"", *, fortran=False, version=(1, 0)):
    """A ``.npy`` entry with any header, valid or not."""
    header = repr({"descr": descr, "fortran_order": fortran, "shape": shape}).encode("latin1")
    size_len = 2 if version[0] == 1 else 4
    header += b" " * ((64 - (6 + 2 + size_len + len(header) + 1) % 64) % 64) + b"\n"
    packed = struct.pack("<H" if size_len == 2 else "<I", len(header))
    return b"\x93NUMPY" + bytes(version) + packed + header + data


def make_npz(path, entries, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def meta_entry(meta):
    text = json.dumps(meta)
    return npy(f"<U{len(text)}", (), text.encode("utf-32-le"))


def good_meta(arrays=GOOD):
    return {"format": 1, "dataset": "t", "source": "s", "created": "",
            "sha256": {k: idx_sha256(a) for k, a in arrays.items()}}


def cache_with(path, **entries):
    content = {"__meta__.npy": meta_entry(good_meta())}
    for key, a in GOOD.items():
        content[f"{key}.npy"] = npy("|u1", a.shape, a.tobytes())
    content.update(entries)
    return make_npz(path, content)


def test_hand_built_cache_is_read(tmp_path):
    arrays, meta = read_cache(cache_with(tmp_path / "ok.npz"))
    np.testing.assert_array_equal(arrays["x_train"], GOOD["x_train"])
    assert arrays["x_train"].flags.writeable and meta["source"] == "s"


def test_terabytes_declared_in_a_tiny_entry_are_refused(tmp_path):
    path = cache_with(tmp_path / "huge.npz", **{"x_train.npy": npy("|u1", (2**20, 2**20, 2**20), b"\0" * 10)})
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"cache file .*huge.npz, entry 'x_train.npy': shape .* over the limit"):
            read_cache(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


def test_size_other_than_the_entry_holds_is_refused_before_allocating(tmp_path):
    path = cache_with(tmp_path / "liar.npz", **{"x_train.npy": npy("|u1", (1500, 1000, 1000), b"\0" * 10)})
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="liar.npz, entry 'x_train.npy': shape .* needs 1500000000 bytes, "
                                            "the entry holds 10"):
            read_cache(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


@pytest.mark.parametrize("descr, match", [
    ("|O", "dtype object is refused"),
    ([("a", "<f4")], "is refused"),
    ("|V4", "is refused"),
    ("<M8[s]", "is refused"),
])
def test_object_structured_and_other_dtypes_are_refused(tmp_path, descr, match):
    path = cache_with(tmp_path / "d.npz", **{"x_train.npy": npy(descr, (1,), b"\0" * 8)})
    with pytest.raises(DataError, match=match):
        read_cache(path)


def test_pickled_object_array_saved_by_numpy_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, x_train=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DataError, match="dtype object is refused"):
        read_npz(path)


@pytest.mark.parametrize("shape, match", [
    ((1,) * 9, "9 dimensions declared"),
    ((-1,), "damaged|non-negative"),
    ("x", "damaged"),
])
def test_bad_shapes(tmp_path, shape, match):
    path = cache_with(tmp_path / "s.npz", **{"x_train.npy": npy("|u1", shape, b"\0")})
    with pytest.raises(DataError, match=match):
        read_cache(path)


def test_other_npy_versions_and_entries(tmp_path):
    a = GOOD["t_train"]
    v2 = cache_with(tmp_path / "v2.npz", **{"t_train.npy": npy("|u1", a.shape, a.tobytes(), version=(2, 0))})
    np.testing.assert_array_equal(read_cache(v2)[0]["t_train"], a)
    v3 = cache_with(tmp_path / "v3.npz", **{"t_train.npy": npy("|u1", a.shape, a.tobytes(), version=(3, 0))})
    with pytest.raises(DataError, match=r"format version \(3, 0\) is not read"):
        read_cache(v3)
    other = cache_with(tmp_path / "o.npz", **{"readme.txt": b"hi"})
    with pytest.raises(DataError, match="'readme.txt': not a .npy entry"):
        read_cache(other)
    many = make_npz(tmp_path / "m.npz", {f"a{i}.npy": npy("|u1", (0,)) for i in range(MAX_NPZ_ENTRIES + 1)})
    with pytest.raises(DataError, match=f"at most {MAX_NPZ_ENTRIES}"):
        read_npz(many)


def test_damaged_data_fails_its_crc(tmp_path):
    stored = make_npz(tmp_path / "st.npz", {"x_train.npy": npy("|u1", (2, 3, 3), bytes(18))}, zipfile.ZIP_STORED)
    raw = bytearray(stored.read_bytes())
    raw[raw.index(bytes(18)) + 5] = 7
    stored.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="st.npz is damaged .*CRC"):
        read_npz(stored)


@pytest.mark.parametrize("meta, match", [
    ("[" * 100000 + "]" * 100000, "not JSON|unknown format"),
    ("{", "not JSON"),
    ({"format": 1, "sha256": ["x"]}, "no sha256 table"),
    ({"format": 1, "sha256": {"x_train": 3}}, "no sha256 table"),
    ({"format": 2, "sha256": {}}, "unknown format"),
    ({"format": 1, "sha256": {}, "source": 5}, "'source' is not a string"),
])
def test_bad_metadata(tmp_path, meta, match):
    text = meta if isinstance(meta, str) else json.dumps(meta)
    entry = npy(f"<U{len(text)}", (), text.encode("utf-32-le"))
    path = cache_with(tmp_path / "meta.npz", **{"__meta__.npy": entry})
    with pytest.raises(DataError, match=match):
        read_cache(path)


def test_metadata_that_is_not_one_string(tmp_path):
    path = cache_with(tmp_path / "m.npz", **{"__meta__.npy": npy("|u1", (3,), b"abc")})
    with pytest.raises(DataError, match="__meta__ is uint8 of shape"):
        read_cache(path)
    path = make_npz(tmp_path / "none.npz", {"x_train.npy": npy("|u1", (1,), b"a")})
    with pytest.raises(DataError, match="no __meta__ entry"):
        read_cache(path)


@pytest.mark.parametrize("array", [np.zeros(3, np.uint16), np.array(7, np.uint8), np.zeros((2,), np.float64)])
def test_cache_arrays_other_than_uint8_are_refused_as_data_errors(tmp_path, array):
    content = {"__meta__.npy": meta_entry({"format": 1, "sha256": {"x_train": "0" * 64}}),
               "x_train.npy": npy(array.dtype.str, array.shape, array.tobytes())}
    with pytest.raises(DataError, match="x_train is .* the cache holds uint8 arrays"):
        read_cache(make_npz(tmp_path / "c.npz", content))


def test_reading_never_changes_the_file(tmp_path):
    path = write_cache(tmp_path / "c.npz", GOOD, dataset="t", source="s")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    read_cache(path)
    bad = cache_with(tmp_path / "bad.npz", **{"x_train.npy": npy("|u1", (2**40,))})
    bad_before = bad.read_bytes()
    with pytest.raises(DataError):
        read_cache(bad)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before and bad.read_bytes() == bad_before


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(DataError, match="is a folder"):
        read_npz(tmp_path)


def test_load_npz_refuses_huge_and_zero_dimensional(tmp_path):
    labels = {"labels.npy": npy("<i8", (1,), bytes(8))}
    huge = make_npz(tmp_path / "h.npz", {"inputs.npy": npy("<f4", (2**40, 784)), **labels})
    with pytest.raises(DataError, match="over the limit"):
        load_npz(huge)
    scalar = make_npz(tmp_path / "z.npz", {"inputs.npy": npy("<f4", (), bytes(4)), **labels})
    with pytest.raises(DataError, match="at least one dimension"):
        load_npz(scalar)
    text = make_npz(tmp_path / "u.npz", {"inputs.npy": npy("<U2", (1,), bytes(8)), **labels})
    with pytest.raises(DataError, match="is refused"):
        load_npz(text)
    with pytest.raises(DataError, match="not a readable .npz"):
        load_npz(tmp_path / "missing.npz")


@pytest.mark.parametrize("header", [b"{\n", b"{'descr': '<f4', 'fortran_order': False, 'shape': )3, 4), }\n"])
def test_headers_numpy_cannot_tokenize_are_data_errors(tmp_path, header):
    # Found by fuzzing: numpy's header parser raised tokenize.TokenError.
    entry = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header
    with pytest.raises(DataError, match="is damaged"):
        read_npz(make_npz(tmp_path / "t.npz", {"a.npy": entry}))


def test_total_declared_size_is_limited(tmp_path, monkeypatch):
    entry = npy("|u1", (100,), bytes(100))
    path = make_npz(tmp_path / "two.npz", {"a.npy": entry, "b.npy": entry})
    assert set(read_npz(path)) == {"a", "b"}
    monkeypatch.setattr(npz_mod, "MAX_NPZ_BYTES", 300)
    with pytest.raises(DataError, match=r"two.npz declares \d+ bytes in all, over the limit of 300"):
        read_npz(path)
