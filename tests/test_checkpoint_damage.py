"""Damaged archives, lying .npy headers, zip bombs and foreign files give CheckpointError, never more."""

import gzip
import io
import pickle
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest

from trainlab import npzread
from trainlab.checkpoint import load, save
from trainlab.errors import CheckpointError
from trainlab.layers import Linear, Sequential


def _saved(tmp_path, name="m.npz"):
    net = Sequential(Linear(4, 3, rng=np.random.default_rng(0)), Linear(3, 2, rng=np.random.default_rng(1)))
    return save(net, tmp_path / name)


def _refused(path, match=None):
    """load(path) raises CheckpointError (matching ``match``) naming the file, and leaves it as it was."""
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(CheckpointError, match=match) as info:
        load(path)
    assert str(path) in str(info.value)
    assert type(info.value) is CheckpointError
    if before is not None:
        assert path.read_bytes() == before
    return info.value


def _central_directory(data):
    end = data.rfind(b"PK\x05\x06")
    size, offset = struct.unpack("<II", data[end + 12:end + 20])
    return offset, offset + size, end


def _npy(header, payload=b""):
    """The bytes of a .npy file with ``header`` (a dict's text) and ``payload``."""
    text = header.encode("latin1")
    text += b" " * (-(len(text) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + payload


def _npz(path, entries, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize("field, value, match", [
    (6, b"\xff", "damaged"),           # version needed to extract: zipfile raises NotImplementedError
    (10, b"\x63\x00", "compression"),  # compression method 99: NotImplementedError in zipfile
    (8, b"\x01\x00", "encrypted"),     # flag bits: encrypted entry (RuntimeError in zipfile)
    (20, b"\xff\xff\xff\x7f", "damaged|more than"),  # compressed size
    (24, b"\xff\xff\xff\x7f", "damaged|more than"),  # uncompressed size
    (28, b"\xff\xff", "damaged"),     # file name length
    (42, b"\xff\xff\xff\x7f", "damaged"),  # offset of the local header
])
def test_central_directory_field_damage(tmp_path, field, value, match):
    path = _saved(tmp_path)
    data = bytearray(path.read_bytes())
    start, _, _ = _central_directory(data)
    data[start + field:start + field + len(value)] = value
    path.write_bytes(bytes(data))
    _refused(path, match)


def test_every_byte_of_the_central_directory(tmp_path):
    """Any change of any byte of the directory and its end record loads or gives CheckpointError."""
    path = _saved(tmp_path)
    good = path.read_bytes()
    start, _, stop = _central_directory(good)
    for pos in range(start, len(good)):
        for xor in (0x01, 0x80, 0xFF):
            data = bytearray(good)
            data[pos] ^= xor
            path.write_bytes(bytes(data))
            try:
                load(path)
            except CheckpointError as e:
                assert str(path) in str(e)
            assert path.read_bytes() == bytes(data)
    assert stop > start


def test_bad_name_encoding_in_directory(tmp_path):
    path = _saved(tmp_path)
    data = bytearray(path.read_bytes())
    start, _, _ = _central_directory(data)
    data[start + 8] |= 0x08  # file names are UTF-8 ...
    name_len = struct.unpack("<H", data[start + 28:start + 30])[0]
    data[start + 46:start + 46 + 2] = b"\xff\xfe"  # ... but are not
    assert name_len >= 2
    path.write_bytes(bytes(data))
    _refused(path, "damaged")


def test_npy_file_named_npz(tmp_path):
    path = tmp_path / "single.npz"
    with open(path, "wb") as f:
        np.save(f, np.ones(3))
    _refused(path, r"is a \.npy file")


@pytest.mark.parametrize("content, match", [
    (b"", "is empty"),
    (b"hello, these are my notes\n", "is a text file"),
    (b"PKG notes: a text that starts like a zip archive\n", "is a text file"),
    (gzip.compress(b"some data" * 10, mtime=0), "is a gzip file"),
    (pickle.dumps({"evil": 1}), "pickle, which trainlab never loads"),
    (np.random.default_rng(3).integers(0, 256, 500, dtype=np.uint8).tobytes(), "is not a zip archive"),
    (b"PK\x03\x04" + b"\x00" * 40, "damaged or truncated"),
], ids=["empty", "text", "text-starting-pk", "gzip", "pickle", "random-bytes", "zip-signature-only"])
def test_foreign_file_says_what_it_looks_like(tmp_path, content, match):
    path = tmp_path / "x.npz"
    path.write_bytes(content)
    error = _refused(path, match)
    assert "holds pickled objects" not in str(error) or content.startswith(b"\x80")


def test_folder_named_npz(tmp_path):
    (tmp_path / "dir.npz").mkdir()
    _refused(tmp_path / "dir.npz", "cannot be read")


def test_npz_without_trainlab_header_and_header_of_wrong_kind(tmp_path):
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.ones(3))
    _refused(plain, "not a trainlab checkpoint")
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, __trainlab__=np.array([1.0, 2.0]))
    _refused(wrong, "not the bytes of a JSON header")
    header = _npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", b"{}")
    other = _npz(tmp_path / "other.npz", {"__trainlab__.npy": header, "notes.txt": b"hello"})
    _refused(other, r"not an \.npy array")


@pytest.mark.parametrize("header, match", [
    ("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }", "declares shape"),
    ("{'descr': '<f8', 'fortran_order': False, 'shape': (%d, %d, %d), }" % ((2**40,) * 3), "declares shape"),
    ("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", "non-negative ints"),
    ("{'descr': '<f8', 'fortran_order': False, 'shape': (True,), }", "non-negative ints"),
    ("{'descr': '<f8', 'fortran_order': False, 'shape': (2.0,), }", "non-negative ints"),
    ("{'descr': '<f8', 'fortran_order': False, 'shape': [2], }", "non-negative ints"),
    ("{'descr': '<f8', 'fortran_order': False, 'shape': (" + "1, " * 40 + "), }", "non-negative ints"),
    ("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", "pickled"),
    ("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }", "plain bool or numeric"),
    ("{'descr': '(2,)<f8', 'fortran_order': False, 'shape': (1,), }", "plain bool or numeric"),
    ("{'descr': '<U4', 'fortran_order': False, 'shape': (1,), }", "plain bool or numeric"),
    ("{'descr': '<M8[s]', 'fortran_order': False, 'shape': (1,), }", "plain bool or numeric"),
    ("{'descr': '<f8', 'fortran_order': 1, 'shape': (1,), }", "fortran_order"),
    ("{'descr': '<f8', 'shape': (1,), }", "not a dict of descr"),
    ("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': 1}", "not a dict of descr"),
    ("__import__('os').system('echo hi')", "not a dict of descr"),
    ("(" * 1000 + ")" * 1000, "not a dict of descr"),
    ("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", "declares shape"),  # 8 bytes declared, 3 held
])
def test_npy_header_checks(tmp_path, header, match):
    path = _npz(tmp_path / "m.npz", {"__trainlab__.npy": _npy(header, b"abc")})
    tracemalloc.start()
    try:
        _refused(path, match)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20


def test_npy_header_magic_version_and_length(tmp_path):
    good = _npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", b"{}")
    for data, match in ((b"\x93NUMPX" + good[6:], r"not in \.npy format"),
                        (good[:6] + b"\x09\x00" + good[8:], "unknown .npy format version"),
                        (good[:8] + b"\xff\xff" + good[10:], ".npy header of 65535 bytes"),
                        (good[:9], "ends inside its .npy header")):
        path = _npz(tmp_path / "m.npz", {"__trainlab__.npy": data})
        _refused(path, match)


def _bomb(path, *, lie_about_size):
    """An npz whose header entry is 256 MiB of zeros deflated to about 256 KB (streamed, never in memory)."""
    n = 256 * 2**20
    header = _npy(f"{{'descr': '|u1', 'fortran_order': False, 'shape': ({8 if lie_about_size else n},), }}")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("__trainlab__.npy", "w", force_zip64=True) as f:
            f.write(header)
            zeros = bytes(2**20)
            for _ in range(n // len(zeros)):
                f.write(zeros)
        if lie_about_size:
            zf.infolist()[-1].file_size = len(header) + 8  # the directory claims a small entry
    return path


def test_deflate_bomb_declaring_its_size_is_refused_before_inflating(tmp_path, monkeypatch):
    path = _bomb(tmp_path / "bomb.npz", lie_about_size=False)
    assert path.stat().st_size < 2 * 2**20
    tracemalloc.start()
    try:
        _refused(path, "zip bomb")
        monkeypatch.setattr(npzread, "MAX_INFLATE_RATIO", 10**6)
        monkeypatch.setattr(npzread, "MAX_ARRAY_BYTES", 2**20)
        _refused(path, "more than the 1048576")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20


def test_deflate_bomb_lying_about_its_size_is_cut_while_inflating(tmp_path):
    path = _bomb(tmp_path / "bomb.npz", lie_about_size=True)
    tracemalloc.start()
    try:
        _refused(path, "damaged")  # zipfile stops at the declared size, where the CRC-32 fails
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20


def test_total_size_limit(tmp_path, monkeypatch):
    path = _saved(tmp_path)
    monkeypatch.setattr(npzread, "MAX_TOTAL_BYTES", 100)
    _refused(path, "in all")


def test_duplicate_entry_and_too_many_entries(tmp_path, monkeypatch):
    entry = _npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", b"{}")
    path = tmp_path / "dup.npz"
    buf = io.BytesIO()
    with pytest.warns(UserWarning), zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("__trainlab__.npy", entry)
        zf.writestr("__trainlab__.npy", entry)
    path.write_bytes(buf.getvalue())
    _refused(path, "appears twice")
    monkeypatch.setattr(npzread, "MAX_ENTRIES", 2)
    _refused(_saved(tmp_path, "many.npz"), "entries, more than 2")


def test_compressed_checkpoint_still_loads(tmp_path):
    path = _saved(tmp_path)
    with np.load(path, allow_pickle=False) as f:
        arrays = {name: f[name] for name in f.files}
    np.savez_compressed(tmp_path / "c.npz", **arrays)
    model = load(tmp_path / "c.npz")
    np.testing.assert_array_equal(model[0].weight.data, load(path)[0].weight.data)


def test_flipped_data_byte_of_a_deflated_entry(tmp_path):
    path = _saved(tmp_path)
    with np.load(path, allow_pickle=False) as f:
        arrays = {name: f[name] for name in f.files}
    np.savez_compressed(path, **arrays)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
            start = info.header_offset + 30 + name_len + extra_len
            data[start + info.compress_size // 2] ^= 0x55  # inside each entry's deflate stream
    path.write_bytes(bytes(data))
    _refused(path, "damaged")


def test_not_enough_memory_for_an_array(tmp_path, monkeypatch):
    path = _saved(tmp_path)

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(npzread.np, "empty", no_memory)
    _refused(path, "not enough memory for array")
