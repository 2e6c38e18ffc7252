import json

import numpy as np
import pytest

from trainlab import cli
from trainlab.checkpoint import load_checkpoint


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for command in ("train", "data", "list"):
        assert command in out


def test_list(capsys):
    assert cli.main(["list", "optimizers"]) == 0
    out = capsys.readouterr().out
    for name in ("sgd", "momentum", "adam", "adamw", "nadam", "ftrl", "adadelta"):
        assert name in out


def test_bad_arguments_fail_clearly(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--epochs", "zero"])
    assert "expected a positive integer" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["train", "--dropout", "1.5"])
    assert "expected a number in [0, 1)" in capsys.readouterr().err


def test_train_on_a_small_dataset(tmp_path, monkeypatch, capsys):
    """End to end on in-memory data: trains, prints the accuracy, saves model and metrics."""
    from trainlab import data as data_module

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((3, 12)) * 3

    def fake_load_dataset(name, **kw):
        def split(n, seed):
            r = np.random.default_rng(seed)
            t = r.integers(0, 3, n)
            return (centres[t] + r.standard_normal((n, 12))).astype(np.float32), t

        x, t = split(300, 1)
        xt, tt = split(100, 2)
        empty = np.zeros((0, 12), np.float32)
        return type("D", (), dict(x_train=x, t_train=t, x_val=empty, t_val=np.zeros(0, np.int64),
                                  x_test=xt, t_test=tt))()

    monkeypatch.setattr(data_module, "load_dataset", fake_load_dataset)
    out = tmp_path / "run"
    code = cli.main(["train", "--hidden", "16", "--epochs", "3", "--batch-size", "32", "--lr", "0.01",
                     "--no-progress", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "test accuracy:" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_acc"] > 0.9
    assert metrics["config"]["seed"] == 0 and metrics["config"]["optimizer"] == "adam"
    model, meta = load_checkpoint(out / "model.npz")
    assert meta["test_acc"] == metrics["test_acc"]


def test_unknown_optimizer_is_a_clean_error(tmp_path, monkeypatch, capsys):
    from trainlab import data as data_module

    def fake_load_dataset(name, **kw):
        x = np.zeros((10, 4), np.float32)
        t = np.arange(10) % 2
        return type("D", (), dict(x_train=x, t_train=t, x_val=x[:0], t_val=t[:0], x_test=x, t_test=t))()

    monkeypatch.setattr(data_module, "load_dataset", fake_load_dataset)
    assert cli.main(["train", "--optimizer", "adamm", "--out", str(tmp_path), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "unknown optimizer 'adamm'" in err and "adam" in err


@pytest.mark.parametrize("name", ["cosine", "step", "exponential", "warmup-cosine"])
def test_run_schedules_span_the_run(name):
    schedule = cli.schedule_for_run(name, 0.1, steps_per_epoch=10, epochs=4)
    lrs = [schedule(t) for t in range(40)]
    assert max(lrs) == pytest.approx(0.1, rel=0.05)
    assert lrs[-1] < 0.1 * 0.05  # decayed by the end of the run
    assert all(lr >= 0 for lr in lrs)


def test_train_a_cnn_with_augmentation(tmp_path, monkeypatch, capsys):
    from trainlab import data as data_module

    def fake_load_dataset(name, *, flatten, **kw):
        assert not flatten  # CNNs get images
        r = np.random.default_rng(0)
        t = np.arange(60) % 2
        x = r.random((60, 1, 28, 28), dtype=np.float32) * 0.1
        x[t == 1, :, 8:20, 8:20] += 0.8  # class 1: a bright square in the middle
        return type("D", (), dict(x_train=x[:40], t_train=t[:40], x_val=x[:0], t_val=t[:0],
                                  x_test=x[40:], t_test=t[40:]))()

    monkeypatch.setattr(data_module, "load_dataset", fake_load_dataset)
    out = tmp_path / "cnn"
    code = cli.main(["train", "--model", "simple-convnet", "--epochs", "2", "--batch-size", "10", "--augment",
                     "shift:1", "--no-progress", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "SimpleConvNet" in printed and "multiply-adds per image" in printed and "augment shift:1" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["model"] == "simple-convnet" and metrics["config"]["batch_size"] == 10
    model, meta = load_checkpoint(out / "model.npz")
    assert type(model).__name__ == "SimpleConvNet" and meta["test_acc"] == metrics["test_acc"]


def test_mlp_only_options_are_refused_for_a_cnn(tmp_path, capsys):
    assert cli.main(["train", "--model", "resnet", "--hidden", "50", "--out", str(tmp_path), "--no-progress"]) == 1
    assert "--hidden applies to --model mlp only" in capsys.readouterr().err
