"""Read an ``.npz`` file (a zip of ``.npy`` entries) checking every size before allocating.

:func:`numpy.load` trusts each ``.npy`` header: a few bytes that declare a
shape of terabytes make it try to allocate terabytes. :func:`read_npz` parses
each header itself (:func:`numpy.lib.format.read_magic` and
``read_array_header_1_0``/``_2_0``, which evaluate only literals), admits only
plain dtypes, computes the declared size with Python integers, and checks it
against the limit and against the entry's size in the zip directory before
allocating the array and reading into it. Pickled (object) arrays are never
loaded.
"""

from __future__ import annotations

import os
import struct
import tokenize
import zipfile
import zlib
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from trainlab.data.limits import MAX_ARRAY_BYTES, could_inflate_to, declared_nbytes
from trainlab.errors import DataError

#: Most entries an ``.npz`` file may hold.
MAX_NPZ_ENTRIES = 64

#: Most bytes all entries of one file may declare together (uncompressed).
MAX_NPZ_BYTES = 2 * MAX_ARRAY_BYTES

#: Longest ``.npy`` header read (NumPy's own default).
MAX_HEADER_BYTES = 10000

#: Dtype kinds admitted by default: booleans, integers, floats, complex, text.
PLAIN_KINDS = "biufcSU"


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str, kinds: str, max_bytes: int) -> np.ndarray:
    if info.flag_bits & 0x1:
        raise DataError(f"{label}: entry is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise DataError(f"{label}: compression method {info.compress_type} is not admitted (stored or deflate only)")
    if info.compress_type == zipfile.ZIP_DEFLATED and not could_inflate_to(info.compress_size, info.file_size):
        raise DataError(f"{label}: {info.compress_size} compressed bytes cannot hold the {info.file_size} declared")
    with zf.open(info) as f:
        version = npy_format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(f, max_header_size=MAX_HEADER_BYTES)
        elif version == (2, 0):
            shape, fortran, dtype = npy_format.read_array_header_2_0(f, max_header_size=MAX_HEADER_BYTES)
        else:
            raise DataError(f"{label}: .npy format version {version} is not read (1.0 and 2.0 are)")
        if (dtype.hasobject or dtype.kind not in kinds or dtype.fields is not None
                or dtype.subdtype is not None or dtype.itemsize == 0):
            raise DataError(f"{label}: dtype {dtype} is refused; admitted are plain dtypes of kinds {kinds!r}")
        n_bytes = declared_nbytes(label, shape, dtype.itemsize, limit=max_bytes)
        found = info.file_size - f.tell()
        if found != n_bytes:
            raise DataError(f"{label}: shape {shape} of {dtype} needs {n_bytes} bytes, the entry holds {found}")
        flat = np.empty(n_bytes // dtype.itemsize, dtype=dtype)
        view = memoryview(flat.view(np.uint8))
        got = 0
        while got < n_bytes:
            k = f.readinto(view[got:])
            if not k:
                raise DataError(f"{label}: data ends after {got} of {n_bytes} bytes")
            got += k
        del view
        if f.read(1):  # also makes zipfile check the CRC
            raise DataError(f"{label}: bytes after the data")
    return flat.reshape(shape, order="F" if fortran else "C")


def read_npz(path: str | os.PathLike, *, what: str = "file", kinds: str = PLAIN_KINDS,
             max_bytes: int = MAX_ARRAY_BYTES) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` file, each checked before it is allocated.

    Parameters
    ----------
    path : str or PathLike
        The file.
    what : str
        What to call it in messages (``"cache file"``).
    kinds : str
        Admitted dtype kinds (object, structured and void dtypes never are).
    max_bytes : int
        Largest array accepted.

    Returns
    -------
    dict of str to ndarray
        Entry name (without ``.npy``) -> writable array.

    Raises
    ------
    FileNotFoundError
        When there is no such file.
    DataError
        When the file is not a zip of plain ``.npy`` entries, an entry declares
        more than ``max_bytes`` or a size other than it holds, or the data is
        damaged (CRC); the message names the file and the entry.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh, zipfile.ZipFile(fh) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_NPZ_ENTRIES:
                raise DataError(f"{what} {path} has {len(infos)} entries; at most {MAX_NPZ_ENTRIES} are read")
            total = sum(info.file_size for info in infos)
            if total > MAX_NPZ_BYTES:
                raise DataError(f"{what} {path} declares {total} bytes in all, over the limit of {MAX_NPZ_BYTES}")
            arrays: dict[str, np.ndarray] = {}
            for info in infos:
                label = f"{what} {path}, entry {info.filename!r}"
                if not info.filename.endswith(".npy") or info.is_dir():
                    raise DataError(f"{label}: not a .npy entry")
                key = info.filename[:-4]
                if key in arrays:
                    raise DataError(f"{label}: the name appears twice")
                arrays[key] = _read_entry(zf, info, label, kinds, max_bytes)
            return arrays
    except (DataError, FileNotFoundError):
        raise
    except IsADirectoryError as exc:
        raise DataError(f"{what} {path} is a folder") from exc
    except (OSError, ValueError, TypeError, KeyError, EOFError, RuntimeError, NotImplementedError,
            OverflowError, SyntaxError, tokenize.TokenError, struct.error, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(f"{what} {path} is damaged ({type(exc).__name__}: {exc})") from exc
