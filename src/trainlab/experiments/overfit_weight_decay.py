"""Overfitting 300 MNIST images with a 7-layer net, and weight decay (lambda 0.1) against it.

The book's setup for sec. 6.4.1-6.4.2: the first 300 training images, a
784-100x6-10 ReLU net with He weights, SGD lr 0.01, batch 100, 201 epochs;
train and test accuracy after every epoch. Without regularisation the net
fits the training images perfectly while test accuracy stays far lower (the
gap is overfitting). The same net, with the same initial weights and the same
batch order, is trained again with the L2 penalty 0.5 * lambda * sum ||W||^2;
the claim is that the train-test gap shrinks.

Two details differ from the book's script: each epoch visits the 300 images
in a new random order (the book draws every batch with replacement), and
accuracy is recorded after each epoch's 3 updates (the book also records one
after the very first update).

This module also holds the machinery shared with the dropout experiment
(:mod:`trainlab.experiments.overfit_dropout`): the config fields, the paired
run and the claims.

Reference: Saito, *Deep Learning from Scratch*, sec. 6.4.1-6.4.2
(ch06/overfit_weight_decay.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainlab.errors import ConfigError
from trainlab.experiments.base import BookValue, Claim, ExperimentSpec, register
from trainlab.experiments.common import (
    load_subset, require_at_least, require_dataset, require_fraction, require_positive,
)
from trainlab.models.mlp import MultiLayerNet
from trainlab.optim import create_optimizer
from trainlab.training import Trainer


@dataclass(frozen=True)
class OverfitConfig:
    """Settings shared by the two overfitting experiments (the book's defaults)."""

    dataset: str = "mnist"
    n_train: int = 300
    #: The book evaluates on all 10,000 test images every epoch; so does the full run.
    n_test: int = 10000
    hidden_layers: int = 6
    hidden_size: int = 100
    lr: float = 0.01
    batch_size: int = 100
    epochs: int = 201
    #: The gap is averaged over this many final epochs (one epoch is only 3 updates, so single epochs are noisy).
    gap_window: int = 20
    #: The technique must cut the averaged gap by at least this much to count as shrinking it.
    min_gap_reduction: float = 0.02
    #: Without the technique the net must reach this train accuracy to count as overfitting ...
    overfit_train_acc: float = 0.98
    #: ... with test accuracy at least this far below it.
    overfit_gap: float = 0.1

    def __post_init__(self):
        require_dataset(self)
        require_at_least(self, 1, "n_train", "n_test", "hidden_layers", "hidden_size", "batch_size", "epochs",
                         "gap_window")
        if self.gap_window > self.epochs:
            raise ConfigError(f"gap_window ({self.gap_window}) cannot exceed epochs ({self.epochs})")
        require_positive(self, "lr")
        if self.min_gap_reduction < 0 or self.overfit_gap < 0:
            raise ConfigError("min_gap_reduction and overfit_gap must be >= 0")
        require_fraction(self, "overfit_train_acc")


@dataclass(frozen=True)
class Config(OverfitConfig):
    #: The book's weight_decay_lambda.
    weight_decay: float = 0.1

    def __post_init__(self):
        super().__post_init__()
        if not self.weight_decay > 0:
            raise ConfigError(f"weight_decay must be > 0 (it is the technique compared), got {self.weight_decay}")


def _summary(train_acc: list[float], test_acc: list[float], window: int) -> dict:
    tr, te = np.asarray(train_acc), np.asarray(test_acc)
    gap = tr - te
    return {"final_train_acc": float(tr[-1]), "final_test_acc": float(te[-1]), "final_gap": float(gap[-1]),
            "mean_train_acc": float(tr[-window:].mean()), "mean_test_acc": float(te[-window:].mean()),
            "mean_gap": float(gap[-window:].mean()), "best_test_acc": float(te.max())}


def build_net(config: OverfitConfig, init_seed: int, *, weight_decay: float = 0.0, dropout: float = 0.0,
              inverted_dropout: bool = True) -> MultiLayerNet:
    """The book's 7-layer ReLU net; ``inverted_dropout=False`` switches to the book's dropout form."""
    return MultiLayerNet(784, [config.hidden_size] * config.hidden_layers, 10, activation="relu",
                         weight_init="he", dropout=dropout, weight_decay=weight_decay, seed=init_seed,
                         inverted_dropout=inverted_dropout)


def run_overfit(config: OverfitConfig, seed: int, variants: dict[str, dict]) -> dict:
    """Train the net without a technique and once per entry of ``variants`` (label -> :func:`build_net` options).

    Every run starts from the same weights and sees the same batches, so the
    technique is the only difference between them. ``variants`` must hold "with".
    """
    data = load_subset(config.dataset, config.n_train, config.n_test, seed=seed)
    init_seed, order_seed = (int(s) for s in np.random.default_rng(seed).integers(0, 2**31, size=2))
    runs = {}
    for label, options in {"without": {}, **variants}.items():
        model = build_net(config, init_seed, **options)
        trainer = Trainer(model, create_optimizer("sgd", model.parameters(), lr=config.lr),
                          batch_size=config.batch_size, epochs=config.epochs, seed=order_seed,
                          eval_sets={"test": (data.x_test, data.t_test)}, progress=False)
        history = trainer.fit(data.x_train, data.t_train)
        train_acc = [round(a, 5) for a in history.series("train_acc")]
        test_acc = [round(a, 5) for a in history.series("test_acc")]
        runs[label] = {"options": options, "train_acc": train_acc, "test_acc": test_acc,
                       "train_loss": [round(v, 5) for v in history.series("train_loss")],
                       **_summary(train_acc, test_acc, config.gap_window)}
    return {"dataset": data.name, "n_train": len(data.t_train), "n_test": len(data.t_test),
            "epochs": list(range(1, config.epochs + 1)), "runs": runs}


def check_overfit(metrics: dict, config: OverfitConfig, name: str, note: str = "") -> list[Claim]:
    """The three claims of sec. 6.4 for technique ``name``, decided on the paired runs.

    ``note`` is appended to the evidence of the gap claim.
    """
    off, on = metrics["runs"]["without"], metrics["runs"]["with"]
    w = config.gap_window
    claims = [Claim(
        f"Without {name} the net overfits the {metrics['n_train']} training images: train accuracy "
        f">= {config.overfit_train_acc} while test accuracy lags by more than {config.overfit_gap}",
        off["mean_train_acc"] >= config.overfit_train_acc and off["mean_gap"] > config.overfit_gap,
        f"mean over the last {w} epochs: train {off['mean_train_acc']:.3f}, test {off['mean_test_acc']:.3f}, "
        f"gap {off['mean_gap']:.3f} (final epoch: train {off['final_train_acc']:.3f}, "
        f"test {off['final_test_acc']:.3f})")]
    reduction = off["mean_gap"] - on["mean_gap"]
    train_change = on["mean_train_acc"] - off["mean_train_acc"]
    test_change = on["mean_test_acc"] - off["mean_test_acc"]
    if reduction < config.min_gap_reduction:
        why = "the gap does not close by the margin"
    elif test_change > 0:
        why = "test accuracy rises as well"
    else:
        why = "the gap closes because train accuracy falls further than test accuracy, not because test accuracy rises"
    claims.append(Claim(
        f"{name.capitalize()} shrinks the train-test gap (mean over the last {w} epochs) by at least "
        f"{config.min_gap_reduction}",
        reduction >= config.min_gap_reduction,
        f"gap without {off['mean_gap']:.3f}, with {on['mean_gap']:.3f} (change {-reduction:+.3f}; "
        f"final epoch {off['final_gap']:.3f} -> {on['final_gap']:.3f}); train accuracy "
        f"{off['mean_train_acc']:.3f} -> {on['mean_train_acc']:.3f} ({train_change:+.3f}), test accuracy "
        f"{off['mean_test_acc']:.3f} -> {on['mean_test_acc']:.3f} ({test_change:+.3f}): {why}" + note))
    claims.append(Claim(
        f"With {name} the net no longer fits every training image (train accuracy stays below the "
        f"unregularised net's and below 1.0)",
        on["mean_train_acc"] < min(off["mean_train_acc"], 1.0),
        f"mean train accuracy over the last {w} epochs: without {off['mean_train_acc']:.3f}, "
        f"with {on['mean_train_acc']:.3f}"))
    return claims


def run(config: Config, seed: int = 0) -> dict:
    """Train and evaluate the 7-layer net without and with weight decay."""
    return run_overfit(config, seed, {"with": {"weight_decay": config.weight_decay}})


def check(metrics: dict, config: Config) -> list[Claim]:
    return check_overfit(metrics, config, "weight decay")


def book(metrics: dict, config: Config) -> list[BookValue]:
    off, on = metrics["runs"]["without"], metrics["runs"]["with"]
    fig = "approximate: the end of the curves in fig. {}"
    return [
        BookValue("final train accuracy without weight decay", 1.0, round(off["final_train_acc"], 4),
                  fig.format("6-20")),
        BookValue("final test accuracy without weight decay", 0.75, round(off["final_test_acc"], 4),
                  fig.format("6-20")),
        BookValue(f"final train accuracy with weight decay (lambda {config.weight_decay})", 0.927,
                  round(on["final_train_acc"], 4), fig.format("6-21")),
        BookValue(f"final test accuracy with weight decay (lambda {config.weight_decay})", 0.721,
                  round(on["final_test_acc"], 4),
                  fig.format("6-21") + "; note it is below the unregularised net's test accuracy, "
                  "so the book's gap also closes by train accuracy falling"),
    ]


def plot(metrics: dict, config: Config, out_dir):
    from trainlab.plots.overfit_weight_decay import plot_overfit

    return plot_overfit(metrics, config, out_dir, technique="weight decay",
                        setting=f"\u03bb = {config.weight_decay}",
                        name="overfit-weight-decay")


register(ExperimentSpec(
    name="overfit-weight-decay",
    title="Overfitting 300 MNIST images, and weight decay against it",
    summary="A 7-layer ReLU net trained on the first 300 MNIST images, with and without L2 weight decay "
            "(lambda 0.1): train and test accuracy every epoch, and the gap between them.",
    config_cls=Config, run=run, check=check, plot=plot, book=book,
    quick={"n_test": 1000, "epochs": 100},
))
