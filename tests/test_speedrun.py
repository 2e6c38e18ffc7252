"""The speedrun: recipes, the timed run and its record, the ablation's variants, the command line."""

import json

import numpy as np
import pytest

from trainlab import cli, speedrun
from trainlab.data import make_tiny_images
from trainlab.errors import ConfigError, TrainlabError
from trainlab.layers import BatchNorm2d, Conv2d
from trainlab.optim import SGD, Adam
from trainlab.speedrun import Recipe, ablation_variants, build_model, run_recipe
from trainlab.training import Callback

TINY = Recipe("tiny", "synthetic", 0.5, 5.0, stem=4, stages=((6,),), lr=5e-3, epochs=2, batch_size=32,
              weight_decay=1e-4, augment="shift:1", dropout=0.1, tta_hflip=True, label_smoothing=0.1)


class Splits:
    """A DataSplits-like holder whose test arrays record when they are read."""

    def __init__(self, n_train=256, n_test=64, log=None):
        x, t = make_tiny_images(n_train + n_test, n_classes=10, size=28, noise=0.25, seed=0)
        self.x_train, self.t_train = x[:n_train].reshape(-1, 1, 28, 28), t[:n_train]
        self.x_val, self.t_val = self.x_train[:0], self.t_train[:0]
        self._x_test, self._t_test = x[n_train:].reshape(-1, 1, 28, 28), t[n_train:]
        self.log = [] if log is None else log
        self.name, self.classes = "synthetic", ()

    @property
    def x_test(self):
        self.log.append("x_test")
        return self._x_test

    @property
    def t_test(self):
        self.log.append("t_test")
        return self._t_test


class StepLog(Callback):
    def __init__(self, log):
        self.log = log

    def on_step_end(self, trainer, step, loss):
        self.log.append("step")


def test_every_recipe_builds_its_network_for_28x28_images():
    for recipe in speedrun.RECIPES.values():
        model = build_model(recipe, 0)
        out = model.forward(np.zeros((2, 1, 28, 28), np.float32), train=False)
        assert out.shape == (2, 10) and out.dtype == np.float32
        assert speedrun.recipe_for(recipe.dataset, recipe.target) is recipe


def test_recipe_for_picks_the_lowest_target_and_rejects_unknown_ones():
    assert speedrun.recipe_for("mnist").target == min(t for d, t in speedrun.RECIPES if d == "mnist")
    assert speedrun.recipe_for("fmnist").dataset == "fashion-mnist"
    with pytest.raises(ConfigError, match="no mnist recipe aims at 0.97"):
        speedrun.recipe_for("mnist", 0.97)
    with pytest.raises(ConfigError, match="no recipe for dataset 'cifar'"):
        speedrun.recipe_for("cifar")


@pytest.mark.parametrize("changes, message", [
    ({"stages": ()}, "stages must be"), ({"stages": ((8,), (8,), (8,))}, "at most 2 stages"),
    ({"optimizer": "lbfgs"}, "optimizer='lbfgs' is not valid"), ({"lr": 0.0}, "lr=0.0 is out of range"),
    ({"schedule": "linear"}, "schedule='linear'"), ({"batch_size": 0}, "batch_size=0"),
    ({"dataset": "cifar"}, "dataset='cifar'"), ({"augment": "spin:3"}, "spin"),
    ({"label_smoothing": 1.0}, "label_smoothing=1.0"), ({"label_smoothing": -0.1}, "label_smoothing"),
])
def test_bad_recipes_are_config_errors(changes, message):
    with pytest.raises(TrainlabError, match=message):
        TINY.replace(**changes)


def test_the_run_record_and_the_test_set_read_only_after_training():
    log = []
    record = run_recipe(TINY, 0, data=Splits(log=log), callbacks=[StepLog(log)])
    assert log.count("step") == record["steps"] == record["planned_steps"] == 16  # 2 epochs of 8 batches
    first_test = log.index("x_test")
    assert "step" not in log[first_test:], "the test set was read before training ended"
    assert record["scored_on"] == "test" and 0.0 <= record["test_acc"] <= 1.0
    assert record["epochs"] == pytest.approx(2.0) and not record["stopped_at_budget"]
    assert record["seconds"] >= record["train_seconds"] > 0
    assert len(record["load_average"]) == 2
    assert record["parameters"] == build_model(TINY, 0).num_parameters()


