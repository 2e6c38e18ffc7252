"""Read the arrays of an ``.npz`` archive without trusting it.

``np.load`` believes what an archive says: a damaged central directory
surfaces as whatever zipfile happens to raise, and an ``.npy`` header that
declares a shape of 10^12 elements is allocated before anything is checked.
:class:`NpzReader` checks every size before it allocates:

- the file must start like a zip archive; otherwise the error says what it
  looks like (a ``.npy`` file, gzip, text, a pickle, ...);
- entries must be stored or deflated ``.npy`` files, not encrypted, named
  once each, at most :data:`MAX_ENTRIES` of them;
- each entry's ``.npy`` header is parsed here: a plain bool or numeric dtype
  (no objects, no structured or sub-array dtypes), a shape of non-negative
  ints whose byte size (computed with Python ints, so it cannot overflow)
  must equal the entry's uncompressed size in the zip directory and stay
  under :data:`MAX_ARRAY_BYTES`; all entries together stay under
  :data:`MAX_TOTAL_BYTES`; a deflated entry over 1 MiB may not claim to
  inflate more than :data:`MAX_INFLATE_RATIO` times its compressed size;
- the data is read in bounded chunks up to the end of the entry, so zipfile
  checks its CRC-32; an entry that inflates past its declared size is cut
  there and fails that check.

Every problem is a :class:`~trainlab.errors.CheckpointError` naming the file.
"""

from __future__ import annotations

import ast
import codecs
import math
import re
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from trainlab.errors import CheckpointError

#: Largest array (in bytes of data) an archive may hold.
MAX_ARRAY_BYTES = 4 * 2**30
#: Largest total size of all arrays of one archive.
MAX_TOTAL_BYTES = 16 * 2**30
#: Most entries an archive may hold.
MAX_ENTRIES = 100_000
#: Most a deflated entry larger than 1 MiB may inflate (deflate itself reaches about 1030x on zeros).
MAX_INFLATE_RATIO = 100

_RATIO_FLOOR = 2**20
_MAX_NPY_HEADER = 4096  # numpy writes headers of a few dozen bytes, padded to 64
_MAX_NDIM = 32
_CHUNK = 2**20
_DESCR = re.compile(r"[<>|=]?(b1|[iu][1248]|f[248]|c(8|16))\Z")

# What zipfile and zlib raise on a damaged archive: NotImplementedError for an unknown zip version or
# compression method, struct.error for a short record, UnicodeDecodeError for a name, RuntimeError for
# an encrypted entry, OSError for a seek before the start, EOFError and zlib.error for a cut stream.
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, struct.error, OSError, ValueError,
               EOFError, zlib.error, KeyError, IndexError, OverflowError, RuntimeError, TypeError)


def describe(head: bytes) -> str:
    """What a file whose first bytes are ``head`` looks like, for an error saying it is no checkpoint."""
    if not head:
        return "is empty"
    if head.startswith(b"\x93NUMPY"):
        return "is a .npy file (a single array), not a trainlab checkpoint"
    if head.startswith(b"\x1f\x8b"):
        return "is a gzip file, not a trainlab checkpoint (a zip archive)"
    if head.startswith(b"BZh") or head.startswith(b"\xfd7zXZ\x00"):
        return "is a bzip2 or xz file, not a trainlab checkpoint (a zip archive)"
    if head.startswith(b"\x89HDF"):
        return "is an HDF5 file, not a trainlab checkpoint"
    if head[0] == 0x80 and len(head) > 1 and head[1] <= 5:
        return "looks like a Python pickle, which trainlab never loads"
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\t\r\n" for c in text):
        return "is a text file, not a trainlab checkpoint (a zip archive)"
    return f"is not a zip archive, so not a trainlab checkpoint (it starts with bytes {head[:8].hex(' ')})"


def _damaged(path: Path, e: BaseException) -> CheckpointError:
    return CheckpointError(f"{path}: damaged or truncated checkpoint ({type(e).__name__}: {e})")


