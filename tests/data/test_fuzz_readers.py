"""Property-based fuzzing of the readers: a damaged file gives arrays or DataError, nothing else.

Valid small IDX files, cache files and pickles are mutated (bytes flipped,
cut, spliced, header fields rewritten with hostile values); whatever comes
out, the reader must either return arrays or raise trainlab's DataError, with
no MemoryError and no exception of NumPy's, zipfile's or pickle's own.
"""

import gzip
import io
import pickle
import struct
import zipfile

import numpy as np
import pytest

from trainlab.data.cache import read_cache, write_cache
from trainlab.data.idx import read_idx_stream, write_idx
from trainlab.data.safe_pickle import safe_loads
from trainlab.data.synthetic import load_npz
from trainlab.errors import DataError

hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")

FUZZ = hypothesis.settings(max_examples=200, derandomize=True, deadline=None, database=None,
                           suppress_health_check=list(hypothesis.HealthCheck))

HOSTILE_WORDS = [0, 1, 0xFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 2**31 - 1, 1500, 10**9]


def _sample_idx(tmp_dir):
    out = []
    for i, (dtype, shape) in enumerate([(np.uint8, (3, 4, 4)), (np.int16, (5,)), (np.float64, (2, 3)),
                                        (np.int32, (2, 1, 2, 2))]):
        a = (np.arange(np.prod(shape)) % 100).astype(dtype).reshape(shape)
        out.append(write_idx(tmp_dir / f"{i}.idx", a).read_bytes())
    return out


def _mutate(data: bytes, ops) -> bytes:
    buf = bytearray(data)
    for kind, where, value, word in ops:
        at = where % (len(buf) + 1)
        if kind == "flip" and buf:
            buf[at % len(buf)] ^= value or 1
        elif kind == "cut":
            del buf[at:]
        elif kind == "splice":
            buf[at:at] = bytes([value]) * (1 + value % 7)
        elif kind == "drop":
            del buf[at:at + 1 + value % 5]
        elif kind == "word":
            fmt = ">I" if value % 2 else "<I"
            buf[at:at + 4] = struct.pack(fmt, word)
        elif kind == "byte":
            buf[at:at + 1] = bytes([value])
    return bytes(buf)


MUTATIONS = st.lists(
    st.tuples(st.sampled_from(["flip", "cut", "splice", "drop", "word", "byte"]),
              st.integers(0, 10_000), st.integers(0, 255), st.sampled_from(HOSTILE_WORDS)),
    min_size=1, max_size=4,
)


def _must_be_arrays_or_data_error(call):
    try:
        result = call()
    except DataError:
        return None
    return result


@pytest.fixture(scope="module")
def idx_samples(tmp_path_factory):
    return _sample_idx(tmp_path_factory.mktemp("idx"))


@pytest.mark.parametrize("compress", [False, True])
def test_fuzz_idx(idx_samples, compress):
    @FUZZ
    @hypothesis.given(which=st.integers(0, len(idx_samples) - 1), ops=MUTATIONS,
                      header=st.one_of(st.none(), st.tuples(st.integers(0, 255), st.integers(0, 255))),
                      after_compress=st.booleans())
    def run(which, ops, header, after_compress):
        data = idx_samples[which]
        if header is not None:  # rewrite the type and dimension-count bytes
            data = data[:2] + bytes(header) + data[4:]
        if compress and after_compress:
            data = _mutate(gzip.compress(data, mtime=0), ops)
        else:
            data = _mutate(data, ops)
            data = gzip.compress(data, mtime=0) if compress else data
        out = _must_be_arrays_or_data_error(lambda: read_idx_stream(io.BytesIO(data), name="fuzz"))
        assert out is None or isinstance(out, np.ndarray)

    run()


def _npy_entries(path):
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _rezip(entries, path):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)


@pytest.fixture(scope="module")
def cache_sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cache")
    arrays = {"x_train": np.arange(36, dtype=np.uint8).reshape(4, 3, 3), "t_train": np.arange(4, dtype=np.uint8)}
    path = write_cache(folder / "c.npz", arrays, dataset="fuzz", source="test")
    return folder, path.read_bytes(), _npy_entries(path)


def test_fuzz_cache(cache_sample):
    folder, raw, entries = cache_sample
    names = sorted(entries)

    @FUZZ
    @hypothesis.given(ops=MUTATIONS, entry=st.one_of(st.none(), st.sampled_from(names)))
    def run(ops, entry):
        path = folder / "fuzzed.npz"
        if entry is None:
            path.write_bytes(_mutate(raw, ops))
        else:
            _rezip(dict(entries, **{entry: _mutate(entries[entry], ops)}), path)
        try:
            arrays, meta = read_cache(path)
        except DataError:
            return
        assert all(isinstance(a, np.ndarray) for a in arrays.values()) and isinstance(meta, dict)

    run()


def test_fuzz_load_npz(tmp_path):
    src = tmp_path / "d.npz"
    np.savez_compressed(src, inputs=np.arange(12, dtype=np.float32).reshape(3, 4), labels=np.arange(3))
    entries = _npy_entries(src)

    @FUZZ
    @hypothesis.given(ops=MUTATIONS, entry=st.sampled_from(sorted(entries)))
    def run(ops, entry):
        path = tmp_path / "f.npz"
        _rezip(dict(entries, **{entry: _mutate(entries[entry], ops)}), path)
        out = _must_be_arrays_or_data_error(lambda: load_npz(path))
        assert out is None or all(isinstance(a, np.ndarray) for a in out)

    run()


def _sample_pickles():
    a = (np.arange(24).reshape(2, 3, 4) % 7).astype(np.float32)
    obj = ((a, np.arange(3, dtype=np.int64)), {"k": np.asfortranarray(a[0])}, [a[1].astype(np.uint8), "t", 3])
    return [pickle.dumps(obj, protocol=p) for p in range(pickle.HIGHEST_PROTOCOL + 1)]


PICKLES = _sample_pickles()


@FUZZ
@hypothesis.given(which=st.integers(0, len(PICKLES) - 1), ops=MUTATIONS)
def test_fuzz_pickle(which, ops):
    data = _mutate(PICKLES[which], ops)
    out = _must_be_arrays_or_data_error(lambda: safe_loads(data, source="fuzz"))

    def plain(x, depth=0):
        if isinstance(x, (tuple, list)):
            return all(plain(v, depth + 1) for v in x)
        if isinstance(x, dict):
            return all(plain(k, depth + 1) and plain(v, depth + 1) for k, v in x.items())
        return x is None or isinstance(x, (np.ndarray, bool, int, float, str, bytes))

    assert out is None or plain(out)