def test_a_validation_run_never_reads_the_test_set(monkeypatch):
    log = []
    data = Splits(log=log)
    data.x_val, data.t_val = data.x_train[:64], data.t_train[:64]
    monkeypatch.setattr(speedrun.run, "load_data", lambda dataset, validation: data)
    record = run_recipe(TINY, 0, validation=64)
    assert record["scored_on"] == "val" and "val_acc" in record and "test_acc" not in record
    assert log == []


def test_the_same_seed_gives_the_same_accuracy_and_another_seed_other_weights():
    a = run_recipe(TINY, 3, data=Splits())
    b = run_recipe(TINY, 3, data=Splits())
    assert a["test_acc"] == b["test_acc"]
    w0 = build_model(TINY, 0).parameters()[0].data
    assert not np.array_equal(w0, build_model(TINY, 1).parameters()[0].data)


def test_the_budget_stops_training_and_the_run_is_still_scored():
    record = run_recipe(TINY.replace(epochs=50), 0, budget=0.05, data=Splits())
    assert record["stopped_at_budget"] and record["steps"] < record["planned_steps"]
    assert "test_acc" in record


def test_the_recipes_label_smoothing_is_the_training_loss():
    class Seen(Callback):
        def on_train_begin(self, trainer):
            self.loss = trainer.loss_fn

    seen = Seen()
    run_recipe(TINY.replace(epochs=0.1), 0, data=Splits(), callbacks=[seen])
    assert seen.loss.label_smoothing == 0.1
    assert "label smoothing 0.1" in TINY.describe() and "label smoothing" not in TINY.replace(label_smoothing=0).describe()


def test_run_recipe_rejects_bad_arguments():
    with pytest.raises(ConfigError, match="budget"):
        run_recipe(TINY, 0, budget=0, data=Splits())
    with pytest.raises(ConfigError, match="seed"):
        run_recipe(TINY, -1, data=Splits())
    with pytest.raises(ConfigError, match="not both"):
        run_recipe(TINY, 0, validation=10, data=Splits())


def test_each_ablation_variant_changes_what_it_says_and_nothing_else():
    variants = ablation_variants(TINY)
    assert list(variants) == ["recipe", "no-batchnorm", "init-0.01", "plain-sgd", "constant-lr", "no-augmentation",
                              "no-weight-decay", "no-dropout", "no-label-smoothing", "no-tta"]
    expected = {"no-batchnorm": {"batchnorm": False}, "init-0.01": {"init": 0.01},
                "plain-sgd": {"optimizer": "sgd", "momentum": 0.0, "lr": TINY.sgd_lr},
                "constant-lr": {"schedule": "constant"}, "no-augmentation": {"augment": ""},
                "no-weight-decay": {"weight_decay": 0.0}, "no-dropout": {"dropout": 0.0}, "no-tta": {"tta_hflip": False},
                "no-label-smoothing": {"label_smoothing": 0.0}}
    base = TINY.to_dict()
    for name, (_, recipe) in variants.items():
        diff = {k: v for k, v in recipe.to_dict().items() if base[k] != v}
        assert diff == {k: v for k, v in expected.get(name, {}).items() if base[k] != v}, name


