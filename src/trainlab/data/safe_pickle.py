"""Load a pickle that may hold only NumPy arrays (in tuples, lists and dicts).

A pickle is a small program: each ``GLOBAL`` opcode names a Python object and
``REDUCE`` calls it, so loading an untrusted pickle with :func:`pickle.load`
runs whatever it names (``os.system`` included). :class:`ArrayUnpickler`
resolves only the handful of names NumPy itself writes when it pickles a
plain array; every other name is refused with :class:`DataError` before any
call happens. Arrays of Python objects (dtype ``object``) are refused too.

Admitted names:

* ``numpy.core.multiarray._reconstruct`` / ``numpy._core.multiarray._reconstruct``
  (protocols 0-4; the first spelling is NumPy 1's, the second NumPy 2's),
* ``numpy.ndarray`` and ``numpy.dtype`` (the arguments of the call above),
* ``numpy.core.numeric._frombuffer`` / ``numpy._core.numeric._frombuffer``
  (protocol 5),
* ``_codecs.encode``, only as ``encode(text, "latin1")``: Python 3 writes
  bytes this way in protocols 0-2.
"""

from __future__ import annotations

import codecs
import io
import pickle
from typing import Any, BinaryIO

import numpy as np

from trainlab.errors import DataError

try:  # NumPy 2 moved the module; NumPy 1.26 still has the old one.
    from numpy._core.multiarray import _reconstruct as _np_reconstruct
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import _reconstruct as _np_reconstruct


def _checked_dtype(*args: Any) -> np.dtype:
    dt = np.dtype(*args)
    if dt.hasobject:
        raise DataError(f"pickle asks for dtype {dt!r}, which holds Python objects; refused")
    return dt


def _checked_reconstruct(subtype: Any, shape: Any, typecode: Any) -> np.ndarray:
    if subtype is not np.ndarray:
        raise DataError(f"pickle reconstructs an array of type {subtype!r}; only numpy.ndarray is admitted")
    _checked_dtype(typecode.decode("latin1") if isinstance(typecode, bytes) else typecode)
    return _np_reconstruct(np.ndarray, shape, typecode)


def _checked_frombuffer(buf: Any, dtype: Any, shape: Any, order: str) -> np.ndarray:
    dt = _checked_dtype(dtype)
    # Copy: the buffer belongs to the pickle stream and may be read-only.
    return np.frombuffer(buf, dtype=dt).reshape(shape, order=order).copy()


def _latin1_encode(text: Any, encoding: str = "utf-8") -> bytes:
    if not isinstance(text, str) or codecs.lookup(encoding).name != "iso8859-1":
        raise DataError(f"pickle calls _codecs.encode with encoding {encoding!r}; only latin1 is admitted")
    return text.encode("latin1")


_ADMITTED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _checked_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _checked_reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _checked_dtype,
    ("numpy.core.numeric", "_frombuffer"): _checked_frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _checked_frombuffer,
    ("_codecs", "encode"): _latin1_encode,
}


class ArrayUnpickler(pickle.Unpickler):
    """An unpickler that builds NumPy arrays and containers, and nothing else.

    Parameters
    ----------
    file : binary file object
        The pickle stream (already decompressed).
    source : str, optional
        What to call the stream in error messages (a file name).
    """

    def __init__(self, file: BinaryIO, *, source: str = "pickle") -> None:
        # latin1 maps each byte of a Python 2 ``str`` to one code point, which is
        # how NumPy expects array data written by Python 2 to come back.
        super().__init__(file, encoding="latin1")
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ADMITTED[(module, name)]
        except KeyError:
            raise DataError(
                f"{self.source}: refused to load global {module}.{name}; only NumPy array "
                "reconstruction is admitted, so no code from the pickle runs"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise DataError(f"{self.source}: pickle uses persistent ids, which are refused")


def _check_tree(obj: Any, source: str, depth: int = 0) -> None:
    if depth > 32:
        raise DataError(f"{source}: containers nested more than 32 levels deep")
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise DataError(f"{source}: array of dtype object refused")
    elif isinstance(obj, (tuple, list)):
        for item in obj:
            _check_tree(item, source, depth + 1)
    elif isinstance(obj, dict):
        for key, value in obj.items():
            _check_tree(key, source, depth + 1)
            _check_tree(value, source, depth + 1)
    elif obj is not None and not isinstance(obj, (bool, int, float, str, bytes)):
        raise DataError(f"{source}: unexpected object of type {type(obj).__name__}")


def safe_load(file: BinaryIO, *, source: str = "pickle") -> Any:
    """Unpickle a stream that must hold only arrays and plain containers.

    Parameters
    ----------
    file : binary file object
        The (decompressed) pickle stream.
    source : str, optional
        Name for error messages.

    Returns
    -------
    object
        Arrays inside tuples, lists and dicts, with numbers and strings.

    Raises
    ------
    DataError
        When the pickle names anything but NumPy's array reconstruction, asks
        for object arrays, or is malformed.
    """
    try:
        obj = ArrayUnpickler(file, source=source).load()
    except DataError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, MemoryError, OverflowError, UnicodeError, OSError) as exc:
        raise DataError(f"{source}: malformed pickle ({type(exc).__name__}: {exc})") from exc
    _check_tree(obj, source)
    return obj


def safe_loads(data: bytes, *, source: str = "pickle") -> Any:
    """:func:`safe_load` for a bytes object."""
    return safe_load(io.BytesIO(data), source=source)
