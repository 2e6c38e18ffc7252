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


def _small_dataset(name, **kw):
    rng = np.random.default_rng(0)
    t = np.arange(90) % 3
    x = (np.eye(3, 12)[t] * 4 + rng.standard_normal((90, 12))).astype(np.float32)
    return type("D", (), dict(x_train=x[:60], t_train=t[:60], x_val=x[:0], t_val=t[:0],
                              x_test=x[60:], t_test=t[60:]))()


def test_one_weight_decay_option_for_every_model_and_training_inside_runtime(tmp_path, monkeypatch):
    """--l2-penalty (old name --weight-decay) is the Trainer's l2_penalty; fit runs in runtime(keep_freed_memory)."""
    from contextlib import contextmanager

    from trainlab import data as data_module
    from trainlab import process, training

    monkeypatch.setattr(data_module, "load_dataset", _small_dataset)
    inside: list[dict] = []
    seen = []

    @contextmanager
    def recording_runtime(*args, **kwargs):
        inside.append(kwargs)
        try:
            yield
        finally:
            inside.pop()

    class Recording(training.Trainer):
        def __init__(self, *args, **kwargs):
            seen.append(kwargs["l2_penalty"])
            super().__init__(*args, **kwargs)

        def fit(self, x, t):
            assert inside == [{"keep_freed_memory": True}]
            return super().fit(x, t)

    monkeypatch.setattr(process, "runtime", recording_runtime)
    monkeypatch.setattr(training, "Trainer", Recording)
    for flag in ("--l2-penalty", "--weight-decay"):
        out = tmp_path / flag.strip("-")
        assert cli.main(["train", "--hidden", "8", "--epochs", "1", flag, "0.01", "--no-progress",
                         "--out", str(out)]) == 0
        config = json.loads((out / "metrics.json").read_text())["config"]
        assert config["l2_penalty"] == 0.01 and "weight_decay" not in config
        model, _ = load_checkpoint(out / "model.npz")
        assert "weight_decay" not in model.get_config()
    assert seen == [0.01, 0.01] and inside == []


def test_l2_penalty_must_not_be_negative(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--l2-penalty", "-0.1"])
    assert "expected a number >= 0, got '-0.1'" in capsys.readouterr().err


def test_list_optimizers_shows_the_declared_defaults(capsys):
    assert cli.main(["list", "optimizers"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "AdamW(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01," in lines["adamw"]
    assert "SGD(lr=0.001, momentum=0.9, dampening=0.0" in lines["sgd-momentum"]
    assert "eps_mode='hat'" in lines["adam-keras"]


def _imported_modules(path, module: str, package: str) -> set[str]:
    """Every module an ``import`` statement in the file names, those inside functions included."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = module if path.name == "__init__.py" else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            source = node.module if node.level == 0 else ".".join(p for p in (base, node.module) if p)
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)  # kept if it names a module
    return {name for name in found if name == package or name.startswith(package + ".")}


def test_no_import_cycle_through_the_command_modules():
    """An AST walk over every import of the package (function-level ones too) finds no cycle through the CLI."""
    from pathlib import Path

    import trainlab

    root = Path(trainlab.__file__).parent
    modules = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph = {name: {m for m in _imported_modules(path, name, "trainlab") if m in modules}
             for name, path in modules.items()}
    for name in graph:  # importing a.b.c runs a and a.b first
        graph[name] |= {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}

    def reachable(start: str) -> set[str]:
        seen, todo = set(), list(graph[start])
        while todo:
            m = todo.pop()
            if m not in seen:
                seen.add(m)
                todo.extend(graph[m])
        return seen

    for name in ("trainlab.cli", "trainlab.search.cli", "trainlab.cliargs", "trainlab.data.cli"):
        assert name not in reachable(name), f"{name} imports itself through {sorted(reachable(name))}"
