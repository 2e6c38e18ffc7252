"""Hand-assembled hostile pickles: each is refused with DataError, before any big allocation."""

import gzip
import io
import pickle
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest

import trainlab.data.safe_pickle as sp
from trainlab.data.safe_pickle import safe_load, safe_loads
from trainlab.data.sources import _read_member, mnist_pickle_to_arrays
from trainlab.errors import DataError

PLAIN_STATE = (3, "<", None, None, None, -1, -1, 0)


def _val(v):
    """Opcodes that push ``v`` (None, bool, int, str, bytes, tuple, raw opcodes)."""
    if isinstance(v, _Raw):
        return v.ops
    if v is None:
        return pickle.NONE
    if v is True or v is False:
        return pickle.NEWTRUE if v else pickle.NEWFALSE
    if isinstance(v, int):
        return pickle.BININT + struct.pack("<i", v) if -2**31 <= v < 2**31 else pickle.LONG1 + bytes(
            [9]) + v.to_bytes(9, "little", signed=True)
    if isinstance(v, str):
        b = v.encode()
        return pickle.BINUNICODE + struct.pack("<I", len(b)) + b
    if isinstance(v, bytes):
        return pickle.BINBYTES + struct.pack("<I", len(v)) + v
    if isinstance(v, tuple):
        return pickle.MARK + b"".join(_val(x) for x in v) + pickle.TUPLE
    if isinstance(v, list):
        return pickle.EMPTY_LIST + pickle.MARK + b"".join(_val(x) for x in v) + pickle.APPENDS
    raise TypeError(v)


class _Raw:
    def __init__(self, ops):
        self.ops = ops


def _global(module, name):
    return pickle.GLOBAL + f"{module}\n{name}\n".encode()


def dtype(code="f4", args=None, state=PLAIN_STATE, builds=1):
    args = (code, False, True) if args is None else args
    ops = _global("numpy", "dtype") + _val(args) + pickle.REDUCE
    for _ in range(builds):
        ops += _val(state) + pickle.BUILD
    return _Raw(ops)


def array(shape, data, dt=None, *, version=1, fortran=False, recon_args=None, state=None):
    dt = dtype() if dt is None else dt
    recon_args = (_Raw(_global("numpy", "ndarray")), (0,), b"b") if recon_args is None else recon_args
    ops = _global("numpy._core.multiarray", "_reconstruct") + _val(recon_args) + pickle.REDUCE
    state = (version, shape, dt, fortran, data) if state is None else state
    return _Raw(ops + _val(state) + pickle.BUILD)


def program(*values, proto=3):
    return pickle.PROTO + bytes([proto]) + b"".join(_val(v) for v in values) + pickle.STOP


def test_the_assembler_builds_what_numpy_builds():
    data = np.arange(3, dtype="<f4").tobytes()
    out = safe_loads(program(array((3,), data)))
    np.testing.assert_array_equal(out, np.arange(3, dtype=np.float32))
    assert out.flags.writeable and out.dtype == np.dtype("<f4")
    big = safe_loads(program(array((2,), struct.pack(">2i", 1, 2), dtype("i4", state=(3, ">") + PLAIN_STATE[2:]))))
    assert big.dtype == np.dtype(">i4") and list(big) == [1, 2]
    fortran = safe_loads(program(array((2, 2), np.arange(4, dtype="<f4").tobytes(), fortran=True)))
    np.testing.assert_array_equal(fortran, np.arange(4, dtype=np.float32).reshape(2, 2, order="F"))


@pytest.mark.parametrize("state", [
    (3, "<", None, None, None, -1, -1, 16),          # flags altered (16 = NPY_NEEDS_INIT ...)
    (3, "<", None, None, None, -1, -1, 1),           # flags: item is a reference (object)
    (3, "<", None, None, None, 8, -1, 0),            # elsize altered
    (3, "<", None, None, None, -1, 64, 0),           # alignment altered
    (3, "<", None, ("a",), None, -1, -1, 0),         # names
    (3, "<", None, ("a",), ("x",), -1, -1, 0),       # names and fields
    (3, "<", ("f4", (2,)), None, None, -1, -1, 0),   # subarray
    (3, "|", None, None, None, -1, -1, 0),           # no byte order for a 4-byte type
    (3, "", None, None, None, -1, -1, 0),
    (3, "=", None, None, None, -1, -1, 0),
    (4, "<", None, None, None, -1, -1, 0, None),     # version 4 with metadata
    (2, "<", None, None, None, -1, -1),
    (3, "<", None, None, None, -1, -1, False),       # a bool where numpy writes the int 0
    (3, "<", None, None, None, -1, -1),
    "not a tuple",
])
def test_dtype_states_numpy_does_not_write_are_refused(state):
    with pytest.raises(DataError, match="dtype state .* refused"):
        safe_loads(program(array((1,), b"\0" * 4, dtype(state=state))))


def test_dtype_built_twice_is_refused():
    with pytest.raises(DataError, match="dtype state"):
        safe_loads(program(array((1,), b"\0" * 4, dtype(builds=2))))


