"""Read the arrays of an ``.npz`` archive without trusting it.

``np.load`` believes what an archive says: a damaged central directory
surfaces as whatever zipfile happens to raise, and an ``.npy`` header that
declares a shape of 10^12 elements is allocated before anything is checked.
:class:`NpzReader` checks every size before it allocates:

- the file must start like a zip archive; otherwise the error says what it
  looks like (a ``.npy`` file, gzip, text, a pickle, ...);
- entries must be stored or deflated ``.npy`` files, not encrypted, named
  once each, at most ``limits.entries`` of them;
- each entry's ``.npy`` header (format 1.0 or 2.0, at most
  ``limits.header_bytes`` long) is parsed here: a plain dtype of the admitted
  kinds (bool and numeric by default; never objects, structured or sub-array
  dtypes), a shape of at most ``limits.ndim`` non-negative ints whose byte
  size (computed with Python ints, so it cannot overflow) must equal the
  entry's uncompressed size in the zip directory and stay under
  ``limits.array_bytes``; all entries together stay under
  ``limits.total_bytes``; a deflated entry may not claim to inflate beyond
  what :class:`NpzLimits` allows for its compressed size;
- the data is read in bounded chunks up to the end of the entry, so zipfile
  checks its CRC-32; an entry that inflates past its declared size is cut
  there and fails that check.

Every problem is an error of the class the caller names (``error=``), whose
message names the file. The default limits (:func:`default_limits`, from this
module's ``MAX_*`` constants, read when a reader opens) are those of
checkpoints (:mod:`trainlab.checkpoint`); :mod:`trainlab.data.npz` passes the
data limits and :class:`~trainlab.errors.DataError`.
"""

from __future__ import annotations

import ast
import codecs
import math
import os
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trainlab.errors import TrainlabError

#: Largest array (in bytes of data) a checkpoint may hold.
MAX_ARRAY_BYTES = 4 * 2**30
#: Largest total size of all arrays of one checkpoint.
MAX_TOTAL_BYTES = 16 * 2**30
#: Most entries a checkpoint may hold.
MAX_ENTRIES = 100_000
#: Most a deflated checkpoint entry larger than :data:`INFLATE_FLOOR` may inflate
#: (deflate itself reaches about 1030x on zeros).
MAX_INFLATE_RATIO = 100
#: Deflated checkpoint entries of at most this many bytes are not held to :data:`MAX_INFLATE_RATIO`.
INFLATE_FLOOR = 2**20
#: Longest ``.npy`` header of a checkpoint (numpy writes a few dozen bytes, padded to 64).
MAX_NPY_HEADER_BYTES = 4096
#: Most dimensions of a checkpoint array.
MAX_NDIM = 32
#: Dtype kinds of checkpoint arrays: bool, signed and unsigned integers, floats, complex.
NUMERIC_KINDS = "biufc"

_CHUNK = 2**20
# The plain dtypes numpy writes: bool, integers, half/single/double floats and their complex,
# bytes and text. Long double is left out: its layout differs between machines.
_DESCR = re.compile(r"[<>|=]?(b1|[iu][1248]|f[248]|c(8|16)|[SU][1-9][0-9]{0,8})\Z")
_KIND_WORDS = (("b", "bool"), ("iu", "integer"), ("f", "float"), ("c", "complex"), ("SU", "text"))

# What zipfile and zlib raise on a damaged archive: NotImplementedError for an unknown zip version or
# compression method, struct.error for a short record, UnicodeDecodeError for a name, RuntimeError for
# an encrypted entry, OSError for a seek before the start, EOFError and zlib.error for a cut stream.
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, struct.error, OSError, ValueError,
               EOFError, zlib.error, KeyError, IndexError, OverflowError, RuntimeError, TypeError)


