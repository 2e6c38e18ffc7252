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

The runner, the net and the claims are shared with overfit-dropout
(:mod:`trainlab.experiments.overfitting`).

Reference: Saito, *Deep Learning from Scratch*, sec. 6.4.1-6.4.2
(ch06/overfit_weight_decay.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from trainlab.errors import ConfigError
from trainlab.experiments.base import BookValue, Claim, ClaimTable, ExperimentSpec, register
from trainlab.experiments.overfitting import OverfitConfig, check_overfit, run_overfit
from trainlab.plots.overfitting import plot_overfit

NAME = "overfit-weight-decay"

#: The claims ``check`` decides: key -> source (seed statements of the ledger, book sections, papers).
CLAIMS = ClaimTable(NAME, {
    "overfits-without": "seed 001 (S001-17); book 6.4.1, figure 6-20",
    "shrinks-gap": "seed 001 (S001-19); book 6.4.2, figure 6-21",
    "no-longer-fits-all": "book 6.4.2, figure 6-21",
    "weights-grow-without-decay": "seed 001 (S001-18); book 6.4.2",
})


@dataclass(frozen=True)
class Config(OverfitConfig):
    owner: ClassVar[str] = f"experiment {NAME}"

    #: The book's weight_decay_lambda: the L2 penalty lambda/2 * ||W||^2 on the loss.
    weight_decay: float = 0.1

    def __post_init__(self):
        super().__post_init__()
        if not self.weight_decay > 0:
            raise ConfigError(f"{self.owner}: weight_decay must be > 0 (it is the technique compared), "
                              f"got {self.weight_decay}")


def run(config: Config, seed: int = 0) -> dict:
    """Train and evaluate the 7-layer net without and with weight decay."""
    return run_overfit(config, seed, {"with": {"weight_decay": config.weight_decay}})


def check(metrics: dict, config: Config) -> list[Claim]:
    claims = check_overfit(metrics, config, "weight decay", CLAIMS)
    off, on = metrics["runs"]["without"], metrics["runs"]["with"]
    start = off["weight_norm_initial"]  # the same initial weights in both runs
    claims.append(CLAIMS.claim(
        "weights-grow-without-decay",
        "While the net overfits, its weights grow: without weight decay the L2 norm of all its weights ends "
        "above its initial value and above the norm the net ends with under weight decay",
        off["weight_norm_final"] > start and off["weight_norm_final"] > on["weight_norm_final"],
        f"L2 norm of the Linear weights: initial {start:.2f}, after {config.epochs} epochs without decay "
        f"{off['weight_norm_final']:.2f} ({off['weight_norm_final'] / start - 1:+.1%}), with decay "
        f"{on['weight_norm_final']:.2f} ({on['weight_norm_final'] / start - 1:+.1%}); largest |weight|: initial "
        f"{off['largest_weight_initial']:.3f}, without {off['largest_weight_final']:.3f}, with "
        f"{on['largest_weight_final']:.3f}",
        values={"initial weight norm": start, "final weight norm without decay": off["weight_norm_final"],
                "final weight norm with decay": on["weight_norm_final"],
                "largest weight without decay": off["largest_weight_final"],
                "largest weight with decay": on["largest_weight_final"]}))
    return claims


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


register(ExperimentSpec(
    name=NAME,
    title="Overfitting 300 MNIST images, and weight decay against it",
    summary="A 7-layer ReLU net trained on the first 300 MNIST images, with and without L2 weight decay "
            "(lambda 0.1): train and test accuracy every epoch, and the gap between them.",
    config_cls=Config, run=run, check=check, plot=plot_overfit, book=book,
    quick={"n_test": 1000, "epochs": 100},
    claims=CLAIMS,
    seeds=2,  # what make run gives it (see docs/experiments.md)
))
