"""Load a pickle that may hold only plain numeric NumPy arrays (in tuples, lists and dicts).

A pickle is a small program: each ``GLOBAL`` opcode names a Python object,
``REDUCE`` calls it and ``BUILD`` hands it a state. Loading an untrusted
pickle with :func:`pickle.load` runs whatever it names (``os.system``
included), and even NumPy's own names are dangerous: ``numpy.dtype`` followed
by a ``BUILD`` rewrites the dtype's fields, flags and item size. So this module
does not use :class:`pickle.Unpickler` at all. It runs the opcodes itself
(decoded by :func:`pickletools.genops`) on its own stack, where a global is a
token, not a Python object; nothing in the pickle is ever called.

What it admits is exactly what NumPy writes when it pickles a plain numeric
array, checked argument by argument:

* ``numpy.core.multiarray._reconstruct`` / ``numpy._core.multiarray._reconstruct``
  (NumPy 1's and NumPy 2's spelling), only as ``_reconstruct(numpy.ndarray, (0,), b"b")``,
  then a ``BUILD`` with the state ``(1, shape, dtype, is_fortran, data)``
  where ``data`` is bytes of exactly ``prod(shape) * itemsize``;
* ``numpy.dtype``, only as ``dtype(code, align, copy)`` with ``code`` a
  boolean, integer, float or complex code such as ``"f4"`` or ``"u1"``, and
  only the state NumPy writes for such a dtype, ``(3, order, None, None, None, -1, -1, 0)``
  with ``order`` ``"|"`` for one-byte types and ``"<"``/``">"`` otherwise;
* ``numpy.core.numeric._frombuffer`` / ``numpy._core.numeric._frombuffer``
  (protocol 5), only as ``_frombuffer(data, dtype, shape, "C" or "F")``;
* ``_codecs.encode``, only as ``encode(text, "latin1")``: Python 3 writes
  bytes this way in protocols 0-2.

Sizes are checked before anything is allocated (the stream up to
:data:`MAX_PICKLE_BYTES`, each array against :mod:`trainlab.data.limits`).
Anything else, out-of-band buffers, persistent ids, sets and every other
global included, is refused with :class:`DataError`.
"""

from __future__ import annotations

import io
import pickletools
import re
import zlib
from typing import Any, BinaryIO

import numpy as np

from trainlab.data.limits import declared_nbytes, read_at_most
from trainlab.errors import DataError

#: Largest (decompressed) pickle read: 512 MiB. MNIST's pickle is 220 MB.
MAX_PICKLE_BYTES = 512 << 20

#: Deepest nesting of containers in the result.
MAX_DEPTH = 32

_DTYPE_CODE = re.compile(r"^(b1|[iu][1248]|f[248]|c(8|16))$")


