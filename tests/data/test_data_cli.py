"""The ``data`` command on a throw-away argparse parser."""

import argparse

import numpy as np
import pytest

from trainlab.data.cache import write_cache
from trainlab.data.cli import add_data_parser


def _parse(argv):
    parser = argparse.ArgumentParser(prog="trainlab")
    sub = parser.add_subparsers(dest="command", required=True)
    add_data_parser(sub)
    return parser.parse_args(argv)


def _run(argv):
    args = _parse(argv)
    return args.func(args)


def test_path_prints_the_cache_folder_and_files(tmp_path, capsys):
    assert _run(["data", "path", "--cache", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path)
    assert _run(["data", "path", "Fashion_MNIST", "--cache", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "fashion-mnist.npz")
    assert _run(["data", "path", "cifar", "--cache", str(tmp_path)]) == 1
    assert "unknown dataset" in capsys.readouterr().err


def test_path_uses_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TRAINLAB_DATA", str(tmp_path / "env"))
    assert _run(["data", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "env")


def test_info_on_empty_and_damaged_cache(tmp_path, capsys):
    assert _run(["data", "info", "--cache", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path) in out and "mnist" in out and "not fetched" in out
    (tmp_path / "mnist.npz").write_bytes(b"garbage")
    assert _run(["data", "info", "--cache", str(tmp_path)]) == 1
    assert "DAMAGED" in capsys.readouterr().out


def test_info_flags_a_cache_that_is_not_the_real_dataset(tmp_path, capsys):
    fake = {"x_train": np.zeros((60000, 28, 28), np.uint8), "t_train": np.zeros(60000, np.uint8),
            "x_test": np.zeros((10000, 28, 28), np.uint8), "t_test": np.zeros(10000, np.uint8)}
    write_cache(tmp_path / "mnist.npz", fake, dataset="mnist", source="test")
    assert _run(["data", "info", "--cache", str(tmp_path)]) == 1
    assert "SHA-256" in capsys.readouterr().out


def test_fetch_failure_explains_every_step(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TRAINLAB_NO_PIP", "1")
    monkeypatch.setenv("TRAINLAB_OFFLINE", "1")
    empty = tmp_path / "empty"
    empty.mkdir()
    code = _run(["data", "fetch", "mnist", "--from", str(empty), "--cache", str(tmp_path / "c")])
    assert code == 1
    err = capsys.readouterr().err
    assert "lacks train-images-idx3-ubyte" in err
    assert "TRAINLAB_NO_PIP" in err and "TRAINLAB_OFFLINE" in err
    assert "What you can do" in err
    assert not (tmp_path / "c" / "mnist.npz").exists()


def test_fetch_arguments_reach_fetch(monkeypatch, tmp_path, capsys):
    seen = {}

    def fake_fetch(name, from_dir=None, cache_dir=None, verbose=True, force=False):
        seen.update(name=name, from_dir=from_dir, cache_dir=cache_dir, verbose=verbose, force=force)
        return {"mnist": tmp_path / "mnist.npz", "fashion-mnist": tmp_path / "fashion-mnist.npz"}

    monkeypatch.setattr("trainlab.data.cli.fetch", fake_fetch)
    assert _run(["data", "fetch", "all", "--from", "D", "--cache", "C", "--force", "-q"]) == 0
    assert seen == {"name": "all", "from_dir": "D", "cache_dir": "C", "verbose": False, "force": True}
    assert capsys.readouterr().out.splitlines() == [f"mnist: {tmp_path / 'mnist.npz'}",
                                                    f"fashion-mnist: {tmp_path / 'fashion-mnist.npz'}"]


def test_fetch_rejects_unknown_names():
    with pytest.raises(SystemExit):
        _parse(["data", "fetch", "cifar-10"])
    with pytest.raises(SystemExit):
        _parse(["data"])
