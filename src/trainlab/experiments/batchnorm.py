"""Batch normalisation against the weight scale: the book's figure 6-18.

A 784-100-100-100-100-100-10 ReLU network is trained on the first 1000 MNIST
training images with SGD (lr 0.01, batch 100, 20 epochs), with and without a
BatchNorm1d after every hidden Linear, for 16 initial weight scales
(standard deviations np.logspace(0, -4, 16)). Compared, at every scale: the
training accuracy after each epoch with and without BatchNorm, its value
after the last epoch, and its mean over the epochs (the area under the
curve, a measure of how fast the net learns). Without BatchNorm a large
scale makes the scores overflow within a few steps (recorded as a
divergence) and a small one leaves the gradients too small to learn. With
BatchNorm a layer's output does not change when its weights are scaled, so
the gradient shrinks as 1/scale and each step changes the weights' direction
by about lr/scale^2: at the largest scales BatchNorm learns slowly too.

Reference: Ioffe & Szegedy, 2015; Saito, *Deep Learning from Scratch*, sec. 6.3.2 (ch06/batch_norm_test.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainlab.errors import ConfigError, NonFiniteError
from trainlab.experiments.base import BookValue, Claim, ClaimTable, ExperimentSpec, register
from trainlab.experiments.common import (
    check_above_zero, check_dataset, check_fractions, check_sizes, load_subset, settings, split_seed,
)
from trainlab.models.mlp import MultiLayerNet
from trainlab.optim import create_optimizer
from trainlab.plots.batchnorm import plot_batchnorm
from trainlab.training import Trainer
from trainlab.validation import check_positive

NAME = "batchnorm"
OWNER = f"experiment {NAME}"

#: The claims ``check`` decides: key -> source (seed statements of the ledger, book sections, papers).
CLAIMS = ClaimTable(NAME, {
    "higher-final-accuracy": "book 6.3.2, figure 6-18",
    "learns-faster": "seed 000 (S000-19), seed 001 (S001-12), seed 004 (S004-12); book 6.3.2, figure 6-18",
    "less-dependent-on-scale": "seed 000 (S000-20), seed 001 (S001-13), seed 004 (S004-13); book 6.3.2, figure 6-18",
    "too-large-fails": "seed 001 (S001-07); book 6.3.2, figure 6-18",
})

#: Accuracy given to the epochs after a divergence (the scores are NaN; a guess among 10 classes).
CHANCE = 0.1


@dataclass(frozen=True)
class Config:
    dataset: str = "mnist"
    n_train: int = 1000
    hidden: tuple[int, ...] = (100, 100, 100, 100, 100)
    n_scales: int = 16
    #: Scales are np.logspace(largest_exp, smallest_exp, n_scales).
    largest_exp: float = 0.0
    smallest_exp: float = -4.0
    lr: float = 0.01
    batch_size: int = 100
    epochs: int = 20
    #: The claims ask BatchNorm to win at this fraction of the scales (12 of 16).
    win_fraction: float = 0.75
    #: "Learns at this scale": the last epoch's training accuracy reaches this.
    good_acc: float = 0.8

    def __post_init__(self):
        check_dataset(OWNER, self.dataset)
        check_positive(OWNER, **settings(self, "n_train", "n_scales", "batch_size", "epochs"))
        check_sizes(OWNER, "hidden", self.hidden)
        check_above_zero(OWNER, self, "lr")
        if not self.smallest_exp <= self.largest_exp:
            raise ConfigError(f"{OWNER}: smallest_exp ({self.smallest_exp}) must not exceed largest_exp "
                              f"({self.largest_exp})")
        check_fractions(OWNER, self, "win_fraction")
        check_fractions(OWNER, self, "good_acc", include_one=False)

    @property
    def scales(self) -> np.ndarray:
        return np.logspace(self.largest_exp, self.smallest_exp, self.n_scales)


def train_one(x, t, scale: float, use_batchnorm: bool, config: Config, init_seed: int, batch_seed: int) -> dict:
    """Training accuracy after every epoch; a divergence ends the run and is recorded."""
    model = MultiLayerNet(x.shape[1], config.hidden, 10, activation="relu", weight_init=float(scale),
                          use_batchnorm=use_batchnorm, seed=init_seed)
    optimizer = create_optimizer("sgd", model.named_parameters(), lr=config.lr)
    trainer = Trainer(model, optimizer, batch_size=config.batch_size, epochs=config.epochs, seed=batch_seed,
                      eval_train=True, progress=False)
    diverged_at = None
    # Large scales overflow on purpose; the divergence is recorded, so the warnings say nothing new.
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            trainer.fit(x, t)
        except NonFiniteError:
            diverged_at = trainer.step
    acc = trainer.history.series("train_acc")
    padded = acc + [CHANCE] * (config.epochs - len(acc))
    return {
        "train_acc": acc + [None] * (config.epochs - len(acc)),
        "diverged_at": diverged_at,
        "final_acc": acc[-1] if diverged_at is None else None,
        "mean_acc": float(np.mean(padded)),
    }


def run(config: Config, seed: int = 0) -> dict:
    """Train both networks at every weight scale from the same draws (up to scale), on the same batches."""
    data = load_subset(config.dataset, config.n_train, 0, seed=seed)
    init_seed, batch_seed = split_seed(seed)
    runs = []
    for scale in config.scales:
        runs.append({"scale": float(scale),
                     "bn": train_one(data.x_train, data.t_train, scale, True, config, init_seed, batch_seed),
                     "plain": train_one(data.x_train, data.t_train, scale, False, config, init_seed, batch_seed)})
    return {"dataset": data.name, "n_train": int(len(data.x_train)), "n_inputs": int(data.x_train.shape[1]),
            "iterations_per_epoch": -(-len(data.x_train) // config.batch_size),
            "epochs": list(range(1, config.epochs + 1)), "runs": runs}


def _final(r: dict) -> float:
    # A diverged run has no final accuracy; it ranks below every run that finished.
    return -1.0 if r["final_acc"] is None else r["final_acc"]


def _fmt_final(r: dict) -> str:
    return f"diverged at step {r['diverged_at']}" if r["final_acc"] is None else f"{r['final_acc']:.3f}"


def check(metrics: dict, config: Config) -> list[Claim]:
    runs = metrics["runs"]
    n = len(runs)
    need = int(np.ceil(config.win_fraction * n))
    final_wins = [r for r in runs if _final(r["bn"]) > _final(r["plain"])]
    mean_wins = [r for r in runs if r["bn"]["mean_acc"] > r["plain"]["mean_acc"]]
    diverged = [f"{r['scale']:.3g}" for r in runs if r["plain"]["diverged_at"] is not None]
    lost = ", ".join(f"{r['scale']:.3g} ({_fmt_final(r['bn'])} vs {_fmt_final(r['plain'])})"
                     for r in runs if r not in final_wins)
    claims = [CLAIMS.claim(
        "higher-final-accuracy",
        f"With BatchNorm the training accuracy after {config.epochs} epochs is higher at >= {need} of {n} "
        "weight scales",
        len(final_wins) >= need,
        f"BatchNorm higher at {len(final_wins)} of {n} scales; not higher at: {lost or 'none'}"
        + (f"; without BatchNorm the run diverged (NaN loss) at scales {', '.join(diverged)}" if diverged else ""),
        values={"scales where BatchNorm ends higher": len(final_wins), "scales": n, "required": need})]
    lost = ", ".join(f"{r['scale']:.3g} ({r['bn']['mean_acc']:.3f} vs {r['plain']['mean_acc']:.3f})"
                     for r in runs if r not in mean_wins)
    claims.append(CLAIMS.claim(
        "learns-faster",
        f"BatchNorm learns faster: its mean training accuracy over the {config.epochs} epochs (area under the "
        f"curve) is higher at >= {need} of {n} weight scales",
        len(mean_wins) >= need,
        f"BatchNorm higher at {len(mean_wins)} of {n} scales; not higher at: {lost or 'none'} "
        f"(epochs after a divergence count as chance, {CHANCE})",
        values={"scales where BatchNorm learns faster": len(mean_wins), "scales": n, "required": need}))
    good_bn = [r["scale"] for r in runs if _final(r["bn"]) >= config.good_acc]
    good_plain = [r["scale"] for r in runs if _final(r["plain"]) >= config.good_acc]
    claims.append(CLAIMS.claim(
        "less-dependent-on-scale",
        f"BatchNorm depends less on the initial scale: it reaches {config.good_acc:.0%} training accuracy at "
        "more scales than the plain network",
        len(good_bn) > len(good_plain),
        f"scales reaching {config.good_acc:.0%}: with BatchNorm {len(good_bn)} of {n} "
        f"({', '.join(f'{s:.3g}' for s in good_bn) or 'none'}), without {len(good_plain)} "
        f"({', '.join(f'{s:.3g}' for s in good_plain) or 'none'})",
        values={"scales reaching it with BatchNorm": len(good_bn), "scales reaching it without": len(good_plain),
                "accuracy asked for": config.good_acc}))
    largest = max(runs, key=lambda r: r["scale"])
    plain = largest["plain"]
    he_std = float(np.sqrt(2.0 / metrics.get("n_inputs", 784)))
    claims.append(CLAIMS.claim(
        "too-large-fails",
        f"Too large initial weights keep the plain network from learning: at the largest std "
        f"({largest['scale']:.3g}) it diverges or stays below {config.good_acc:.0%} training accuracy",
        plain["diverged_at"] is not None or _final(plain) < config.good_acc,
        f"without BatchNorm at std {largest['scale']:.3g} ({largest['scale'] / he_std:.0f} x He's std for the first "
        f"layer, {he_std:.3g}): {_fmt_final(plain)}, mean accuracy over the epochs {plain['mean_acc']:.3f}; with "
        f"BatchNorm: {_fmt_final(largest['bn'])}",
        values={"largest std": largest["scale"], "plain: final training accuracy (diverged: -1)": _final(plain),
                "plain: mean training accuracy": plain["mean_acc"], "accuracy asked for": config.good_acc}))
    return claims


def book(metrics: dict, config: Config) -> list[BookValue]:
    runs = metrics["runs"]
    wins = sum(_final(r["bn"]) > _final(r["plain"]) for r in runs)
    return [BookValue(f"weight scales where BatchNorm's accuracy after {config.epochs} epochs is higher",
                      "most (figure only)", f"{wins} of {len(runs)}",
                      "the book publishes figure 6-18 and no numbers; it says BatchNorm learns faster at almost "
                      "every scale and that without it some scales do not learn at all")]


register(ExperimentSpec(
    name=NAME,
    title="Batch normalisation: training accuracy with and without BatchNorm at 16 weight scales",
    summary="A 6-layer ReLU network on 1000 MNIST images, trained with SGD for 20 epochs from weight scales "
            "1 to 1e-4, with and without BatchNorm; BatchNorm learns faster at most scales, as in the book's "
            "figure 6-18.",
    config_cls=Config, run=run, check=check, plot=plot_batchnorm, book=book,
    quick={"n_scales": 8, "epochs": 8},
    claims=CLAIMS,
    seeds=3,  # what make run gives it (see docs/experiments.md)
))