@dataclass(frozen=True)
class NpzLimits:
    """What one archive may declare; every size is checked against these before anything is allocated.

    A deflated entry that declares ``n`` bytes from ``c`` compressed ones is refused when
    ``n > max(inflate_floor, inflate_ratio * c + inflate_slack)``.
    """

    #: Largest array, in bytes of data.
    array_bytes: int
    #: Largest total of all entries' uncompressed sizes.
    total_bytes: int
    #: Most entries.
    entries: int
    #: Most dimensions of an array.
    ndim: int
    #: Longest ``.npy`` header (the text of its dict).
    header_bytes: int
    #: Most times a deflated entry may inflate its compressed size.
    inflate_ratio: float
    #: Deflated entries up to this many bytes are not held to the ratio.
    inflate_floor: int = 0
    #: Bytes a deflated entry may inflate to beyond the ratio.
    inflate_slack: int = 0


def default_limits() -> NpzLimits:
    """The limits of checkpoints, from this module's constants as they are now."""
    return NpzLimits(array_bytes=MAX_ARRAY_BYTES, total_bytes=MAX_TOTAL_BYTES, entries=MAX_ENTRIES, ndim=MAX_NDIM,
                     header_bytes=MAX_NPY_HEADER_BYTES, inflate_ratio=MAX_INFLATE_RATIO, inflate_floor=INFLATE_FLOOR)


def describe(head: bytes, kind: str = "an .npz archive") -> str:
    """What a file whose first bytes are ``head`` looks like, for an error saying it is not ``kind``."""
    if not head:
        return "is empty"
    if head.startswith(b"\x93NUMPY"):
        return f"is a .npy file (a single array), not {kind}"
    if head.startswith(b"\x1f\x8b"):
        return f"is a gzip file, not {kind} (a zip archive)"
    if head.startswith(b"BZh") or head.startswith(b"\xfd7zXZ\x00"):
        return f"is a bzip2 or xz file, not {kind} (a zip archive)"
    if head.startswith(b"\x89HDF"):
        return f"is an HDF5 file, not {kind}"
    if head[0] == 0x80 and len(head) > 1 and head[1] <= 5:
        return "looks like a Python pickle, which trainlab never loads"
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\t\r\n" for c in text):
        return f"is a text file, not {kind} (a zip archive)"
    return f"is not a zip archive, so not {kind} (it starts with bytes {head[:8].hex(' ')})"


