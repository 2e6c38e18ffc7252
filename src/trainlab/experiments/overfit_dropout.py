"""Overfitting 300 MNIST images with a 7-layer net, and dropout (ratio 0.2) against it.

The setup of overfit-weight-decay (first 300 training images, 784-100x6-10
ReLU net, He weights, SGD lr 0.01, batch 100; the paired run of
:mod:`trainlab.experiments.overfitting`), trained for the book's 301 epochs
without and with dropout after every hidden activation; same initial weights
and batch order in every run. The claim is that dropout shrinks the
train-test gap.

The book's dropout keeps the surviving activations unscaled while training
and multiplies by the keep ratio 1 - p at test time; PyTorch's inverted form
divides by 1 - p while training instead. Both give the same expected
activations, but in the book's form every dropout layer also shrinks the
training signal forwards and backwards by 1 - p, which in a 7-layer net slows
learning a lot. The main run uses the book's form; a third run with the
inverted form shows how much of the book's narrower gap comes from that.

Reference: Saito, *Deep Learning from Scratch*, sec. 6.4.3 (ch06/overfit_dropout.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from trainlab.errors import ConfigError
from trainlab.experiments.base import BookValue, Claim, ClaimTable, ExperimentSpec, register
from trainlab.experiments.overfitting import OverfitConfig, check_overfit, run_overfit
from trainlab.plots.overfitting import plot_overfit

NAME = "overfit-dropout"

#: The claims ``check`` decides: key -> source (seed statements of the ledger, book sections, papers).
CLAIMS = ClaimTable(NAME, {
    "overfits-without": "seed 001 (S001-17); book 6.4.3, figure 6-23",
    "shrinks-gap": "seed 001 (S001-20); book 6.4.3, figure 6-23",
    "no-longer-fits-all": "book 6.4.3, figure 6-23",
})


@dataclass(frozen=True)
class Config(OverfitConfig):
    owner: ClassVar[str] = f"experiment {NAME}"

    #: The book's dropout run trains for 301 epochs.
    epochs: int = 301
    #: Drop probability after each hidden activation (the book's dropout_ratio).
    dropout: float = 0.2
    #: False: the book's form (scale by 1 - p at test time); True: PyTorch's inverted form.
    inverted: bool = False
    #: Also train with the other form, for comparison (one more run).
    compare_forms: bool = True

    def __post_init__(self):
        super().__post_init__()
        if not 0 < self.dropout < 1:
            raise ConfigError(f"{self.owner}: dropout must be in (0, 1) (it is the technique compared), "
                              f"got {self.dropout}")


def _form(inverted: bool) -> str:
    return "inverted form" if inverted else "book's form"


def run(config: Config, seed: int = 0) -> dict:
    """Train and evaluate the 7-layer net without dropout, with it, and (optionally) with the other form."""
    variants = {"with": {"dropout": config.dropout, "inverted_dropout": config.inverted}}
    if config.compare_forms:
        variants["other form"] = {"dropout": config.dropout, "inverted_dropout": not config.inverted}
    return run_overfit(config, seed, variants)


def check(metrics: dict, config: Config) -> list[Claim]:
    note = f" (dropout in the {_form(config.inverted)})"
    other = metrics["runs"].get("other form")
    if other is not None:
        note += (f"; in the {_form(not config.inverted)} the gap is {other['mean_gap']:.3f} "
                 f"(train {other['mean_train_acc']:.3f}, test {other['mean_test_acc']:.3f})")
    return check_overfit(metrics, config, "dropout", CLAIMS, note)


def book(metrics: dict, config: Config) -> list[BookValue]:
    runs = metrics["runs"]
    off, on = runs["without"], runs["with"]
    none = "the book shows the curves (fig. 6-23) without numbers"
    rows = [
        BookValue("final train accuracy without dropout", None, round(off["final_train_acc"], 4), none),
        BookValue("final test accuracy without dropout", None, round(off["final_test_acc"], 4), none),
        BookValue(f"final train accuracy with dropout {config.dropout} ({_form(config.inverted)})", None,
                  round(on["final_train_acc"], 4), none),
        BookValue(f"final test accuracy with dropout {config.dropout} ({_form(config.inverted)})", None,
                  round(on["final_test_acc"], 4), none),
        BookValue(f"train-test gap, mean of the last {config.gap_window} epochs, without -> with dropout", None,
                  f"{off['mean_gap']:.3f} -> {on['mean_gap']:.3f}",
                  "the book: the gap narrows and train accuracy no longer reaches 100%"),
    ]
    if "other form" in runs:
        other = runs["other form"]
        rows.append(BookValue(f"final train / test accuracy with dropout in the {_form(not config.inverted)}",
                              None, f"{other['final_train_acc']:.3f} / {other['final_test_acc']:.3f}",
                              "not in the book; the same ratio with the other scaling"))
    return rows


register(ExperimentSpec(
    name=NAME,
    title="Overfitting 300 MNIST images, and dropout against it",
    summary="A 7-layer ReLU net trained on the first 300 MNIST images for 301 epochs, with and without "
            "dropout (ratio 0.2, the book's form; PyTorch's inverted form for comparison): train and test "
            "accuracy every epoch, and the gap between them.",
    config_cls=Config, run=run, check=check, plot=plot_overfit, book=book,
    quick={"n_test": 1000, "epochs": 100, "compare_forms": False},
    claims=CLAIMS,
))
