"""Batch normalisation against overfitting: 300 images, with and without BatchNorm and dropout.

The overfitting setup of overfit-weight-decay and overfit-dropout (the first
300 training images, a 784-100x6-10 ReLU net with He weights, SGD lr 0.01,
batch 100, 201 epochs; the paired run of
:mod:`trainlab.experiments.overfitting`) trained four ways from the same
initial weights and with the same batch order: with neither technique, with a
BatchNorm1d after every hidden Linear, with dropout (ratio 0.2) after every
hidden activation, and with both. Measured: train and test accuracy after
every epoch, and the train-test gap averaged over the last 20 epochs.

The claims are the seeds' statements that batch normalisation suppresses
overfitting (a smaller gap than without it) and lessens the need for dropout
(dropout adds less test accuracy to the BatchNorm net than to the plain
one). BatchNorm can also fit 300 images perfectly, so neither is assured.

Dropout is in the inverted form here (scaled by 1 / (1 - p) while training).
The book's form instead shrinks the signal by 1 - p at every dropout layer
while training, which the next BatchNorm undoes and a plain net does not: the
two nets' gains from dropout would then differ by that scaling as well as by
dropout's regularisation.

Reference: Ioffe & Szegedy, 2015 (sec. 3.4: BatchNorm regularises, dropout may
be reduced); Saito, *Deep Learning from Scratch*, sec. 6.3.1 and 6.4.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from trainlab.errors import ConfigError
from trainlab.experiments.base import BookValue, Claim, ClaimTable, ExperimentSpec, register
from trainlab.experiments.common import fmt
from trainlab.experiments.overfitting import OverfitConfig, run_overfit
from trainlab.plots.bn_overfitting import plot_bn_overfitting

NAME = "batchnorm-overfitting"

#: The claims ``check`` decides: key -> source (seed statements of the ledger, book sections, papers).
CLAIMS = ClaimTable(NAME, {
    "shrinks-gap": "seed 000 (S000-21), seed 001 (S001-14), seed 004 (S004-14); book 6.3.1",
    "lessens-dropout-need": "seed 000 (S000-21); book 6.3.1; Ioffe & Szegedy 2015, sec. 3.4",
})

#: The four runs, as :func:`run` labels them.
LABELS = ("without", "batchnorm", "dropout", "both")


@dataclass(frozen=True)
class Config(OverfitConfig):
    owner: ClassVar[str] = f"experiment {NAME}"

    #: Four runs of 201 epochs, each evaluated on the test images every epoch: 2000 of them keep a seed
    #: under a minute on one core (the book's 10,000 take four times as long).
    n_test: int = 2000
    #: Drop probability after each hidden activation, in the "dropout" and "both" runs.
    dropout: float = 0.2
    #: True: PyTorch's inverted form (see the module docstring); False: the book's form.
    inverted: bool = True

    def __post_init__(self):
        super().__post_init__()
        if not 0 < self.dropout < 1:
            raise ConfigError(f"{self.owner}: dropout must be in (0, 1), got {self.dropout}")


def run(config: Config, seed: int = 0) -> dict:
    """Train the 7-layer net without either technique, with BatchNorm, with dropout and with both."""
    drop = {"dropout": config.dropout, "inverted_dropout": config.inverted}
    return run_overfit(config, seed, {"batchnorm": {"use_batchnorm": True}, "dropout": drop,
                                      "both": {"use_batchnorm": True, **drop}})


def _row(r: dict) -> str:
    return f"train {r['mean_train_acc']:.3f}, test {r['mean_test_acc']:.3f}, gap {r['mean_gap']:.3f}"


def check(metrics: dict, config: Config) -> list[Claim]:
    runs = metrics["runs"]
    off, bn, drop, both = (runs[k] for k in LABELS)
    w = config.gap_window
    table = "; ".join(f"{k}: {_row(runs[k])}" for k in LABELS)
    reduction = off["mean_gap"] - bn["mean_gap"]
    overfits = off["mean_train_acc"] >= config.overfit_train_acc and off["mean_gap"] > config.overfit_gap
    claims = [CLAIMS.claim(
        "shrinks-gap",
        f"BatchNorm suppresses overfitting: on the {metrics['n_train']} training images it shrinks the train-test "
        f"gap (mean over the last {w} epochs) by at least {config.min_gap_reduction}",
        reduction >= config.min_gap_reduction,
        f"gap without {fmt(off['mean_gap'])}, with BatchNorm {fmt(bn['mean_gap'])} (change {-reduction:+.3f}); "
        f"train accuracy {fmt(off['mean_train_acc'])} -> {fmt(bn['mean_train_acc'])}, test accuracy "
        f"{fmt(off['mean_test_acc'])} -> {fmt(bn['mean_test_acc'])}; the plain net "
        + ("overfits" if overfits else "does not overfit")
        + f" (train >= {config.overfit_train_acc} and gap > {config.overfit_gap}); all runs, mean over the last "
        f"{w} epochs: {table}",
        values={"gap without": off["mean_gap"], "gap with BatchNorm": bn["mean_gap"],
                "test accuracy without": off["mean_test_acc"], "test accuracy with BatchNorm": bn["mean_test_acc"],
                "required reduction": config.min_gap_reduction})]

    gain_plain = drop["mean_test_acc"] - off["mean_test_acc"]
    gain_bn = both["mean_test_acc"] - bn["mean_test_acc"]
    claims.append(CLAIMS.claim(
        "lessens-dropout-need",
        f"BatchNorm lessens the need for dropout: dropout ({config.dropout:g}) adds less test accuracy (mean over "
        f"the last {w} epochs) to the BatchNorm net than to the plain net",
        gain_bn < gain_plain,
        f"test accuracy: without {fmt(off['mean_test_acc'])}, dropout {fmt(drop['mean_test_acc'])} "
        f"({gain_plain:+.3f}); BatchNorm {fmt(bn['mean_test_acc'])}, both {fmt(both['mean_test_acc'])} "
        f"({gain_bn:+.3f}); gap: dropout {fmt(drop['mean_gap'])}, both {fmt(both['mean_gap'])}",
        values={"dropout's gain without BatchNorm": gain_plain, "dropout's gain with BatchNorm": gain_bn,
                "test accuracy, BatchNorm alone": bn["mean_test_acc"],
                "test accuracy, dropout alone": drop["mean_test_acc"]}))
    return claims


def book(metrics: dict, config: Config) -> list[BookValue]:
    runs = metrics["runs"]
    note = "the book states it (sec. 6.3.1) without a figure or numbers"
    measured = f"{runs['without']['mean_gap']:.3f} -> {runs['batchnorm']['mean_gap']:.3f}"
    return [BookValue(f"train-test gap, mean of the last {config.gap_window} epochs, without -> with BatchNorm",
                      "smaller with BatchNorm", measured, note)]


register(ExperimentSpec(
    name=NAME,
    title="Batch normalisation against overfitting: 300 images with and without BatchNorm and dropout",
    summary="The 7-layer ReLU net of the overfitting experiments trained on the first 300 images with neither "
            "technique, BatchNorm, dropout (0.2) and both: does BatchNorm shrink the train-test gap, and does "
            "dropout add less on top of it?",
    config_cls=Config, run=run, check=check, plot=plot_bn_overfitting, book=book,
    quick={"n_test": 1000, "epochs": 60},
    claims=CLAIMS,
    seeds=3,  # what make run gives it (see docs/experiments.md)
))
