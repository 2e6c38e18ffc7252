"""The restricted unpickler admits NumPy arrays and refuses everything that would run code."""

import gzip
import io
import os
import pickle

import numpy as np
import pytest

from trainlab.data.safe_pickle import safe_load, safe_loads
from trainlab.data.sources import mnist_pickle_to_arrays
from trainlab.errors import DataError


class _RunsAShellCommand:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _CallsEval:
    def __reduce__(self):
        return (eval, ("1 + 1",))


def test_refuses_os_system_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    data = pickle.dumps(_RunsAShellCommand(f"touch {marker}"))
    with pytest.raises(DataError, match=r"refused to load global (posix|nt|os)\.system"):
        safe_loads(data)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_refuses_builtins_eval(protocol):
    with pytest.raises(DataError, match=r"(__builtin__|builtins)\.eval"):
        safe_loads(pickle.dumps(_CallsEval(), protocol=protocol))


def test_refuses_a_class_instance():
    with pytest.raises(DataError, match="refused to load global"):
        safe_loads(pickle.dumps(_CallsEval.__new__(_CallsEval)))


def test_refuses_attribute_paths_on_admitted_modules():
    # Protocol 4 can name "numpy.ndarray.tofile"; only exact names are admitted.
    payload = b"\x80\x04\x8c\x05numpy\x8c\x0endarray.tofile\x93."
    with pytest.raises(DataError, match=r"numpy\.ndarray\.tofile"):
        safe_loads(payload)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("dtype", [np.uint8, np.int64, np.float32, np.float64])
def test_accepts_numpy_arrays(protocol, dtype):
    a = (np.arange(24).reshape(2, 3, 4) % 7).astype(dtype)
    fortran = np.asfortranarray(a[0])
    obj = (a, {"b": fortran, "n": 3}, [a[1], "text"])
    out = safe_loads(pickle.dumps(obj, protocol=protocol))
    np.testing.assert_array_equal(out[0], a)
    assert out[0].dtype == a.dtype
    np.testing.assert_array_equal(out[1]["b"], fortran)
    assert out[1]["n"] == 3 and out[2][1] == "text"


def test_refuses_object_arrays():
    a = np.array([1, "x", None], dtype=object)
    with pytest.raises(DataError, match="object"):
        safe_loads(pickle.dumps(a, protocol=2))


def test_malformed_pickle():
    with pytest.raises(DataError, match="malformed"):
        safe_loads(b"\x80\x02(garbage")


def _classic_pickle(sizes=(6, 3, 4), seed=0):
    """A small pickle in mnist.pkl.gz's layout: ((x, y), (x, y), (x, y)), x = byte / 256."""
    rng = np.random.default_rng(seed)
    parts = []
    for n in sizes:
        x = rng.integers(0, 256, (n, 784)).astype(np.float32) / 256
        y = rng.integers(0, 10, n).astype(np.int64)
        parts.append((x, y))
    return tuple(parts)


def test_mnist_pickle_conversion_restores_bytes_and_joins_train():
    parts = _classic_pickle()
    data = gzip.compress(pickle.dumps(parts, protocol=2))
    arrays = mnist_pickle_to_arrays(data, "fake.pkl.gz")
    assert arrays["x_train"].shape == (9, 28, 28) and arrays["x_train"].dtype == np.uint8
    expected = np.concatenate([parts[0][0], parts[1][0]]) * 256
    np.testing.assert_array_equal(arrays["x_train"].reshape(9, 784), expected.astype(np.uint8))
    np.testing.assert_array_equal(arrays["t_train"], np.concatenate([parts[0][1], parts[1][1]]))
    np.testing.assert_array_equal(arrays["t_test"], parts[2][1])


def test_mnist_pickle_conversion_refuses_other_pixels():
    parts = list(_classic_pickle())
    x, y = parts[2]
    parts[2] = (x + np.float32(1e-3), y)
    with pytest.raises(DataError, match="byte/256"):
        mnist_pickle_to_arrays(gzip.compress(pickle.dumps(tuple(parts))), "fake")


def test_safe_load_streams_from_a_file_object():
    a = np.arange(10.0)
    out = safe_load(io.BytesIO(pickle.dumps(a)), source="stream")
    np.testing.assert_array_equal(out, a)