def test_the_variants_build_what_they_claim():
    v = {name: recipe for name, (_, recipe) in ablation_variants(TINY).items()}
    layers = lambda r: list(build_model(r, 0).modules())  # noqa: E731
    assert any(isinstance(m, BatchNorm2d) for m in layers(v["recipe"]))
    assert not any(isinstance(m, BatchNorm2d) for m in layers(v["no-batchnorm"]))
    conv = next(m for m in layers(v["init-0.01"]) if isinstance(m, Conv2d))
    assert conv.weight.data.std() == pytest.approx(0.01, rel=0.3)
    he = next(m for m in layers(v["recipe"]) if isinstance(m, Conv2d))
    assert he.weight.data.std() == pytest.approx(np.sqrt(2 / 16), rel=0.3)  # He: fan_in 1*4*4
    model = build_model(v["plain-sgd"], 0)
    opt = speedrun.make_optimizer(v["plain-sgd"], model, 100)
    assert isinstance(opt, SGD) and opt.config.momentum == 0
    opt = speedrun.make_optimizer(TINY, build_model(TINY, 0), 100)
    assert isinstance(opt, Adam) and opt.config.weight_decay == TINY.weight_decay
    sched = speedrun.learning_rate(TINY, 1.0, 100)
    assert sched(0) == 0.0 and sched(10) == pytest.approx(1.0) and sched(99) < 0.01
    assert speedrun.learning_rate(v["constant-lr"], 1.0, 100) == 1.0
    assert speedrun.make_augmentation(v["no-augmentation"]) is None
    assert speedrun.make_augmentation(TINY) is not None


def test_run_speedrun_and_ablation_summaries(monkeypatch):
    monkeypatch.setattr(speedrun.run, "load_data", lambda dataset, validation: Splits())
    record = speedrun.run_speedrun("synthetic", seeds=2, recipe=TINY)
    s = record["summary"]
    assert s["n"] == 2 and s["acc_min"] <= s["acc_mean"] <= s["acc_max"]
    assert s["seconds_median"] == pytest.approx(np.median([r["seconds"] for r in record["runs"]]))
    assert set(record["met"]) == {"accuracy", "time"} and record["machine"]["cores"] >= 1
    assert "test accuracy: mean" in speedrun.format_speedrun(record)
    small = TINY.replace(augment="", dropout=0.0, tta_hflip=False, weight_decay=0.0, label_smoothing=0.0)
    ablation = speedrun.run_ablation("synthetic", seeds=1, recipe=small, budget=2.0, data=Splits())
    assert list(ablation["variants"]) == ["recipe", "no-batchnorm", "init-0.01", "plain-sgd", "constant-lr"]
    full = ablation["variants"]["recipe"]["acc_mean"]
    for name, worth in ablation["worth_points"].items():
        assert worth == pytest.approx(100 * (full - ablation["variants"][name]["acc_mean"]))
    assert "worth" in speedrun.format_ablation(ablation)


# ---- the command line -----------------------------------------------------------------


def test_cli_argument_errors(capsys):
    with pytest.raises(SystemExit):
        cli.main(["speedrun", "cifar"])
    assert "invalid choice: 'cifar'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["speedrun", "mnist", "--seeds", "0"])
    assert "expected a positive integer" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["speedrun", "mnist", "--target", "99"])
    assert "expected a number in [0, 1)" in capsys.readouterr().err
    assert cli.main(["speedrun", "mnist", "--target", "0.97"]) == 1
    assert "no mnist recipe aims at 0.97" in capsys.readouterr().err


@pytest.mark.parametrize("ablate", [False, True])
def test_cli_runs_a_tiny_recipe_and_writes_its_record(tmp_path, monkeypatch, capsys, ablate):
    monkeypatch.setitem(speedrun.RECIPES, ("mnist", 0.5), TINY.replace(dataset="mnist", target=0.5))
    monkeypatch.setattr(speedrun.run, "load_data", lambda dataset, validation: Splits())
    out = tmp_path / "record.json"
    args = ["speedrun", "mnist", "--target", "0.5", "--seeds", "2", "--out", str(out)]
    assert cli.main(args + (["--ablate", "--budget", "1"] if ablate else [])) == 0
    printed = capsys.readouterr().out
    record = json.loads(out.read_text())
    if ablate:
        assert record["kind"] == "ablation" and record["budget"] == 1.0 and "no-batchnorm" in record["variants"]
        assert "worth" in printed
    else:
        assert record["kind"] == "speedrun" and len(record["runs"]) == 2
        for text in ("wall time: median", "test accuracy: mean", "machine:", "epochs"):
            assert text in printed