def _kinds_in_words(kinds: str) -> str:
    words = [word for letters, word in _KIND_WORDS if any(k in kinds for k in letters)]
    if set("iufc") <= set(kinds):
        words = [w for w in words if w not in ("integer", "float", "complex")]
        words.insert(1 if "b" in kinds else 0, "numeric")
    if not words:
        return "admitted"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class NpzReader:
    """An open ``.npz`` archive whose entries are checked as described in the module docstring.

    Use as a context manager; ``names`` are the array names (entry names without ``.npy``).

    Parameters
    ----------
    path : str or PathLike
        The archive.
    error : type
        The exception class every problem is raised as (``CheckpointError``, ``DataError``).
    what : str
        What to call the file in messages (``"checkpoint"``, ``"cache file"``).
    kind : str
        What the file should be, for a message saying it is not (``"a trainlab checkpoint"``).
    kinds : str
        Admitted dtype kinds, out of ``"biufcSU"``.
    limits : NpzLimits, optional
        Defaults to :func:`default_limits` (those of checkpoints).

    Raises
    ------
    FileNotFoundError
        When there is no such file.
    error
        For any other problem: the file cannot be read, is not a zip archive, or
        an entry fails a check.
    """

    def __init__(self, path: str | os.PathLike, *, error: type[TrainlabError], what: str = "archive",
                 kind: str = "an .npz archive", kinds: str = NUMERIC_KINDS, limits: NpzLimits | None = None):
        self.path = Path(path)
        self.limits = default_limits() if limits is None else limits
        self._error = error
        self._label = f"{what} {self.path}"
        self._kind = kind
        self._kinds = kinds
        try:
            self._fh = open(self.path, "rb")
        except FileNotFoundError:
            raise
        except IsADirectoryError:
            raise error(f"{self._label} is a folder, so it cannot be read") from None
        except OSError as e:
            raise error(f"{self._label} cannot be read ({type(e).__name__}: {e.strerror or e})") from None
        try:
            self._open()
        except BaseException:
            self._fh.close()
            raise

    def _damaged(self, e: BaseException) -> TrainlabError:
        return self._error(f"{self._label} is damaged or truncated ({type(e).__name__}: {e})")

    def _open(self) -> None:
        error, limits = self._error, self.limits
        try:
            head = self._fh.read(8)
            self._fh.seek(0)
        except OSError as e:
            raise error(f"{self._label} cannot be read ({type(e).__name__}: {e})") from None
        if head[:4] not in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):  # a local header or an empty archive
            raise error(f"{self._label} {describe(head, self._kind)}")
        try:
            self._zip = zipfile.ZipFile(self._fh)
            infos = self._zip.infolist()
        except _ZIP_ERRORS as e:
            raise self._damaged(e) from None
        if len(infos) > limits.entries:
            raise error(f"{self._label} has {len(infos)} entries, more than {limits.entries}; "
                        f"at most {limits.entries} are read")
        self._infos: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            self._check_entry(info)
            name = info.filename[:-4]
            if name in self._infos:
                raise error(f"{self._entry(info)}: the name appears twice")
            self._infos[name] = info
            total += info.file_size
        if total > limits.total_bytes:
            raise error(f"{self._label} declares {total} bytes in all, over the limit of {limits.total_bytes} bytes")

    def _entry(self, info: zipfile.ZipInfo) -> str:
        return f"{self._label}, entry {info.filename[:100]!r}"

    def _check_entry(self, info: zipfile.ZipInfo) -> None:
        error, limits, where = self._error, self.limits, self._entry(info)
        if not info.filename.endswith(".npy"):
            raise error(f"{where}: not a .npy entry (its name does not end in .npy, so it is not an .npy array: "
                        f"a damaged directory, or not {self._kind})")
        if info.flag_bits & 0x1:
            raise error(f"{where} is encrypted; trainlab reads no encrypted entries")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise error(f"{where}: compression method {info.compress_type} is not read "
                        "(damaged, or neither stored nor deflated)")
        if info.file_size > limits.array_bytes + limits.header_bytes + 16:
            raise error(f"{where} declares {info.file_size} bytes, more than the {limits.array_bytes} bytes "
                        "read per array")
        if (info.compress_type == zipfile.ZIP_DEFLATED
                and info.file_size > max(limits.inflate_floor,
                                         limits.inflate_ratio * info.compress_size + limits.inflate_slack)):
            raise error(f"{where} claims to inflate from {info.compress_size} to {info.file_size} bytes, "
                        f"more than {limits.inflate_ratio:g} times: damaged, or a zip bomb")
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise error(f"{where} is damaged: stored entry of {info.file_size} bytes "
                        f"takes {info.compress_size} bytes in the archive")

    @property
    def names(self) -> list[str]:
        return list(self._infos)

    def size(self, name: str) -> int:
        """The uncompressed size the zip directory declares for array ``name``."""
        return self._infos[name].file_size

    def read(self, name: str) -> np.ndarray:
        """Array ``name``, read after its header and sizes passed the checks."""
        info = self._infos[name]
        try:
            with self._zip.open(info) as fp:
                return self._read_array(name, info, fp)
        except self._error:
            raise
        except _ZIP_ERRORS as e:
            raise self._damaged(e) from None

    def _read_array(self, name: str, info: zipfile.ZipInfo, fp) -> np.ndarray:
        error, limit, where = self._error, self.limits.array_bytes, self._entry(info)
        dtype, shape, fortran, header_len = self._npy_header(where, fp)
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes > limit:
            raise error(f"{where}: shape too large: its .npy header declares shape {shape} of {dtype} "
                        f"({nbytes} bytes), over the limit of {limit} bytes per array")
        if header_len + nbytes != info.file_size:
            raise error(f"{where}: shape {shape} of {dtype} needs {nbytes} bytes, the entry holds "
                        f"{info.file_size - header_len} (damaged: its .npy header declares shape and dtype "
                        "the entry does not match)")
        try:
            out = np.empty(math.prod(shape), dtype=dtype)
        except MemoryError:
            raise error(f"{self._label}: not enough memory for array {name!r} ({nbytes} bytes)") from None
        raw = memoryview(out.view(np.uint8))
        pos = 0
        while pos < nbytes:
            chunk = fp.read(min(_CHUNK, nbytes - pos))
            if not chunk:
                raise error(f"{where} is damaged or truncated: its data ends after {pos} of {nbytes} bytes")
            raw[pos:pos + len(chunk)] = chunk
            pos += len(chunk)
        if fp.read(1):  # reaches the end of the entry, where zipfile checks the CRC-32
            raise error(f"{where} is damaged: it holds bytes after the data its .npy header declares")
        return out.reshape(shape, order="F" if fortran else "C")

    def _exact(self, fp, n: int, where: str) -> bytes:
        data = b""
        while len(data) < n:
            chunk = fp.read(n - len(data))
            if not chunk:
                raise self._error(f"{where} is damaged or truncated: it ends inside its .npy header")
            data += chunk
        return data

    def _npy_header(self, where: str, fp) -> tuple[np.dtype, tuple[int, ...], bool, int]:
        error, limits = self._error, self.limits
        magic = self._exact(fp, 8, where)
        if magic[:6] != b"\x93NUMPY":
            raise error(f"{where} is not in .npy format (damaged, or not {self._kind})")
        version = (magic[6], magic[7])
        if version == (3, 0):
            raise error(f"{where}: .npy format version {version} is not read (numpy writes it only for "
                        "structured dtypes, which are refused; 1.0 and 2.0 are read)")
        if version not in ((1, 0), (2, 0)):
            raise error(f"{where} is damaged: unknown .npy format version {version[0]}.{version[1]}")
        size_len = 2 if version == (1, 0) else 4
        header_len = struct.unpack("<H" if size_len == 2 else "<I", self._exact(fp, size_len, where))[0]
        if header_len > limits.header_bytes:
            raise error(f"{where} is damaged: .npy header of {header_len} bytes, "
                        f"more than the {limits.header_bytes} read")
        raw = self._exact(fp, header_len, where)
        try:
            header = ast.literal_eval(raw.decode("latin1"))
        except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
            header = None
        if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
            raise error(f"{where} is damaged: its .npy header is not a dict of descr, "
                        f"fortran_order and shape ({raw[:80]!r})")
        descr, shape, fortran = header["descr"], header["shape"], header["fortran_order"]
        dtype = self._dtype(where, descr)
        if not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape):
            raise error(f"{where} is damaged: shape {_short(shape)} is not a tuple of non-negative ints")
        if len(shape) > limits.ndim:
            raise error(f"{where}: {len(shape)} dimensions declared; the shape must be a tuple of "
                        f"at most {limits.ndim} non-negative ints")
        if type(fortran) is not bool:
            raise error(f"{where} is damaged: fortran_order {_short(fortran)} is not a bool")
        return dtype, shape, fortran, 8 + size_len + header_len

    def _dtype(self, where: str, descr: Any) -> np.dtype:
        if isinstance(descr, str) and descr.lstrip("<>|=") == "O":
            raise self._error(f"{where}: dtype object is refused: the array holds Python objects (pickled), "
                              "which trainlab never loads")
        dtype = None
        if isinstance(descr, str) and _DESCR.match(descr) and descr.lstrip("<>|=")[0] in self._kinds:
            try:
                dtype = np.dtype(descr)
            except (TypeError, ValueError, OverflowError, MemoryError):
                dtype = None
        if dtype is None or dtype.kind not in self._kinds or dtype.itemsize == 0:
            raise self._error(f"{where}: dtype {_short(descr)} is refused: not a plain {_kinds_in_words(self._kinds)} "
                              "dtype (no objects, structured, sub-array or long double dtypes)")
        return dtype

    def close(self) -> None:
        zf = getattr(self, "_zip", None)
        if zf is not None:
            zf.close()
        self._fh.close()

    def __enter__(self) -> NpzReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