@pytest.mark.parametrize("code", ["O8", "O", "V8", "U4", "S4", "M8", "f16", "a", ""])
def test_non_numeric_dtypes_are_refused(code):
    with pytest.raises(DataError, match="numpy.dtype.* refused"):
        safe_loads(program(array((1,), b"\0" * 8, dtype(code, state=(3, "|") + PLAIN_STATE[2:]))))


@pytest.mark.parametrize("args", [
    ([("a", "<f4")], False, True),                   # structured: a list of fields
    ("f4", True, True),                              # aligned
    ("f4", False, True, "extra"),
    (),
])
def test_dtype_call_arguments_are_checked(args):
    with pytest.raises(DataError, match="dtype.* refused|malformed"):
        safe_loads(program(array((1,), b"\0" * 4, dtype(args=args))))


@pytest.mark.parametrize("shape, data, match", [
    ((4,), b"\0" * 12, "needs 16 bytes, the pickle holds 12"),
    ((2,), b"\0" * 12, "needs 8 bytes, the pickle holds 12"),
    ((2**40, 2**40), b"", "over the limit"),
    ((2**62,), b"", "over the limit"),
    ((-1,), b"", "not a tuple of non-negative integers"),
    ((1,) * 9, b"\0" * 4, "9 dimensions declared"),
    ("3", b"\0" * 12, "not a tuple"),
])
def test_shapes_that_do_not_match_the_bytes(shape, data, match):
    with pytest.raises(DataError, match=match):
        safe_loads(program(array(shape, data)))


@pytest.mark.parametrize("state", [
    (2, (1,), dtype(), False, b"\0" * 4),
    (1, (1,), dtype(), 2, b"\0" * 4),
    (1, (1,), dtype(), False),
    (1, (1,), _Raw(_global("numpy", "ndarray")), False, b"\0" * 4),
    (1, (1,), dtype(), False, (1,)),                 # object arrays store a list of items
])
def test_array_states_numpy_does_not_write_are_refused(state):
    with pytest.raises(DataError, match="refused|expected a numpy.dtype|not bytes"):
        safe_loads(program(array(None, None, state=state)))


@pytest.mark.parametrize("recon_args", [
    (_Raw(_global("numpy", "dtype")), (0,), b"b"),
    (_Raw(_global("numpy", "ndarray")), (5,), b"b"),
    (_Raw(_global("numpy", "ndarray")), (0,), b"O"),
    ((), (0,), b"b"),
])
def test_reconstruct_arguments_are_checked(recon_args):
    with pytest.raises(DataError, match="_reconstruct.* refused"):
        safe_loads(program(array((1,), b"\0" * 4, recon_args=recon_args)))


def test_frombuffer_arguments_are_checked():
    fb = _global("numpy._core.numeric", "_frombuffer")
    ok = program(_Raw(fb + _val((b"\0" * 8, dtype(), (2,), "C")) + pickle.REDUCE))
    assert safe_loads(ok).shape == (2,)
    for args, match in [((b"\0" * 8, dtype(), (2,), "K"), "_frombuffer refused"),
                        ((b"\0" * 8, dtype(), (3,), "C"), "needs 12 bytes"),
                        ((b"\0" * 8, "f4", (2,), "C"), "expected a numpy.dtype")]:
        with pytest.raises(DataError, match=match):
            safe_loads(program(_Raw(fb + _val(args) + pickle.REDUCE)))


def test_build_on_anything_else_is_refused():
    for target in [_Raw(pickle.EMPTY_DICT), _Raw(pickle.EMPTY_LIST), 3]:
        with pytest.raises(DataError, match="BUILD on a .* refused"):
            safe_loads(program(_Raw(_val(target) + _val((1,)) + pickle.BUILD)))


def test_build_on_a_finished_array_is_refused():
    ops = array((1,), b"\0" * 4).ops + _val((1, (1,), dtype(), False, b"\0" * 4)) + pickle.BUILD
    with pytest.raises(DataError, match="BUILD on a ndarray refused"):
        safe_loads(program(_Raw(ops)))


def test_array_without_state_is_refused():
    ops = _global("numpy._core.multiarray", "_reconstruct") + _val(
        (_Raw(_global("numpy", "ndarray")), (0,), b"b")) + pickle.REDUCE
    with pytest.raises(DataError, match="never given its state"):
        safe_loads(program(_Raw(ops)))


def test_calling_a_non_global_is_refused():
    with pytest.raises(DataError, match="REDUCE calls a tuple"):
        safe_loads(program(_Raw(_val((1,)) + _val((2,)) + pickle.REDUCE)))


@pytest.mark.parametrize("ops, match", [
    (pickle.EMPTY_SET, "EMPTY_SET is refused"),
    (pickle.BINPERSID, "BINPERSID is refused"),
    (b"P1\n", "PERSID is refused"),
    (pickle.EXT1 + b"\x01", "EXT1 is refused"),
    (_global("numpy", "ndarray") + pickle.EMPTY_TUPLE + pickle.NEWOBJ, "NEWOBJ is refused"),
    (pickle.NEXT_BUFFER, "NEXT_BUFFER is refused"),
    (pickle.INST + b"os\nsystem\n", "INST is refused"),
])
def test_other_opcodes_are_refused(ops, match):
    with pytest.raises(DataError, match=match):
        safe_loads(pickle.PROTO + b"\x05" + pickle.MARK + ops + pickle.STOP)


