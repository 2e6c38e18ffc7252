"""Temporary files of interrupted saves are removed later; save never writes through a symbolic link."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from trainlab import fileio
from trainlab.checkpoint import load, save
from trainlab.errors import CheckpointError
from trainlab.fileio import atomic_write, remove_stale_temporaries, temporary_prefix
from trainlab.layers import Linear, Sequential

posix_only = pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals and symbolic links")


def _net(seed=0):
    return Sequential(Linear(3, 2, rng=np.random.default_rng(seed)))


def _dead_pid():
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def _age(path, seconds):
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_temporary_names_mark_their_target_and_process(tmp_path):
    seen = []
    atomic_write(tmp_path / "m.npz", lambda f: seen.extend(os.listdir(tmp_path)))
    assert len(seen) == 1 and seen[0].startswith(temporary_prefix(tmp_path / "m.npz"))
    assert seen[0].startswith(f".m.npz.tmp-{os.getpid()}-")


@posix_only
def test_save_killed_mid_write_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    target = tmp_path / "m.npz"
    code = ("import os, signal, sys\n"
            "import numpy as np\n"
            "from trainlab import checkpoint\n"
            "from trainlab.layers import Linear, Sequential\n"
            "def dying(f, **arrays):\n"
            "    f.write(b'x' * 100000); f.flush(); os.kill(os.getpid(), signal.SIGKILL)\n"
            "checkpoint.np.savez = dying\n"
            "checkpoint.save(Sequential(Linear(3, 2)), sys.argv[1])\n")
    proc = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".m.npz.tmp-")]
    assert len(left) == 1 and left[0].stat().st_size == 100000 and not target.exists()
    save(_net(), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_load_removes_stale_temporaries_too(tmp_path):
    path = save(_net(), tmp_path / "m.npz")
    stale = tmp_path / f".m.npz.tmp-{_dead_pid()}-{fileio._host_tag()}-abcd1234"
    stale.write_bytes(b"partial")
    load(path)
    assert not stale.exists()
    stale.write_bytes(b"partial")
    with pytest.raises(CheckpointError):
        load(tmp_path / "m")  # no such checkpoint: the temporaries of m are looked at, not those of m.npz
    assert stale.exists()


def test_which_temporaries_are_stale(tmp_path):
    target = tmp_path / "m.npz"
    host = fileio._host_tag()
    live_young = tmp_path / f".m.npz.tmp-{os.getpid()}-{host}-live0001"
    live_old = tmp_path / f".m.npz.tmp-{os.getpid()}-{host}-live0002"
    dead = tmp_path / f".m.npz.tmp-{_dead_pid()}-{host}-dead0001"
    other_host_young = tmp_path / f".m.npz.tmp-{_dead_pid()}-0badc0de-away0001"
    other_host_old = tmp_path / f".m.npz.tmp-{_dead_pid()}-0badc0de-away0002"
    earlier_release_young = tmp_path / ".m.npz.abcd_123.tmp"
    earlier_release_old = tmp_path / ".m.npz.wxyz_789.tmp"
    unrelated = [tmp_path / ".other.npz.tmp-1-00000000-x", tmp_path / "m.npz.bak", tmp_path / ".m.npz.notes",
                 tmp_path / f".m.tmp-{_dead_pid()}-{host}-x"]
    for p in (live_young, live_old, dead, other_host_young, other_host_old, earlier_release_young,
              earlier_release_old, *unrelated):
        p.write_bytes(b"partial")
    for p in (live_old, other_host_old, earlier_release_old, *unrelated):
        _age(p, fileio.STALE_AFTER_S + 60)
    removed = remove_stale_temporaries(target)
    assert sorted(p.name for p in removed) == sorted(p.name for p in (live_old, dead, other_host_old,
                                                                       earlier_release_old))
    for p in (live_young, other_host_young, earlier_release_young, *unrelated):
        assert p.exists(), p.name


@posix_only
def test_a_link_named_like_a_temporary_is_left_alone(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    precious = outside / "precious"
    precious.write_bytes(b"keep")
    folder = tmp_path / "run"
    folder.mkdir()
    link = folder / f".m.npz.tmp-{_dead_pid()}-{fileio._host_tag()}-link0001"
    link.symlink_to(precious)
    folder_like_one = folder / f".m.npz.tmp-{_dead_pid()}-{fileio._host_tag()}-dir00001"
    folder_like_one.mkdir()
    save(_net(), folder / "m.npz")
    assert link.is_symlink() and precious.read_bytes() == b"keep"
    assert folder_like_one.is_dir()


@posix_only
def test_save_refuses_a_symbolic_link_target(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    real = save(_net(1), elsewhere / "real.npz")
    before = real.read_bytes()
    folder = tmp_path / "run"
    folder.mkdir()
    link = folder / "m.npz"
    link.symlink_to(real)
    with pytest.raises(CheckpointError, match="symbolic link"):
        save(_net(2), link)
    assert link.is_symlink() and real.read_bytes() == before
    assert sorted(os.listdir(folder)) == ["m.npz"] and sorted(os.listdir(elsewhere)) == ["real.npz"]
    np.testing.assert_array_equal(load(link)[0].weight.data, _net(1)[0].weight.data)  # reading follows it
    dangling = folder / "gone.npz"
    dangling.symlink_to(elsewhere / "missing.npz")
    with pytest.raises(CheckpointError, match="symbolic link"):
        save(_net(), dangling)
    assert not (elsewhere / "missing.npz").exists()


@posix_only
def test_atomic_write_replaces_a_link_instead_of_writing_through_it(tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    fileio.atomic_write_text(link, "new")
    assert not link.is_symlink() and link.read_text() == "new" and target.read_text() == "old"
