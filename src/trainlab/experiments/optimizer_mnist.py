"""Optimizers on MNIST: the book's figure 6-9 (SGD, Momentum, AdaGrad, Adam) plus the rest of the registry.

A 784-100-100-100-100-10 ReLU network with He initial weights is trained for
2000 iterations of batch 128 with each optimizer, every one from the same
initial weights and on the same batches, so the curves differ only by the
update rule. Compared: the smoothed training loss over the iterations, the
loss at the end, and the test accuracy after training.

Learning rates: the book's four use the book's (SGD 0.01, Momentum 0.01 with
momentum 0.9, AdaGrad 0.01, Adam 0.001). The others use the defaults of
their papers or of PyTorch: Nesterov 0.01 (momentum 0.9, as Momentum),
RMSProp 0.001 (Keras's default; PyTorch's 0.01 is the rate of plain SGD for a
normalised step and overshoots here), Adadelta 1.0, AdamW 0.001 with
decoupled weight decay 0.01, Adamax and NAdam 0.002. FTRL uses lr 0.01 with
its accumulator started at 1e-10 (the paper starts it at 0): with Keras's
0.1 the first step keeps only a fraction 1 - sqrt(0.1 / (0.1 + g^2)) of the
initial weights, which is about 0 for MNIST's small gradients, and the deep
network never leaves the chance-level loss ln 10.

"About the same pace" (Momentum, AdaGrad and Adam) is decided from the mean
of each smoothed loss curve over the whole run (the area under the curve per
iteration, which is small for a run that learns early): the three lie within
a factor ``pace_tolerance`` (1.5, declared before any run) of each other.

Reference: Saito, *Deep Learning from Scratch*, sec. 6.1.8 (ch06/optimizer_compare_mnist.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainlab.errors import ConfigError
from trainlab.experiments.base import BookValue, Claim, ClaimTable, ExperimentSpec, register
from trainlab.experiments.common import (
    BOOK_FOUR, BOOK_ITERATION, book_loss_rows, book_optimizers, check_training_run, curve_indices, load_subset,
    split_seed, summarise, train, training_run_metrics,
)
from trainlab.models.mlp import MultiLayerNet
from trainlab.optim import create_optimizer
from trainlab.plots.optimizer_mnist import plot_optimizer_mnist
from trainlab.validation import check_real

NAME = "optimizer-mnist"
OWNER = f"experiment {NAME}"

#: The claims ``check`` decides: key -> source (seed statements of the ledger, book sections, papers).
CLAIMS = ClaimTable(NAME, {
    "sgd-highest-loss": "seed 000 (S000-08, S000-10), seed 002 (S002-16); book 6.1.8, figure 6-9",
    "others-higher-accuracy": "seed 000 (S000-10), seed 002 (S002-16); book 6.1.8",
    "adaptive-same-pace": "seed 000 (S000-09); book 6.1.8, figure 6-9",
})

#: (label, registry name, hyperparameters); see the module docstring for the choices.
OPTIMIZERS = (
    *book_optimizers(sgd=0.01, momentum=0.01, adagrad=0.01, adam=0.001),
    ("Nesterov", "nesterov", {"lr": 0.01, "momentum": 0.9}),
    ("RMSProp", "rmsprop", {"lr": 0.001}),
    ("Adadelta", "adadelta", {"lr": 1.0}),
    ("AdamW", "adamw", {"lr": 0.001, "weight_decay": 0.01}),
    ("Adamax", "adamax", {"lr": 0.002}),
    ("NAdam", "nadam", {"lr": 0.002}),
    ("FTRL", "ftrl", {"lr": 0.01, "initial_accumulator_value": 1e-10}),
)
#: The book's batch loss at its last printed iteration (:data:`BOOK_ITERATION`).
BOOK_LOSS = {"SGD": 0.150, "Momentum": 0.050, "AdaGrad": 0.016, "Adam": 0.032}


@dataclass(frozen=True)
class Config:
    dataset: str = "mnist"
    n_train: int = 60000
    n_test: int = 10000
    hidden: tuple[int, ...] = (100, 100, 100, 100)
    batch_size: int = 128
    iterations: int = 2000
    optimizers: tuple[str, ...] = tuple(label for label, _, _ in OPTIMIZERS)
    smooth_window: int = 19
    curve_points: int = 500
    #: "About the same pace": the largest of the three's mean smoothed loss is at most this many times the smallest.
    pace_tolerance: float = 1.5

    def __post_init__(self):
        check_training_run(OWNER, self)
        check_real(OWNER, "pace_tolerance", self.pace_tolerance, low=1.0)
        known = [label for label, _, _ in OPTIMIZERS]
        unknown = [o for o in self.optimizers if o not in known]
        if unknown:
            raise ConfigError(f"{OWNER}: unknown optimizer label(s) {', '.join(unknown)}; valid: {', '.join(known)}")
        missing = [o for o in BOOK_FOUR if o not in self.optimizers]
        if missing:
            # The claims compare the book's four; without one of them there is nothing to decide.
            raise ConfigError(f"{OWNER}: optimizers must include the book's four ({', '.join(BOOK_FOUR)}); "
                              f"missing {', '.join(missing)}")

    @property
    def book_four(self) -> tuple[str, ...]:
        """The optimizers the claims compare (the book's figure 6-9); the figure draws them apart."""
        return BOOK_FOUR


def run(config: Config, seed: int = 0) -> dict:
    """Train one network per optimizer from the same weights on the same batches."""
    data = load_subset(config.dataset, config.n_train, config.n_test, seed=seed)
    init_seed, batch_seed = split_seed(seed)
    at = curve_indices(config.iterations, config.curve_points)
    hyper_of = {label: (name, hyper) for label, name, hyper in OPTIMIZERS}
    runs = {}
    for label in config.optimizers:
        name, hyper = hyper_of[label]
        model = MultiLayerNet(data.x_train.shape[1], config.hidden, 10, activation="relu", weight_init="he",
                              seed=init_seed)
        optimizer = create_optimizer(name, model.named_parameters(), **hyper)
        history = train(model, optimizer, data, batch_size=config.batch_size, iterations=config.iterations,
                        seed=batch_seed)
        runs[label] = {"optimizer": name, "hyper": dict(hyper), **summarise(history, config, at)}
    return training_run_metrics(data, config, at, runs)


def _ranking(runs: dict) -> list[str]:
    return sorted(runs, key=lambda k: runs[k]["final_loss"])


def mean_loss(run: dict) -> float:
    """The mean of the smoothed loss curve over the run (sampled evenly): how fast the run learned overall."""
    return float(np.mean(run["smoothed_loss"]))


def check(metrics: dict, config: Config) -> list[Claim]:
    runs = metrics["runs"]
    four = {k: runs[k] for k in BOOK_FOUR}
    rank = _ranking(runs)
    places = ", ".join(f"{k} {rank.index(k) + 1}" for k in BOOK_FOUR)
    claims = [CLAIMS.claim(
        "sgd-highest-loss",
        "SGD ends with the highest loss among the book's four optimizers (SGD, Momentum, AdaGrad, Adam)",
        all(four["SGD"]["final_loss"] > four[k]["final_loss"] for k in BOOK_FOUR[1:]),
        "final loss (mean batch loss over the last 10% of iterations): "
        + ", ".join(f"{k} {r['final_loss']:.3f}" for k, r in four.items())
        + f"; place among all {len(runs)} optimizers (1 = lowest loss): {places}; "
        + "order: " + " < ".join(rank),
        values={f"{k} final loss": r["final_loss"] for k, r in four.items()})]
    sgd_acc = four["SGD"]["test_acc"]
    claims.append(CLAIMS.claim(
        "others-higher-accuracy",
        "Momentum, AdaGrad and Adam also reach a higher test accuracy than SGD",
        all(four[k]["test_acc"] > sgd_acc for k in BOOK_FOUR[1:]),
        f"test accuracy on {metrics['n_test']} images after {config.iterations} iterations: "
        + ", ".join(f"{k} {r['test_acc']:.4f}" for k, r in four.items()),
        values={f"{k} test accuracy": r["test_acc"] for k, r in four.items()}))
    pace = {k: mean_loss(four[k]) for k in BOOK_FOUR}
    three = [pace[k] for k in BOOK_FOUR[1:]]
    spread = max(three) / max(min(three), 1e-300)
    claims.append(CLAIMS.claim(
        "adaptive-same-pace",
        f"Momentum, AdaGrad and Adam learn at about the same pace: their mean training loss over the run lies "
        f"within a factor {config.pace_tolerance:g}",
        spread <= config.pace_tolerance,
        "mean smoothed loss over the run: " + ", ".join(f"{k} {v:.3f}" for k, v in pace.items())
        + f"; largest / smallest of the three: {spread:.2f} (tolerance {config.pace_tolerance:g}); SGD / the "
        f"three's largest: {pace['SGD'] / max(max(three), 1e-300):.2f}",
        values={**{f"{k} mean loss": v for k, v in pace.items()}, "largest / smallest of the three": spread,
                "tolerance": config.pace_tolerance}))
    return claims


def book(metrics: dict, config: Config) -> list[BookValue]:
    rows = book_loss_rows(metrics, config, BOOK_LOSS)
    rows.append(BookValue("order of the final loss, highest first", "SGD > Momentum > Adam > AdaGrad",
                          " > ".join(k for k in reversed(_ranking(metrics["runs"])) if k in BOOK_FOUR),
                          f"book: its printed values at iteration {BOOK_ITERATION}; measured: the final loss "
                          "(mean over the last 10% of iterations)"))
    return rows


register(ExperimentSpec(
    name=NAME,
    title="Optimizers on MNIST: training loss of SGD, Momentum, AdaGrad, Adam and the rest",
    summary="A 5-layer ReLU network trained for 2000 iterations (batch 128) with every optimizer from the same "
            "weights on the same batches; SGD learns slowest, as in the book's figure 6-9.",
    config_cls=Config, run=run, check=check, plot=plot_optimizer_mnist, book=book,
    quick={"n_train": 10000, "n_test": 2000, "iterations": 150},
    claims=CLAIMS,
))