class _Global:
    """A name the pickle refers to; only the admitted ones exist."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_RECONSTRUCT, _NDARRAY, _DTYPE = _Global("_reconstruct"), _Global("numpy.ndarray"), _Global("numpy.dtype")
_FROMBUFFER, _ENCODE = _Global("_frombuffer"), _Global("_codecs.encode")

_ADMITTED: dict[tuple[str, str], _Global] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _DTYPE,
    ("numpy.core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy._core.numeric", "_frombuffer"): _FROMBUFFER,
    ("_codecs", "encode"): _ENCODE,
}


class _PendingDtype:
    """A ``numpy.dtype(...)`` call waiting for its (optional) BUILD state."""

    def __init__(self, base: np.dtype) -> None:
        self.dtype = base
        self.built = False


class _PendingArray:
    """A ``_reconstruct(...)`` call waiting for its BUILD state."""

    def __init__(self) -> None:
        self.array: np.ndarray | None = None


def _is_flag(value: Any) -> bool:
    return type(value) in (bool, int) and value in (0, 1)


class _Machine:
    """Runs the admitted subset of pickle opcodes on its own stack."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.stack: list[Any] = []
        self.marks: list[int] = []
        self.memo: dict[int, Any] = {}
        self.done: dict[int, Any] = {}
        self.active: set[int] = set()

    def fail(self, what: str) -> DataError:
        return DataError(f"{self.source}: {what}")

    def peek(self, op: str) -> Any:
        if not self.stack or (self.marks and len(self.stack) == self.marks[-1]):
            raise self.fail(f"malformed pickle ({op} on an empty stack)")
        return self.stack[-1]

    def pop(self) -> Any:
        self.peek("a pop")
        return self.stack.pop()

    def pop_mark(self) -> list[Any]:
        if not self.marks:
            raise self.fail("malformed pickle (no mark)")
        at = self.marks.pop()
        items = self.stack[at:]
        del self.stack[at:]
        return items

    def top(self, kind: type, op: str) -> Any:
        target = self.peek(op)
        if type(target) is not kind:
            raise self.fail(f"{op} on a {type(target).__name__}; only on a {kind.__name__}")
        return target

    def dtype_of(self, value: Any) -> np.dtype:
        if not isinstance(value, _PendingDtype):
            raise self.fail(f"expected a numpy.dtype, got {type(value).__name__}")
        return value.dtype

    def array(self, data: Any, dtype: np.dtype, shape: Any, fortran: bool) -> np.ndarray:
        if isinstance(data, str):  # Python 2 wrote bytes as str; latin1 maps them back
            try:
                data = data.encode("latin1")
            except UnicodeEncodeError:
                raise self.fail("array data is text beyond latin1, not bytes") from None
        if not isinstance(data, (bytes, bytearray)):
            raise self.fail(f"array data is a {type(data).__name__}, not bytes; "
                            "only plain numeric arrays are admitted")
        shape = tuple(shape) if isinstance(shape, list) else shape
        n_bytes = declared_nbytes(self.source, shape, dtype.itemsize)
        if len(data) != n_bytes:
            raise self.fail(f"array of shape {shape} and dtype {dtype} needs {n_bytes} bytes, "
                            f"the pickle holds {len(data)}")
        flat = np.frombuffer(data, dtype=dtype).copy()  # copy: writable, and not tied to the stream
        return flat.reshape(shape, order="F" if fortran else "C")

    def call(self, func: Any, args: Any) -> Any:
        if not isinstance(func, _Global):
            raise self.fail(f"REDUCE calls a {type(func).__name__}; only admitted NumPy names can be called")
        if not isinstance(args, tuple):
            raise self.fail(f"REDUCE arguments of {func} are not a tuple")
        if func is _DTYPE:
            code = args[0] if args else None
            if not (1 <= len(args) <= 3 and isinstance(code, str) and _DTYPE_CODE.match(code)
                    and all(_is_flag(a) for a in args[1:]) and (len(args) < 2 or not args[1])):
                raise self.fail(f"numpy.dtype{args!r} refused; only plain numeric dtypes are "
                                "admitted (no object, structured or text dtypes)")
            return _PendingDtype(np.dtype(code))
        if func is _RECONSTRUCT:
            if len(args) != 3 or args[0] is not _NDARRAY or args[1] != (0,) or args[2] not in (b"b", "b"):
                raise self.fail(f"_reconstruct{args!r} refused; "
                                "only _reconstruct(numpy.ndarray, (0,), b'b') is admitted")
            return _PendingArray()
        if func is _FROMBUFFER:
            if len(args) != 4 or args[3] not in ("C", "F"):
                raise self.fail("_frombuffer refused; only _frombuffer(data, dtype, shape, 'C' or 'F') is admitted")
            return self.array(args[0], self.dtype_of(args[1]), args[2], args[3] == "F")
        if func is _ENCODE:
            if not (len(args) == 2 and isinstance(args[0], str) and args[1] in ("latin1", "latin-1")):
                raise self.fail("_codecs.encode refused; only encode(text, 'latin1') is admitted")
            try:
                return args[0].encode("latin1")
            except UnicodeEncodeError:
                raise self.fail("_codecs.encode of text beyond latin1") from None
        raise self.fail(f"{func} cannot be called")

    def build(self, state: Any) -> None:
        target = self.peek("BUILD")
        if isinstance(target, _PendingDtype):
            base = target.dtype
            order = ("|",) if base.itemsize == 1 else ("<", ">")
            if target.built or not (isinstance(state, tuple) and len(state) == 8 and type(state[0]) is int
                                    and state[0] == 3 and state[1] in order and state[2:5] == (None, None, None)
                                    and state[5:] == (-1, -1, 0) and all(type(v) is int for v in state[5:])):
                raise self.fail(f"dtype state {state!r} for {base} refused; only the state NumPy writes "
                                f"for a plain numeric dtype is admitted")
            target.dtype = base.newbyteorder(state[1]) if state[1] != "|" else base
            target.built = True
            return
        if isinstance(target, _PendingArray):
            if target.array is not None or not (isinstance(state, tuple) and len(state) == 5):
                raise self.fail("ndarray state refused; only (1, shape, dtype, is_fortran, data) is admitted")
            version, shape, dtype, fortran, data = state
            if type(version) is not int or version != 1 or not _is_flag(fortran):
                raise self.fail(f"ndarray state version {version!r} / is_fortran {fortran!r} refused")
            target.array = self.array(data, self.dtype_of(dtype), shape, bool(fortran))
            self.stack[-1] = target.array
            return
        raise self.fail(f"BUILD on a {type(target).__name__} refused; only NumPy arrays and dtypes take a state")

    def run(self, data: bytes) -> Any:
        for op, arg, _pos in pickletools.genops(io.BytesIO(data)):
            name = op.name
            handler = _SIMPLE.get(name)
            if handler is not None:
                handler(self, arg)
            elif name == "STOP":
                result = self.pop()
                return self.finish(result)
            else:
                raise self.fail(f"pickle opcode {name} is refused; only plain NumPy arrays and containers are admitted")
        raise self.fail("malformed pickle (no STOP opcode)")

    def finish(self, obj: Any, depth: int = 0) -> Any:
        """The result with every pending array replaced by its array; shared parts are converted once."""
        if isinstance(obj, _PendingArray):
            if obj.array is None:
                raise self.fail("an array was never given its state")
            return obj.array
        if isinstance(obj, np.ndarray) or obj is None or type(obj) in (bool, int, float, str, bytes):
            return obj
        if not isinstance(obj, (tuple, list, dict)) or type(obj) not in (tuple, list, dict):
            raise self.fail(f"unexpected object {obj!r} of type {type(obj).__name__} in the result")
        key = id(obj)
        if key in self.done:
            return self.done[key]
        if key in self.active:
            raise self.fail("containers refer to themselves (a cycle); refused")
        if depth >= MAX_DEPTH:
            raise self.fail(f"containers nested more than {MAX_DEPTH} levels deep")
        self.active.add(key)
        if isinstance(obj, dict):
            out: Any = {self.finish(k, depth + 1): self.finish(v, depth + 1) for k, v in obj.items()}
        else:
            out = type(obj)(self.finish(v, depth + 1) for v in obj)
        self.active.discard(key)
        self.done[key] = out
        return out


