"""The on-disk cache of fetched datasets: one verified ``.npz`` per dataset.

A cache file holds the four uint8 arrays of a dataset and a ``__meta__``
entry (a JSON string) with the SHA-256 of each array, the source it came from
and when. Reading recomputes every hash, so a truncated, damaged or edited
file is reported as damaged and never returned. Writing goes to a temporary
file in the same folder, is flushed to disk, then renamed over the old file:
a crash leaves either the old file or the new one, never half of one.
Arrays are read by :func:`trainlab.data.npz.read_npz` (the reader of
:mod:`trainlab.npzread` under the data limits), which checks each ``.npy``
header's size before allocating and never unpickles anything: no code can run
from a cache file, and a header that declares terabytes is refused.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Mapping

import numpy as np

from trainlab.data.idx import idx_sha256
from trainlab.data.limits import MAX_NDIM
from trainlab.data.npz import read_npz
from trainlab.errors import DataError
from trainlab.fileio import atomic_write

CACHE_FORMAT = 1
_META_KEY = "__meta__"

#: Largest metadata entry read (the JSON text, as stored in UCS-4).
MAX_META_BYTES = 1 << 20


def default_cache_dir() -> Path:
    """The cache folder: ``$TRAINLAB_DATA``, else ``$XDG_CACHE_HOME/trainlab``, else ``~/.cache/trainlab``."""
    env = os.environ.get("TRAINLAB_DATA")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "trainlab"


def cache_dir_or_default(cache_dir: str | os.PathLike | None) -> Path:
    """``cache_dir`` as a Path, or :func:`default_cache_dir` when None."""
    return default_cache_dir() if cache_dir is None else Path(cache_dir).expanduser()


def cache_path(name: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where dataset ``name`` (a canonical registry name) is cached."""
    return cache_dir_or_default(cache_dir) / f"{name}.npz"


def write_cache(path: str | os.PathLike, arrays: Mapping[str, np.ndarray], *, dataset: str,
                source: str, sha256: Mapping[str, str] | None = None) -> Path:
    """Write arrays and their checksums atomically.

    Parameters
    ----------
    path : str or PathLike
        The ``.npz`` file to create or replace.
    arrays : mapping of str to ndarray
        The arrays (uint8 images (N, 28, 28), uint8 labels (N,) for the known sets).
    dataset, source : str
        Recorded in the metadata.
    sha256 : mapping, optional
        Already computed :func:`idx_sha256` of each array (recomputed if omitted).

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    hashes = dict(sha256) if sha256 is not None else {k: idx_sha256(a) for k, a in arrays.items()}
    meta = {
        "format": CACHE_FORMAT,
        "dataset": dataset,
        "source": source,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sha256": {k: hashes[k] for k in arrays},
        "shapes": {k: list(a.shape) for k, a in arrays.items()},
    }
    return atomic_write(path, lambda f: np.savez_compressed(f, **{_META_KEY: np.array(json.dumps(meta))}, **arrays))


def read_cache(path: str | os.PathLike, expected: Mapping[str, str] | None = None,
               ) -> tuple[dict[str, np.ndarray], dict]:
    """Read and verify a cache file.

    Parameters
    ----------
    path : str or PathLike
        The ``.npz`` file.
    expected : mapping, optional
        Pinned SHA-256 per array; when given, the file must hold exactly these
        arrays with exactly these hashes.

    Returns
    -------
    arrays : dict of str to ndarray
    meta : dict
        The stored metadata.

    Raises
    ------
    FileNotFoundError
        When there is no such file.
    DataError
        When the file is damaged, declares arrays larger than it holds or than
        the limit, holds anything but uint8 arrays and its metadata, its
        metadata is not the JSON object trainlab writes, or any checksum
        differs; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no cache file {path}")
    content = read_npz(path, what="cache file")
    meta = _read_meta(path, content.pop(_META_KEY, None))
    arrays = content
    stored = meta["sha256"]
    wanted = dict(expected) if expected is not None else stored
    if set(arrays) != set(wanted):
        raise DataError(f"cache file {path} holds {sorted(arrays)}, expected {sorted(wanted)}")
    for key, array in arrays.items():
        if array.dtype != np.uint8 or not 1 <= array.ndim <= MAX_NDIM:
            raise DataError(f"cache file {path}: {key} is {array.dtype} of shape {array.shape}; "
                            f"the cache holds uint8 arrays of 1 to {MAX_NDIM} dimensions")
        digest = idx_sha256(array)
        if digest != stored.get(key) or digest != wanted[key]:
            raise DataError(f"cache file {path}: {key} has SHA-256 {digest}, expected {wanted[key]}")
    return arrays, meta


def _read_meta(path: Path, entry: np.ndarray | None) -> dict:
    """The checked metadata: a JSON object with the format number and a str -> str ``sha256`` map."""
    if entry is None:
        raise DataError(f"cache file {path} is damaged (it has no {_META_KEY} entry)")
    if entry.shape != () or entry.dtype.kind != "U" or entry.nbytes > MAX_META_BYTES:
        raise DataError(f"cache file {path}: {_META_KEY} is {entry.dtype} of shape {entry.shape}, "
                        f"expected one string of at most {MAX_META_BYTES} bytes")
    if entry.size and int(np.ascontiguousarray(entry).reshape(1).view(np.uint32).max()) > 0x10FFFF:
        # NumPy's UCS-4 strings can hold values that are no Unicode code point; Python's
        # string functions then fail in ways of their own (SystemError).
        raise DataError(f"cache file {path} is damaged ({_META_KEY} holds values that are no Unicode code point)")
    try:
        meta = json.loads(str(entry[()]))
    except (ValueError, RecursionError) as exc:
        raise DataError(f"cache file {path} is damaged ({_META_KEY} is not JSON: {type(exc).__name__})") from exc
    if not isinstance(meta, dict) or meta.get("format") != CACHE_FORMAT:
        raise DataError(f"cache file {path} has an unknown format")
    hashes = meta.get("sha256")
    if not (isinstance(hashes, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in hashes.items())):
        raise DataError(f"cache file {path}: its metadata has no sha256 table of names to hex digests")
    for field in ("source", "created", "dataset"):
        if not isinstance(meta.get(field, ""), str):
            raise DataError(f"cache file {path}: metadata field {field!r} is not a string")
    return meta


def describe_cache(path: str | os.PathLike, expected: Mapping[str, str] | None = None) -> dict:
    """Status of one cache file for ``trainlab data info``.

    Returns
    -------
    dict
        ``path``, ``exists``, ``bytes``, ``ok`` (checksums verified), ``problem``
        (why not) and ``source``/``created`` from the metadata when readable.
    """
    path = Path(path)
    status = {"path": str(path), "exists": path.is_file(), "bytes": 0, "ok": False,
              "problem": "", "source": "", "created": ""}
    if not status["exists"]:
        status["problem"] = "not fetched"
        return status
    status["bytes"] = path.stat().st_size
    try:
        _, meta = read_cache(path, expected)
    except DataError as exc:
        status["problem"] = str(exc)
        return status
    status.update(ok=True, source=meta.get("source", ""), created=meta.get("created", ""))
    return status
