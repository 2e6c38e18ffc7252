"""Atomic file writes: a crash mid-write never damages the file already there.

The data goes to a temporary file in the target's folder, is flushed to
disk, and is renamed over the target in one step (``os.replace``).

The temporary file is named ``.<name>.tmp-<pid>-<host>-<random>`` (``host``: 8 hex
digits of this machine's name), so a save killed before its rename (power cut,
SIGKILL) leaves a file that can be recognised: :func:`remove_stale_temporaries`
removes those of one target whose process is gone (checked only for temporaries
of this machine) or that were not modified for :data:`STALE_AFTER_S` seconds, and
also the ``.<name>.<random>.tmp`` files of earlier releases once they are that
old. :func:`atomic_write` calls it before every write.

When ``path`` is a symbolic link, the rename replaces the link itself with the new
file: nothing is ever written through the link into another folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import stat
import tempfile
import time
from pathlib import Path
from typing import BinaryIO, Callable

#: A temporary file not modified for this long belongs to no running save.
STALE_AFTER_S = 15 * 60


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable on POSIX; not possible (nor needed) on Windows.
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def temporary_prefix(path: str | os.PathLike) -> str:
    """The start of the name of :func:`atomic_write`'s temporary file for ``path``, in this process."""
    return f".{Path(path).name}.tmp-{os.getpid()}-{_host_tag()}-"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid() or os.name != "posix":
        return True  # on Windows os.kill would end the process: there age alone decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OverflowError, ValueError):
        return False  # not a pid this system can have
    except OSError:
        return True  # exists, but belongs to another user
    return True


def remove_stale_temporaries(path: str | os.PathLike, *, now: float | None = None) -> list[Path]:
    """Remove the temporary files of interrupted writes of ``path``; returns those removed.

    Only regular files whose name marks them as a temporary of ``path`` (see the module
    docstring) are considered, never links or folders; errors are ignored.
    """
    path = Path(path)
    now = time.time() if now is None else now
    name = re.escape(path.name)
    pattern = re.compile(rf"\.{name}\.tmp-(?P<pid>\d{{1,10}})-(?P<host>[0-9a-f]{{8}})-[A-Za-z0-9_]+\Z"
                         rf"|\.{name}\.[a-z0-9_]{{8}}\.tmp\Z")
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    host = _host_tag()
    for entry in entries:
        match = pattern.match(entry.name)
        if match is None:
            continue
        with contextlib.suppress(OSError):
            st = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode):
                continue
            stale = now - st.st_mtime > STALE_AFTER_S
            if not stale and match["pid"] is not None and match["host"] == host:
                stale = not _pid_alive(int(match["pid"]))
            if stale:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Create or replace ``path`` with what ``write(file)`` writes, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(path), dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            # mkstemp makes the file private (0600); give it the permissions of any new file.
            mode = 0o666 & ~_umask()
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
            else:
                os.chmod(tmp, mode)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Create or replace a UTF-8 text file atomically."""
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))