def _push(m: _Machine, value: Any) -> None:
    m.stack.append(value)


def _global(m: _Machine, module: str, name: str) -> None:
    try:
        m.stack.append(_ADMITTED[(module, name)])
    except (KeyError, TypeError):
        raise m.fail(f"refused to load global {module}.{name}; only NumPy array reconstruction is "
                     "admitted, so no code from the pickle runs") from None


def _stack_global(m: _Machine, _arg: Any) -> None:
    name, module = m.pop(), m.pop()
    if not (isinstance(module, str) and isinstance(name, str)):
        raise m.fail("malformed pickle (STACK_GLOBAL needs two strings)")
    _global(m, module, name)


def _get(m: _Machine, key: Any) -> None:
    if key not in m.memo:
        raise m.fail(f"malformed pickle (memo key {key} was never stored)")
    m.stack.append(m.memo[key])


def _put(m: _Machine, key: Any) -> None:
    m.memo[key] = m.peek("PUT")


def _setitems(m: _Machine, pairs: list[Any]) -> None:
    if len(pairs) % 2:
        raise m.fail("malformed pickle (odd number of items for a dict)")
    target = m.top(dict, "SETITEMS")
    for k, v in zip(pairs[::2], pairs[1::2]):
        if isinstance(k, (_PendingArray, _PendingDtype, np.ndarray, _Global, list, dict, bytearray)):
            raise m.fail(f"a {type(k).__name__} is not admitted as a dict key")
        try:
            target[k] = v
        except TypeError as exc:
            raise m.fail(f"dict key refused ({exc})") from None


def _tuple_of(n: int):
    def op(m: _Machine, _arg: Any) -> None:
        items = [m.pop() for _ in range(n)][::-1]
        m.stack.append(tuple(items))
    return op


def _proto(m: _Machine, version: Any) -> None:
    if not 0 <= version <= 5:
        raise m.fail(f"pickle protocol {version} is not supported")


