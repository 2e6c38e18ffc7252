"""Read and write IDX files, the format MNIST, Fashion-MNIST, KMNIST and EMNIST ship in.

An IDX file is a 4-byte magic number ``00 00 TT DD`` (TT the element type,
DD the number of dimensions), DD big-endian uint32 sizes, then the elements in
big-endian C order. Files are often gzipped; the reader tells the two apart by
the gzip magic bytes, never by the file name.

Element types: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
0x0E float64.

Reference: LeCun, Cortes, Burges, "The MNIST database of handwritten digits"
(the file format section of its web page).
"""

from __future__ import annotations

import gzip as _gzip
import hashlib
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from trainlab.errors import DataError, DTypeError, ShapeError

#: IDX element-type byte -> big-endian NumPy dtype.
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF_KIND = {(dt.kind, dt.itemsize): code for code, dt in IDX_TYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: str | os.PathLike) -> bool:
    """Whether a file starts with the gzip magic bytes."""
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def idx_header(array: np.ndarray) -> bytes:
    """The IDX magic number and dimension sizes that describe ``array``."""
    dt = np.dtype(array.dtype)
    code = _CODE_OF_KIND.get((dt.kind, dt.itemsize))
    if code is None:
        names = ", ".join(str(d.newbyteorder("=")) for d in IDX_TYPES.values())
        raise DTypeError(f"IDX cannot store dtype {dt}; use one of {names}")
    if not 1 <= array.ndim <= 255:
        raise ShapeError(f"IDX stores 1 to 255 dimensions, got an array of shape {array.shape}")
    if any(n >= 2**32 for n in array.shape):
        raise ShapeError(f"IDX dimension sizes must fit in 32 bits, got shape {array.shape}")
    return struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)


def _big_endian(array: np.ndarray) -> np.ndarray:
    dt = IDX_TYPES[idx_header(array)[2]]
    return np.ascontiguousarray(array, dtype=dt)


def idx_sha256(array: np.ndarray) -> str:
    """SHA-256 of the uncompressed IDX file that holds ``array``.

    This is the content hash used everywhere in trainlab's data package: it
    does not depend on gzip settings, and for the standard datasets it equals
    the published SHA-256 of the decompressed ``*-ubyte`` files.
    """
    h = hashlib.sha256(idx_header(array))
    h.update(memoryview(_big_endian(np.asarray(array))).cast("B"))
    return h.hexdigest()


def _read_exact(stream: BinaryIO, n: int) -> bytearray:
    """Read up to ``n`` bytes into a writable buffer (fewer only at end of file)."""
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = stream.readinto(view[got:])
        if not k:
            break
        got += k
    del view
    if got < n:
        del buf[got:]
    return buf


def _count_rest(stream: BinaryIO, limit: int = 1 << 30) -> int:
    total = 0
    while total < limit:
        chunk = stream.read(1 << 20)
        if not chunk:
            break
        total += len(chunk)
    return total


def _parse(stream: BinaryIO, name: str) -> np.ndarray:
    magic = _read_exact(stream, 4)
    if len(magic) < 4:
        raise DataError(f"{name}: {len(magic)} bytes is too short for an IDX header (4-byte magic)")
    if magic[0] != 0 or magic[1] != 0 or magic[2] not in IDX_TYPES:
        raise DataError(
            f"{name}: wrong magic number 0x{bytes(magic).hex()}; an IDX file starts with "
            "00 00, then a type byte (08, 09, 0B, 0C, 0D or 0E), then the number of dimensions"
        )
    dtype, ndim = IDX_TYPES[magic[2]], magic[3]
    if ndim == 0:
        raise DataError(f"{name}: IDX header declares 0 dimensions")
    raw_dims = _read_exact(stream, 4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DataError(f"{name}: truncated header: {ndim} dimension sizes need {4 * ndim} bytes")
    dims = struct.unpack(f">{ndim}I", bytes(raw_dims))
    n_bytes = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    body = _read_exact(stream, n_bytes)
    if len(body) < n_bytes:
        raise DataError(
            f"{name}: truncated body: shape {dims} of {dtype.newbyteorder('=')} needs "
            f"{n_bytes} bytes, found {len(body)}"
        )
    extra = _count_rest(stream)
    if extra:
        raise DataError(f"{name}: {extra} trailing bytes after the {n_bytes} bytes of data of shape {dims}")
    array = np.frombuffer(body, dtype=dtype).reshape(dims)
    # Native byte order so that later arithmetic does not pay for swapping.
    return array.astype(dtype.newbyteorder("="), copy=False)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file, gzipped or not.

    Parameters
    ----------
    path : str or PathLike
        The file. Gzip is detected from the first two bytes.

    Returns
    -------
    ndarray
        The elements in native byte order with the shape the header declares,
        e.g. ``(60000, 28, 28)`` uint8 for MNIST's training images.

    Raises
    ------
    DataError
        Wrong magic number, truncated header or body, trailing bytes, or a
        damaged gzip stream; the message names the file.
    """
    path = Path(path)
    with open(path, "rb") as raw:
        return read_idx_stream(raw, name=str(path))


def read_idx_stream(stream: BinaryIO, *, name: str = "IDX data") -> np.ndarray:
    """:func:`read_idx` for an open, seekable binary stream (``name`` is used in errors)."""
    start = stream.tell()
    head = stream.read(2)
    stream.seek(start)
    try:
        if head == _GZIP_MAGIC:
            with _gzip.GzipFile(fileobj=stream, mode="rb") as unzipped:
                return _parse(unzipped, name)
        return _parse(stream, name)
    except (EOFError, zlib.error, _gzip.BadGzipFile) as exc:
        raise DataError(f"{name}: damaged gzip stream ({exc})") from exc


def write_idx(path: str | os.PathLike, array: np.ndarray, gzip: bool = False) -> Path:
    """Write ``array`` as an IDX file.

    Parameters
    ----------
    path : str or PathLike
        Destination; the name is used as given (add ``.gz`` yourself if wanted).
    array : ndarray
        uint8, int8, int16, int32, float32 or float64 with 1 to 255 dimensions.
    gzip : bool, optional
        Compress with gzip (modification time 0, so equal arrays give equal files).

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    array = np.asarray(array)
    header = idx_header(array)
    data = memoryview(_big_endian(array)).cast("B")
    if gzip:
        with open(path, "wb") as raw, _gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as f:
            f.write(header)
            f.write(data)
    else:
        with open(path, "wb") as f:
            f.write(header)
            f.write(data)
    return path


def read_idx_pair(images_path: str | os.PathLike, labels_path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read an images file and its labels file and check that they match.

    Returns
    -------
    images : ndarray, shape (N, H, W) (or (N, ...))
    labels : ndarray, shape (N,)

    Raises
    ------
    DataError
        If either file is damaged, the labels are not 1-D, or the counts differ.
    """
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: labels must be 1-D, got shape {labels.shape}")
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"{images_path} holds {images.shape[0]} images but {labels_path} holds "
            f"{labels.shape[0]} labels; the counts must match"
        )
    return images, labels
