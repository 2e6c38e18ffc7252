"""Read an ``.npz`` file (a zip of ``.npy`` entries) checking every size before allocating.

:func:`numpy.load` trusts each ``.npy`` header: a few bytes that declare a
shape of terabytes make it try to allocate terabytes. :func:`read_npz` reads
with :class:`trainlab.npzread.NpzReader`, the reader checkpoints use too,
under the data limits below and raising :class:`~trainlab.errors.DataError`:
it parses each header itself (evaluating only literals), admits only plain
dtypes, computes the declared size with Python integers, and checks it
against the limit and against the entry's size in the zip directory before
allocating the array and reading into it. Pickled (object) arrays are never
loaded.
"""

from __future__ import annotations

import os

import numpy as np

from trainlab.data.limits import DEFLATE_MAX_RATIO, DEFLATE_SLACK, MAX_ARRAY_BYTES, MAX_NDIM
from trainlab.errors import DataError
from trainlab.npzread import NpzLimits, NpzReader

#: Most entries an ``.npz`` file may hold.
MAX_NPZ_ENTRIES = 64

#: Most bytes all entries of one file may declare together (uncompressed).
MAX_NPZ_BYTES = 2 * MAX_ARRAY_BYTES

#: Longest ``.npy`` header read (NumPy's own default).
MAX_HEADER_BYTES = 10000

#: Dtype kinds admitted by default: booleans, integers, floats, complex, text.
PLAIN_KINDS = "biufcSU"


def npz_limits(max_bytes: int = MAX_ARRAY_BYTES) -> NpzLimits:
    """The limits a data ``.npz`` file is read under, from this module's constants as they are now.

    ``max_bytes`` is the largest array; a deflated entry may inflate as far as
    deflate can (:data:`~trainlab.data.limits.DEFLATE_MAX_RATIO`).
    """
    return NpzLimits(array_bytes=max_bytes, total_bytes=MAX_NPZ_BYTES, entries=MAX_NPZ_ENTRIES, ndim=MAX_NDIM,
                     header_bytes=MAX_HEADER_BYTES, inflate_ratio=DEFLATE_MAX_RATIO, inflate_slack=DEFLATE_SLACK)


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
    with NpzReader(path, error=DataError, what=what, kind="an .npz file", kinds=kinds,
                   limits=npz_limits(max_bytes)) as archive:
        return {name: archive.read(name) for name in archive.names}