def _append(m: _Machine, items: list[Any]) -> None:
    m.top(list, "APPEND").extend(items)


def _mark(m: _Machine, _arg: Any) -> None:
    m.marks.append(len(m.stack))


def _dup(m: _Machine, _arg: Any) -> None:
    value = m.pop()
    m.stack += [value, value]


def _dict(m: _Machine, _arg: Any) -> None:
    items = m.pop_mark()
    m.stack.append({})
    _setitems(m, items)


def _pop(m: _Machine, _arg: Any) -> None:
    if m.marks and len(m.stack) == m.marks[-1]:
        m.pop_mark()  # POP of a mark removes the mark, as pickle does
    else:
        m.pop()


_SIMPLE: dict[str, Any] = {
    "PROTO": _proto,
    "FRAME": lambda m, a: None,
    "MARK": _mark,
    "POP": _pop,
    "POP_MARK": lambda m, a: m.pop_mark(),
    "DUP": _dup,
    "NONE": lambda m, a: _push(m, None),
    "NEWTRUE": lambda m, a: _push(m, True),
    "NEWFALSE": lambda m, a: _push(m, False),
    "EMPTY_TUPLE": lambda m, a: _push(m, ()),
    "EMPTY_LIST": lambda m, a: _push(m, []),
    "EMPTY_DICT": lambda m, a: _push(m, {}),
    "TUPLE": lambda m, a: _push(m, tuple(m.pop_mark())),
    "TUPLE1": _tuple_of(1),
    "TUPLE2": _tuple_of(2),
    "TUPLE3": _tuple_of(3),
    "LIST": lambda m, a: _push(m, m.pop_mark()),
    "DICT": _dict,
    "APPEND": lambda m, a: _append(m, [m.pop()]),
    "APPENDS": lambda m, a: _append(m, m.pop_mark()),
    "SETITEM": lambda m, a: _setitems(m, [*reversed([m.pop(), m.pop()])]),
    "SETITEMS": lambda m, a: _setitems(m, m.pop_mark()),
    "GLOBAL": lambda m, a: _global(m, *a.split(" ", 1)) if " " in a else _global(m, a, ""),
    "STACK_GLOBAL": _stack_global,
    "REDUCE": lambda m, a: _push(m, m.call(*reversed([m.pop(), m.pop()]))),
    "BUILD": lambda m, a: m.build(m.pop()),
    "PUT": _put, "BINPUT": _put, "LONG_BINPUT": _put, "MEMOIZE": lambda m, a: _put(m, len(m.memo)),
    "GET": _get, "BINGET": _get, "LONG_BINGET": _get,
}
for _name in ("INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
              "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE",
              "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8"):
    _SIMPLE[_name] = _push


def safe_load(file: BinaryIO, *, source: str = "pickle") -> Any:
    """Unpickle a stream that must hold only plain numeric arrays and plain containers.

    Parameters
    ----------
    file : binary file object
        The (decompressed) pickle stream; at most :data:`MAX_PICKLE_BYTES` are read.
    source : str, optional
        Name for error messages.

    Returns
    -------
    object
        Arrays inside tuples, lists and dicts, with numbers, strings and bytes.

    Raises
    ------
    DataError
        When the pickle names anything but NumPy's array reconstruction, asks
        for a dtype or state NumPy does not write for a plain numeric array,
        declares sizes that do not match its data, or is malformed.
    """
    try:
        data = read_at_most(file, MAX_PICKLE_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{source}: damaged stream ({type(exc).__name__}: {exc})") from exc
    if len(data) > MAX_PICKLE_BYTES:
        raise DataError(f"{source}: pickle is larger than the limit of {MAX_PICKLE_BYTES} bytes")
    return safe_loads(bytes(data), source=source)


def safe_loads(data: bytes, *, source: str = "pickle") -> Any:
    """:func:`safe_load` for a bytes object."""
    if len(data) > MAX_PICKLE_BYTES:
        raise DataError(f"{source}: pickle is larger than the limit of {MAX_PICKLE_BYTES} bytes")
    try:
        return _Machine(source).run(data)
    except DataError:
        raise
    except (ValueError, TypeError, IndexError, KeyError, OverflowError, UnicodeError, EOFError,
            RecursionError) as exc:
        raise DataError(f"{source}: malformed pickle ({type(exc).__name__}: {exc})") from exc