def test_stack_global_of_other_names_is_refused():
    ops = _val("builtins") + _val("eval") + pickle.STACK_GLOBAL
    with pytest.raises(DataError, match="refused to load global builtins.eval"):
        safe_loads(program(_Raw(ops), proto=4))


def test_huge_declared_bytes_allocate_nothing():
    data = pickle.PROTO + b"\x04" + pickle.BINBYTES8 + struct.pack("<Q", 1 << 40) + b"tiny" + pickle.STOP
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="malformed"):
            safe_loads(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_cycles_deep_nesting_and_shared_parts():
    cycle = program(_Raw(pickle.EMPTY_LIST + pickle.BINPUT + b"\x00" + pickle.BINGET + b"\x00" + pickle.APPEND))
    with pytest.raises(DataError, match="cycle"):
        safe_loads(cycle)
    deep = program(_Raw(pickle.EMPTY_LIST * 40 + pickle.APPEND * 39))
    with pytest.raises(DataError, match="nested more than 32"):
        safe_loads(deep)
    # 2**30 paths through 30 shared lists: converted once each, instantly.
    ops = pickle.EMPTY_LIST + pickle.BINPUT + b"\x00"
    for k in range(1, 31):
        ops += pickle.MARK + pickle.BINGET + bytes([k - 1]) + pickle.BINGET + bytes([k - 1]) + pickle.LIST
        ops += pickle.BINPUT + bytes([k])
    out = safe_loads(program(_Raw(ops)))
    assert len(out) == 2 and out[0] is out[1]


def test_unhashable_and_array_keys_are_refused():
    with pytest.raises(DataError, match="not admitted as a dict key"):
        safe_loads(program(_Raw(pickle.EMPTY_DICT + array((1,), b"\0" * 4).ops + _val(1) + pickle.SETITEM)))


@pytest.mark.parametrize("data", [
    pickle.PROTO + b"\x02" + pickle.STOP,
    pickle.PROTO + b"\x02" + pickle.TUPLE + pickle.STOP,
    pickle.PROTO + b"\x02" + pickle.BINGET + b"\x07" + pickle.STOP,
    pickle.PROTO + b"\x02" + pickle.NONE,
    pickle.PROTO + b"\x09" + pickle.NONE + pickle.STOP,
    pickle.PROTO + b"\x02" + pickle.MARK + pickle.REDUCE + pickle.STOP,
    b"",
])
def test_malformed_programs(data):
    with pytest.raises(DataError):
        safe_loads(data)


def test_python2_strings_as_array_data():
    data = np.arange(2, dtype="<f4").tobytes().decode("latin1")
    b = data.encode("latin1")
    string = pickle.BINSTRING + struct.pack("<i", len(b)) + b
    out = safe_loads(program(array((2,), _Raw(string)), proto=2))
    np.testing.assert_array_equal(out, [0.0, 1.0])


def test_stream_over_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr(sp, "MAX_PICKLE_BYTES", 100)
    with pytest.raises(DataError, match="larger than the limit of 100 bytes"):
        safe_load(io.BytesIO(pickle.dumps(np.zeros(100))), source="big")


def _mnist_parts(labels=None, n=(3, 2, 2)):
    parts = []
    for k in n:
        x = (np.arange(k * 784) % 256).astype(np.float32).reshape(k, 784) / 256
        parts.append((x, np.zeros(k, np.int64) if labels is None else labels[:k]))
    return tuple(parts)


def test_mnist_pickle_with_non_integral_labels_is_refused():
    data = gzip.compress(pickle.dumps(_mnist_parts(np.array([0.5, 1.0, 2.0])), protocol=2))
    with pytest.raises(DataError, match=r"fake \(train labels\): label 0.5 at index 0 is not an integer"):
        mnist_pickle_to_arrays(data, "fake")


def test_mnist_pickle_with_empty_parts_and_damaged_gzip():
    arrays = mnist_pickle_to_arrays(gzip.compress(pickle.dumps(_mnist_parts(n=(0, 0, 0)))), "empty")
    assert arrays["x_train"].shape == (0, 28, 28)
    packed = gzip.compress(pickle.dumps(_mnist_parts()))
    for damaged in (packed[:-9], packed[:10] + bytes(40) + packed[50:]):
        with pytest.raises(DataError, match="cut"):
            mnist_pickle_to_arrays(damaged, "cut")


def test_damaged_wheel_member_is_a_data_error(tmp_path):
    wheel = tmp_path / "p.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("pkg/data/mnist.pkl.gz", bytes(range(256)) * 4)
    raw = bytearray(wheel.read_bytes())
    raw[raw.index(bytes(range(256))) + 100] ^= 0xFF
    wheel.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="p.whl is damaged"):
        _read_member(wheel, "mnist.pkl.gz", 1 << 20)
