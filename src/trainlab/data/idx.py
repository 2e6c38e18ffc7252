"""Read and write IDX files, the format MNIST, Fashion-MNIST, KMNIST and EMNIST ship in.

An IDX file is a 4-byte magic number ``00 00 TT DD`` (TT the element type,
DD the number of dimensions), DD big-endian uint32 sizes, then the elements in
big-endian C order. Files are often gzipped; the reader tells the two apart by
the gzip magic bytes, never by the file name.

The reader checks the declared size before it allocates: computed with Python
integers, at most :data:`~trainlab.data.limits.MAX_NDIM` dimensions and
:data:`~trainlab.data.limits.MAX_ARRAY_BYTES` bytes, and exactly what the file
holds (a gzip stream is read in chunks up to the declared size plus one byte).

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

from trainlab.data.limits import MAX_ARRAY_BYTES, MAX_NDIM, count_rest, could_inflate_to, declared_nbytes, read_at_most
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
    if not 1 <= array.ndim <= MAX_NDIM:
        raise ShapeError(f"IDX files in trainlab hold 1 to {MAX_NDIM} dimensions, got an array of shape {array.shape}")
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
    h.update(memoryview(_big_endian(np.asarray(array)).reshape(-1).view(np.uint8)))
    return h.hexdigest()


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    """Read up to ``n`` bytes (fewer only at end of file); ``n`` is a small header size here."""
    return bytes(read_at_most(stream, n))


def _header(stream: BinaryIO, name: str) -> tuple[np.dtype, tuple[int, ...], int]:
    """The element type, shape and header length, checked before anything is allocated."""
    magic = _read_exact(stream, 4)
    if len(magic) < 4:
        raise DataError(f"{name}: {len(magic)} bytes is too short for an IDX header (4-byte magic)")
    if magic[0] != 0 or magic[1] != 0 or magic[2] not in IDX_TYPES:
        raise DataError(
            f"{name}: wrong magic number 0x{magic.hex()}; an IDX file starts with "
            "00 00, then a type byte (08, 09, 0B, 0C, 0D or 0E), then the number of dimensions"
        )
    dtype, ndim = IDX_TYPES[magic[2]], magic[3]
    if ndim == 0:
        raise DataError(f"{name}: IDX header declares 0 dimensions")
    if ndim > MAX_NDIM:
        raise DataError(f"{name}: IDX header declares {ndim} dimensions; at most {MAX_NDIM} are read")
    raw_dims = _read_exact(stream, 4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DataError(f"{name}: truncated header: {ndim} dimension sizes need {4 * ndim} bytes")
    return dtype, struct.unpack(f">{ndim}I", raw_dims), 4 + 4 * ndim


def _parse(stream: BinaryIO, name: str, *, available: int | None, compressed: int | None,
           max_bytes: int) -> np.ndarray:
    """Parse an IDX stream.

    ``available`` is the exact number of bytes in an uncompressed stream;
    ``compressed`` the size of the gzip stream that ``stream`` decompresses.
    """
    dtype, dims, header_len = _header(stream, name)
    n_bytes = declared_nbytes(name, dims, dtype.itemsize, limit=max_bytes)
    what = f"shape {dims} of {dtype.newbyteorder('=')}"
    if available is not None:
        found = available - header_len
        if found < n_bytes:
            raise DataError(f"{name}: truncated body: {what} needs {n_bytes} bytes, found {found}")
        if found > n_bytes:
            raise DataError(f"{name}: {found - n_bytes} trailing bytes after the {n_bytes} bytes of data of {what}")
        array = np.empty(dims, dtype=dtype.newbyteorder("="))
        view = memoryview(array.reshape(-1).view(np.uint8))
        got = stream.readinto(view) if n_bytes else 0
        while got < n_bytes:  # a file that shrank while being read
            k = stream.readinto(view[got:])
            if not k:
                raise DataError(f"{name}: truncated body: {what} needs {n_bytes} bytes, found {got}")
            got += k
        del view
        if dtype.itemsize > 1 and not dtype.isnative:
            array.byteswap(inplace=True)
        return array
    if compressed is not None and not could_inflate_to(compressed, header_len + n_bytes):
        raise DataError(
            f"{name}: {what} needs {n_bytes} bytes, more than {compressed} bytes of gzip can hold"
        )
    body = read_at_most(stream, n_bytes + 1)
    if len(body) < n_bytes:
        raise DataError(f"{name}: truncated body: {what} needs {n_bytes} bytes, found {len(body)}")
    if len(body) > n_bytes:
        rest = count_rest(stream)
        extra = f"{1 + rest}" if rest <= (1 << 20) else f"more than {1 << 20}"
        raise DataError(f"{name}: {extra} trailing bytes after the {n_bytes} bytes of data of {what}")
    array = np.frombuffer(body, dtype=dtype).reshape(dims)
    # Native byte order so that later arithmetic does not pay for swapping.
    return array.astype(dtype.newbyteorder("="), copy=False)


def read_idx(path: str | os.PathLike, *, max_bytes: int = MAX_ARRAY_BYTES) -> np.ndarray:
    """Read one IDX file, gzipped or not.

    Parameters
    ----------
    path : str or PathLike
        The file. Gzip is detected from the first two bytes.
    max_bytes : int, optional
        Largest data size accepted (default :data:`trainlab.data.limits.MAX_ARRAY_BYTES`).

    Returns
    -------
    ndarray
        The elements in native byte order with the shape the header declares,
        e.g. ``(60000, 28, 28)`` uint8 for MNIST's training images.

    Raises
    ------
    DataError
        Wrong magic number, more than :data:`~trainlab.data.limits.MAX_NDIM`
        dimensions, a declared size over ``max_bytes`` or other than the file
        holds, truncated header or body, trailing bytes, or a damaged gzip
        stream; the message names the file. Nothing is allocated for the data
        before its declared size has been checked.
    """
    path = Path(path)
    try:
        with open(path, "rb") as raw:
            return read_idx_stream(raw, name=str(path), max_bytes=max_bytes)
    except IsADirectoryError as exc:
        raise DataError(f"{path} is a folder, not an IDX file") from exc


def read_idx_stream(stream: BinaryIO, *, name: str = "IDX data", max_bytes: int = MAX_ARRAY_BYTES) -> np.ndarray:
    """:func:`read_idx` for an open, seekable binary stream (``name`` is used in errors).

    The stream's size is taken from seeking to its end, so a raw IDX stream's
    declared size is checked before anything is read.
    """
    start = stream.tell()
    size = stream.seek(0, os.SEEK_END) - start
    stream.seek(start)
    head = stream.read(2)
    stream.seek(start)
    try:
        if head == _GZIP_MAGIC:
            with _gzip.GzipFile(fileobj=stream, mode="rb") as unzipped:
                return _parse(unzipped, name, available=None, compressed=size, max_bytes=max_bytes)
        return _parse(stream, name, available=size, compressed=None, max_bytes=max_bytes)
    except (EOFError, zlib.error, _gzip.BadGzipFile) as exc:
        raise DataError(f"{name}: damaged gzip stream ({exc})") from exc


def write_idx(path: str | os.PathLike, array: np.ndarray, gzip: bool = False) -> Path:
    """Write ``array`` as an IDX file.

    Parameters
    ----------
    path : str or PathLike
        Destination; the name is used as given (add ``.gz`` yourself if wanted).
    array : ndarray
        uint8, int8, int16, int32, float32 or float64 with 1 to 8 dimensions
        (:data:`~trainlab.data.limits.MAX_NDIM`; the format allows 255, no reader needs them).
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
    data = memoryview(_big_endian(array).reshape(-1).view(np.uint8))
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
