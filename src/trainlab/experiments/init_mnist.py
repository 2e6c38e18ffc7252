"""Weight initialisation on MNIST: std 0.01 against Xavier and He (the book's figure 6-15).

The same 784-100-100-100-100-10 ReLU network is trained with plain SGD
(lr 0.01, batch 128, 2000 iterations) from three initial weight
distributions, N(0, 0.01^2), Xavier N(0, 1/n) and He N(0, 2/n) with n the
fan-in, on the same batches. With std 0.01 the signal shrinks by a factor of
about 0.01 * sqrt(100 / 2) = 0.07 per layer, so the scores and the gradients
of the first layers are tiny and the loss stays at ln 10 = 2.303, the loss
of a uniform guess over 10 classes. Compared: the smoothed training loss,
the loss at the end, and the test accuracy.

Reference: Saito, *Deep Learning from Scratch*, sec. 6.2.4 (ch06/weight_init_compare.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from trainlab.experiments.base import BookValue, Claim, ClaimTable, ExperimentSpec, register
from trainlab.experiments.common import (
    book_loss_rows, check_above_zero, check_fractions, check_training_run, curve_indices, load_subset, split_seed,
    summarise, train, training_run_metrics,
)
from trainlab.models.mlp import MultiLayerNet
from trainlab.optim import create_optimizer
from trainlab.plots.init_mnist import plot_init_mnist

NAME = "init-mnist"
OWNER = f"experiment {NAME}"

#: The claims ``check`` decides: key -> source (seed statements of the ledger, book sections, papers).
CLAIMS = ClaimTable(NAME, {
    "std001-does-not-learn": "seed 000 (S000-18), seed 001 (S001-06); book 6.2.4, figure 6-15",
    "xavier-he-learn": "seed 000 (S000-18); book 6.2.4, figure 6-15",
    "he-beats-xavier": "seed 001 (S001-10); book 6.2.4, figure 6-15",
})

#: (label, weight_init of MultiLayerNet)
INITS = (("std=0.01", 0.01), ("Xavier", "xavier"), ("He", "he"))
#: The book's batch loss at its last printed iteration.
BOOK_LOSS = {"std=0.01": 2.305, "Xavier": 0.377, "He": 0.286}
LN10 = math.log(10.0)


@dataclass(frozen=True)
class Config:
    dataset: str = "mnist"
    n_train: int = 60000
    n_test: int = 10000
    hidden: tuple[int, ...] = (100, 100, 100, 100)
    lr: float = 0.01
    batch_size: int = 128
    iterations: int = 2000
    smooth_window: int = 19
    curve_points: int = 500
    #: "Stays at chance": the final loss is within this distance of ln 10.
    chance_margin: float = 0.05
    #: "Learns": the final loss is below this fraction of ln 10.
    learned_fraction: float = 0.5

    def __post_init__(self):
        check_training_run(OWNER, self)
        check_above_zero(OWNER, self, "lr", "chance_margin")
        check_fractions(OWNER, self, "learned_fraction", include_one=False)


def run(config: Config, seed: int = 0) -> dict:
    """Train the network from each initialisation (same weight draws up to scale, same batches)."""
    data = load_subset(config.dataset, config.n_train, config.n_test, seed=seed)
    init_seed, batch_seed = split_seed(seed)
    at = curve_indices(config.iterations, config.curve_points)
    runs = {}
    for label, init in INITS:
        model = MultiLayerNet(data.x_train.shape[1], config.hidden, 10, activation="relu", weight_init=init,
                              seed=init_seed)
        first_std = float(model.layers[0].weight.data.std())
        optimizer = create_optimizer("sgd", model.named_parameters(), lr=config.lr)
        history = train(model, optimizer, data, batch_size=config.batch_size, iterations=config.iterations,
                        seed=batch_seed)
        runs[label] = {"weight_init": init, "first_layer_std": first_std,
                       "initial_loss": float(history.loss[0]), **summarise(history, config, at)}
    return training_run_metrics(data, config, at, runs)


def check(metrics: dict, config: Config) -> list[Claim]:
    runs = metrics["runs"]
    small, xavier, he = runs["std=0.01"], runs["Xavier"], runs["He"]
    finals = ", ".join(f"{k} {r['final_loss']:.3f}" for k, r in runs.items())
    learned = LN10 * config.learned_fraction
    return [
        CLAIMS.claim("std001-does-not-learn",
                     f"With std 0.01 the network does not learn: its loss stays within {config.chance_margin} "
                     f"of ln 10 = {LN10:.3f}",
                     abs(small["final_loss"] - LN10) <= config.chance_margin,
                     f"std=0.01: first batch loss {small['initial_loss']:.3f}, final loss {small['final_loss']:.3f} "
                     f"(mean over the last 10% of {config.iterations} iterations), test accuracy "
                     f"{small['test_acc']:.4f}",
                     values={"std=0.01: final loss": small["final_loss"], "ln 10": LN10,
                             "allowed distance": config.chance_margin}),
        CLAIMS.claim("xavier-he-learn",
                     f"Xavier and He learn: their final loss falls below {config.learned_fraction:g} x ln 10 = "
                     f"{learned:.3f}",
                     xavier["final_loss"] < learned and he["final_loss"] < learned,
                     f"final loss: {finals}; test accuracy: "
                     + ", ".join(f"{k} {r['test_acc']:.4f}" for k, r in runs.items()),
                     values={"Xavier: final loss": xavier["final_loss"], "He: final loss": he["final_loss"],
                             "limit": learned}),
        CLAIMS.claim("he-beats-xavier",
                     "He, made for ReLU, ends with a lower loss than Xavier",
                     he["final_loss"] < xavier["final_loss"],
                     f"final loss: He {he['final_loss']:.3f}, Xavier {xavier['final_loss']:.3f}",
                     values={"He: final loss": he["final_loss"], "Xavier: final loss": xavier["final_loss"]}),
    ]


def book(metrics: dict, config: Config) -> list[BookValue]:
    return book_loss_rows(metrics, config, BOOK_LOSS)


register(ExperimentSpec(
    name=NAME,
    title="Weight initialisation on MNIST: std 0.01 against Xavier and He",
    summary="A 5-layer ReLU network trained with SGD from three initial weight scales; std 0.01 stays at the "
            "chance loss ln 10 while Xavier and He learn, as in the book's figure 6-15.",
    config_cls=Config, run=run, check=check, plot=plot_init_mnist, book=book,
    quick={"n_train": 10000, "n_test": 2000, "iterations": 600},
    claims=CLAIMS,
    seeds=3,  # what make run gives it (see docs/experiments.md)
))
