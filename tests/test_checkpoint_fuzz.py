"""Random damage to a valid checkpoint: load returns a model or raises CheckpointError, nothing else."""

import io
import json
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from trainlab import checkpoint_header
from trainlab.checkpoint import load, save
from trainlab.errors import CheckpointError
from trainlab.layers import BatchNorm1d, Layer, Linear, Sequential

hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")


def _valid() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        net = Sequential(Linear(3, 2, rng=np.random.default_rng(0)), BatchNorm1d(2))
        return save(net, Path(folder) / "m.npz", metadata={"epoch": 1}).read_bytes()


GOOD = _valid()
with zipfile.ZipFile(io.BytesIO(GOOD)) as _zf:
    ENTRIES = {info.filename: _zf.read(info) for info in _zf.infolist()}
HEADER = json.loads(np.load(io.BytesIO(ENTRIES["__trainlab__.npy"]), allow_pickle=False).tobytes())
HEADER_AT = GOOD.find(b'{"format"')
DIRECTORY_AT = GOOD.rfind(b"PK\x01\x02", 0, GOOD.rfind(b"PK\x05\x06"))

positions = st.integers(0, len(GOOD) - 1)
flip = st.tuples(st.just("flip"), positions, st.integers(1, 255))
truncate = st.tuples(st.just("truncate"), positions, st.just(0))
splice = st.tuples(st.just("splice"), positions, st.binary(min_size=1, max_size=16))
header = st.tuples(st.just("header"), st.integers(0, 400), st.binary(min_size=1, max_size=8))
directory = st.tuples(st.just("directory"), st.integers(0, len(GOOD) - DIRECTORY_AT - 1), st.integers(1, 255))
resize = st.tuples(st.just("resize"), positions, st.integers(-64, 64))
copy = st.tuples(st.just("copy"), positions, positions)
mutations = st.lists(st.one_of(flip, truncate, splice, header, directory, resize, copy), min_size=1, max_size=4)


def _mutate(data: bytes, steps) -> bytes:
    data = bytearray(data)
    for kind, a, b in steps:
        a = a % len(data) if data else 0
        if kind == "flip" and data:
            data[a] ^= b
        elif kind == "truncate":
            del data[a:]
        elif kind == "splice":
            data[a:a] = b
        elif kind == "header":
            at = HEADER_AT + a
            data[at:at + len(b)] = b
        elif kind == "directory":
            at = DIRECTORY_AT + a
            if at < len(data):
                data[at] ^= b
        elif kind == "resize":
            if b > 0:
                data[a:a] = bytes(b)
            else:
                del data[a:a - b]
        elif kind == "copy":
            b = b % len(data) if data else 0
            data[a:a + 8] = data[b:b + 8]
    return bytes(data)


def _load_or_checkpoint_error(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            assert isinstance(load(path), Layer)
        except CheckpointError as e:
            assert str(path) in str(e)


@hypothesis.settings(derandomize=True, max_examples=200, deadline=None, database=None)
@hypothesis.given(mutations)
def test_random_damage_gives_a_model_or_checkpoint_error(steps):
    assert 0 < HEADER_AT < DIRECTORY_AT
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.npz"
        damaged = _mutate(GOOD, steps)
        path.write_bytes(damaged)
        _load_or_checkpoint_error(path)
        assert path.read_bytes() == damaged


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _check(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.npz"
        path.write_bytes(data)
        _load_or_checkpoint_error(path)
        assert path.read_bytes() == data


@hypothesis.settings(derandomize=True, max_examples=200, deadline=None, database=None)
@hypothesis.given(st.sampled_from(sorted(ENTRIES)),
                  st.lists(st.one_of(flip, splice, resize, copy), min_size=1, max_size=3))
def test_random_damage_inside_an_entry_with_a_valid_crc(name, steps):
    """Damage the zip's CRC-32 cannot see: the .npy headers, the JSON header and the array bytes."""
    _check(_zip({**ENTRIES, name: _mutate(ENTRIES[name][:200], steps) + ENTRIES[name][200:]}))


json_values = st.recursive(st.none() | st.booleans() | st.integers(-10, 10**6) | st.floats() | st.text(max_size=8),
                           lambda inner: (st.lists(inner, max_size=3)
                                          | st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                           max_leaves=8)
header_paths = st.sampled_from([(), ("version",), ("architecture",), ("architecture", "type"),
                                ("architecture", "config"), ("architecture", "config", "layers"),
                                ("architecture", "children"), ("optimizer",), ("arrays",), ("metadata",),
                                ("arrays", "param:0.weight"), ("format",), ("surprise",)])


@hypothesis.settings(derandomize=True, max_examples=200, deadline=None, database=None)
@hypothesis.given(header_paths, json_values, st.booleans())
def test_random_header_values(where, value, reseal):
    """A header field replaced by any JSON value, with the header checksum made to fit again or not."""
    meta = json.loads(json.dumps(HEADER))
    if where:
        owner = meta
        for key in where[:-1]:
            owner = owner[key] if isinstance(owner.get(key), dict) else owner.setdefault(key, {})
        owner[where[-1]] = value
    else:
        meta = value
    if reseal and isinstance(meta, dict):
        meta["header_sha256"] = checkpoint_header.checksum({k: v for k, v in meta.items() if k != "header_sha256"})
    buf = io.BytesIO()
    np.save(buf, np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8))
    _check(_zip({**ENTRIES, "__trainlab__.npy": buf.getvalue()}))


@pytest.mark.parametrize("steps", [
    [("truncate", 0, 0)],
    [("directory", 0, 0x55)],
    [("header", 2, b'"frmat"')],
])
def test_regressions(steps):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.npz"
        path.write_bytes(_mutate(GOOD, steps))
        _load_or_checkpoint_error(path)