class NpzReader:
    """An open ``.npz`` archive whose entries are checked as described in the module docstring.

    Use as a context manager; ``names`` are the array names (entry names without ``.npy``).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self._fh = open(self.path, "rb")
        except OSError as e:
            raise CheckpointError(f"{self.path}: cannot be read ({type(e).__name__}: {e.strerror or e})") from None
        try:
            self._open()
        except BaseException:
            self._fh.close()
            raise

    def _open(self) -> None:
        try:
            head = self._fh.read(8)
            self._fh.seek(0)
        except OSError as e:
            raise CheckpointError(f"{self.path}: cannot be read ({type(e).__name__}: {e})") from None
        if head[:4] not in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):  # a local header or an empty archive
            raise CheckpointError(f"{self.path}: {describe(head)}")
        try:
            self._zip = zipfile.ZipFile(self._fh)
            infos = self._zip.infolist()
        except _ZIP_ERRORS as e:
            raise _damaged(self.path, e) from None
        if len(infos) > MAX_ENTRIES:
            raise CheckpointError(f"{self.path}: damaged checkpoint: {len(infos)} entries, more than {MAX_ENTRIES}")
        self._infos: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            self._check_entry(info)
            name = info.filename[:-4]
            if name in self._infos:
                raise CheckpointError(f"{self.path}: damaged checkpoint: entry {info.filename[:100]!r} appears twice")
            self._infos[name] = info
            total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise CheckpointError(f"{self.path}: entries declare {total} bytes in all, more than the "
                                  f"{MAX_TOTAL_BYTES} trainlab reads (npzread.MAX_TOTAL_BYTES)")

    def _check_entry(self, info: zipfile.ZipInfo) -> None:
        where = f"{self.path}: entry {info.filename[:100]!r}"
        if not info.filename.endswith(".npy"):
            raise CheckpointError(f"{where} is not an .npy array (a damaged directory, or not a trainlab checkpoint)")
        if info.flag_bits & 0x1:
            raise CheckpointError(f"{where} is encrypted; trainlab checkpoints never are")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise CheckpointError(f"{where}: damaged or unsupported compression method {info.compress_type} "
                                  "(trainlab reads stored and deflated entries)")
        if info.file_size > MAX_ARRAY_BYTES + _MAX_NPY_HEADER + 16:
            raise CheckpointError(f"{where} declares {info.file_size} bytes, more than the {MAX_ARRAY_BYTES} "
                                  "trainlab reads per array (npzread.MAX_ARRAY_BYTES)")
        if (info.compress_type == zipfile.ZIP_DEFLATED and info.file_size > _RATIO_FLOOR
                and info.file_size > MAX_INFLATE_RATIO * info.compress_size):
            raise CheckpointError(f"{where} claims to inflate from {info.compress_size} to {info.file_size} bytes, "
                                  f"more than {MAX_INFLATE_RATIO} times: damaged, or a zip bomb")
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise CheckpointError(f"{where}: damaged checkpoint: stored entry of {info.file_size} bytes "
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
        except CheckpointError:
            raise
        except _ZIP_ERRORS as e:
            raise _damaged(self.path, e) from None

    def _read_array(self, name: str, info: zipfile.ZipInfo, fp) -> np.ndarray:
        dtype, shape, fortran, header_len = self._npy_header(name, fp)
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes > MAX_ARRAY_BYTES:
            raise CheckpointError(f"{self.path}: array {name!r} declares shape {shape} of {dtype} ({nbytes} bytes), "
                                  f"more than the {MAX_ARRAY_BYTES} trainlab reads per array (npzread.MAX_ARRAY_BYTES)")
        if header_len + nbytes != info.file_size:
            raise CheckpointError(f"{self.path}: damaged checkpoint: array {name!r} declares shape {shape} of {dtype} "
                                  f"({nbytes} bytes) but its entry holds {info.file_size - header_len}")
        try:
            out = np.empty(math.prod(shape), dtype=dtype)
        except MemoryError:
            raise CheckpointError(f"{self.path}: not enough memory for array {name!r} "
                                  f"({nbytes} bytes)") from None
        raw = memoryview(out.view(np.uint8))
        pos = 0
        while pos < nbytes:
            chunk = fp.read(min(_CHUNK, nbytes - pos))
            if not chunk:
                raise CheckpointError(f"{self.path}: damaged or truncated checkpoint: array {name!r} ends "
                                      f"after {pos} of {nbytes} bytes")
            raw[pos:pos + len(chunk)] = chunk
            pos += len(chunk)
        if fp.read(1):  # reaches the end of the entry, where zipfile checks the CRC-32
            raise CheckpointError(f"{self.path}: damaged checkpoint: array {name!r} is longer than its header says")
        return out.reshape(shape, order="F" if fortran else "C")

    def _exact(self, fp, n: int, name: str) -> bytes:
        data = b""
        while len(data) < n:
            chunk = fp.read(n - len(data))
            if not chunk:
                raise CheckpointError(f"{self.path}: damaged or truncated checkpoint: "
                                      f"entry {name!r} ends inside its .npy header")
            data += chunk
        return data

    def _npy_header(self, name: str, fp) -> tuple[np.dtype, tuple[int, ...], bool, int]:
        where = f"{self.path}: array {name!r}"
        magic = self._exact(fp, 8, name)
        if magic[:6] != b"\x93NUMPY":
            raise CheckpointError(f"{where} is not in .npy format, so this is not a trainlab checkpoint")
        version = (magic[6], magic[7])
        if version not in ((1, 0), (2, 0), (3, 0)):
            raise CheckpointError(f"{where}: damaged checkpoint: unknown .npy format version {version[0]}.{version[1]}")
        size_len = 2 if version == (1, 0) else 4
        header_len = struct.unpack("<H" if size_len == 2 else "<I", self._exact(fp, size_len, name))[0]
        if header_len > _MAX_NPY_HEADER:
            raise CheckpointError(f"{where}: damaged checkpoint: .npy header of {header_len} bytes")
        raw = self._exact(fp, header_len, name)
        try:
            header = ast.literal_eval(raw.decode("utf-8" if version == (3, 0) else "latin1"))
        except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
            header = None
        if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
            raise CheckpointError(f"{where}: damaged checkpoint: .npy header is not a dict of descr, "
                                  f"fortran_order and shape ({raw[:80]!r})")
        descr, shape, fortran = header["descr"], header["shape"], header["fortran_order"]
        if descr in ("|O", "O", "<O", ">O"):
            raise CheckpointError(f"{where} holds Python objects (pickled), which trainlab never loads")
        if not isinstance(descr, str) or not _DESCR.match(descr):
            raise CheckpointError(f"{where}: dtype {descr!r} is not a plain bool or numeric dtype "
                                  "(no objects, structured or sub-array dtypes)")
        if (not isinstance(shape, tuple) or len(shape) > _MAX_NDIM
                or not all(type(n) is int and n >= 0 for n in shape)):
            raise CheckpointError(f"{where}: damaged checkpoint: shape {shape!r} is not a tuple of "
                                  f"at most {_MAX_NDIM} non-negative ints")
        if type(fortran) is not bool:
            raise CheckpointError(f"{where}: damaged checkpoint: fortran_order {fortran!r} is not a bool")
        return np.dtype(descr), shape, fortran, 8 + size_len + header_len

    def close(self) -> None:
        zf = getattr(self, "_zip", None)
        if zf is not None:
            zf.close()
        self._fh.close()

    def __enter__(self) -> NpzReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
