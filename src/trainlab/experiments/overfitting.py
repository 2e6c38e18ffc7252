"""The paired overfitting run shared by overfit-weight-decay and overfit-dropout.

The book's setup for sec. 6.4: the first 300 training images, a 784-100x6-10
ReLU net with He weights, SGD lr 0.01, batch 100; train and test accuracy
after every epoch. The net is trained without a technique and with it (and
optionally with variants of it), every run from the same initial weights and
with the same batch order, so the technique is the only difference. This
module holds the shared settings (:class:`OverfitConfig`), the net, the paired
run and the three claims; the experiments add their technique.

Reference: Saito, *Deep Learning from Scratch*, sec. 6.4 (ch06/overfit_weight_decay.py, overfit_dropout.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from trainlab.errors import ConfigError
from trainlab.experiments.base import Claim, ClaimTable
from trainlab.experiments.common import check_above_zero, check_dataset, check_fractions, load_subset, settings
from trainlab.layers import Linear
from trainlab.models.mlp import MultiLayerNet
from trainlab.optim import create_optimizer
from trainlab.training import Trainer
from trainlab.validation import check_positive, check_real


@dataclass(frozen=True)
class OverfitConfig:
    """Settings shared by the two overfitting experiments (the book's defaults)."""

    #: Who the settings belong to, in error messages; each experiment names itself.
    owner: ClassVar[str] = "overfitting experiment"

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
        owner = self.owner
        check_dataset(owner, self.dataset)
        check_positive(owner, **settings(self, "n_train", "n_test", "hidden_layers", "hidden_size", "batch_size",
                                         "epochs", "gap_window"))
        if self.gap_window > self.epochs:
            raise ConfigError(f"{owner}: gap_window ({self.gap_window}) cannot exceed epochs ({self.epochs})")
        check_above_zero(owner, self, "lr")
        check_real(owner, "min_gap_reduction", self.min_gap_reduction, low=0.0)
        check_real(owner, "overfit_gap", self.overfit_gap, low=0.0)
        check_fractions(owner, self, "overfit_train_acc")


def _summary(train_acc: list[float], test_acc: list[float], window: int) -> dict:
    tr, te = np.asarray(train_acc), np.asarray(test_acc)
    gap = tr - te
    return {"final_train_acc": float(tr[-1]), "final_test_acc": float(te[-1]), "final_gap": float(gap[-1]),
            "mean_train_acc": float(tr[-window:].mean()), "mean_test_acc": float(te[-window:].mean()),
            "mean_gap": float(gap[-window:].mean()), "best_test_acc": float(te.max())}


def build_net(config: OverfitConfig, init_seed: int, *, dropout: float = 0.0,
              inverted_dropout: bool = True, use_batchnorm: bool = False) -> MultiLayerNet:
    """The book's 7-layer ReLU net; ``inverted_dropout=False`` switches to the book's dropout form,
    ``use_batchnorm`` puts a BatchNorm1d after every hidden Linear."""
    return MultiLayerNet(784, [config.hidden_size] * config.hidden_layers, 10, activation="relu",
                         weight_init="he", dropout=dropout, seed=init_seed, inverted_dropout=inverted_dropout,
                         use_batchnorm=use_batchnorm)


def _split_options(options: dict) -> tuple[dict, dict]:
    """A run's options as (keywords of :func:`build_net`, keywords of the Trainer).

    ``weight_decay`` is the book's L2 penalty lambda/2 * ||W||^2 on the loss,
    which the Trainer adds as ``l2_penalty``; the rest shape the net.
    """
    net = {k: v for k, v in options.items() if k != "weight_decay"}
    trainer = {"l2_penalty": options["weight_decay"]} if "weight_decay" in options else {}
    return net, trainer


def weight_sizes(model: MultiLayerNet) -> tuple[float, float]:
    """The L2 norm of all the Linear weights together, and the largest absolute weight."""
    weights = [layer.weight.data for layer in model.modules() if isinstance(layer, Linear)]
    norm = float(np.sqrt(sum(float((w.astype(np.float64) ** 2).sum()) for w in weights)))
    return norm, float(max(np.abs(w).max() for w in weights))


def run_overfit(config: OverfitConfig, seed: int, variants: dict[str, dict]) -> dict:
    """Train the net without a technique and once per entry of ``variants``.

    ``variants`` maps a label to the run's options: :func:`build_net`'s
    keywords, or ``weight_decay`` (the L2 penalty lambda). It must hold "with".
    """
    data = load_subset(config.dataset, config.n_train, config.n_test, seed=seed)
    init_seed, order_seed = (int(s) for s in np.random.default_rng(seed).integers(0, 2**31, size=2))
    runs = {}
    for label, options in {"without": {}, **variants}.items():
        net_options, trainer_options = _split_options(options)
        model = build_net(config, init_seed, **net_options)
        norm_before, largest_before = weight_sizes(model)
        trainer = Trainer(model, create_optimizer("sgd", model.parameters(), lr=config.lr),
                          batch_size=config.batch_size, epochs=config.epochs, seed=order_seed,
                          eval_sets={"test": (data.x_test, data.t_test)}, progress=False, **trainer_options)
        history = trainer.fit(data.x_train, data.t_train)
        norm_after, largest_after = weight_sizes(model)
        train_acc = [round(a, 5) for a in history.series("train_acc")]
        test_acc = [round(a, 5) for a in history.series("test_acc")]
        runs[label] = {"options": options, "train_acc": train_acc, "test_acc": test_acc,
                       "train_loss": [round(v, 5) for v in history.series("train_loss")],
                       "weight_norm_initial": norm_before, "weight_norm_final": norm_after,
                       "largest_weight_initial": largest_before, "largest_weight_final": largest_after,
                       **_summary(train_acc, test_acc, config.gap_window)}
    return {"dataset": data.name, "n_train": len(data.t_train), "n_test": len(data.t_test),
            "epochs": list(range(1, config.epochs + 1)), "runs": runs}


def check_overfit(metrics: dict, config: OverfitConfig, name: str, claims: ClaimTable,
                  note: str = "") -> list[Claim]:
    """The three claims of sec. 6.4 for technique ``name``, decided on the paired runs.

    ``claims`` is the experiment's table, with the keys ``overfits-without``,
    ``shrinks-gap`` and ``no-longer-fits-all``; ``note`` is appended to the
    evidence of the gap claim.
    """
    off, on = metrics["runs"]["without"], metrics["runs"]["with"]
    w = config.gap_window
    found = [claims.claim(
        "overfits-without",
        f"Without {name} the net overfits the {metrics['n_train']} training images: train accuracy "
        f">= {config.overfit_train_acc} while test accuracy lags by more than {config.overfit_gap}",
        off["mean_train_acc"] >= config.overfit_train_acc and off["mean_gap"] > config.overfit_gap,
        f"mean over the last {w} epochs: train {off['mean_train_acc']:.3f}, test {off['mean_test_acc']:.3f}, "
        f"gap {off['mean_gap']:.3f} (final epoch: train {off['final_train_acc']:.3f}, "
        f"test {off['final_test_acc']:.3f})",
        values={"train accuracy without": off["mean_train_acc"], "gap without": off["mean_gap"],
                "train accuracy asked for": config.overfit_train_acc, "gap asked for": config.overfit_gap})]
    reduction = off["mean_gap"] - on["mean_gap"]
    train_change = on["mean_train_acc"] - off["mean_train_acc"]
    test_change = on["mean_test_acc"] - off["mean_test_acc"]
    if reduction < config.min_gap_reduction:
        why = "the gap does not close by the margin"
    elif test_change > 0:
        why = "test accuracy rises as well"
    else:
        why = "the gap closes because train accuracy falls further than test accuracy, not because test accuracy rises"
    found.append(claims.claim(
        "shrinks-gap",
        f"{name.capitalize()} shrinks the train-test gap (mean over the last {w} epochs) by at least "
        f"{config.min_gap_reduction}",
        reduction >= config.min_gap_reduction,
        f"gap without {off['mean_gap']:.3f}, with {on['mean_gap']:.3f} (change {-reduction:+.3f}; "
        f"final epoch {off['final_gap']:.3f} -> {on['final_gap']:.3f}); train accuracy "
        f"{off['mean_train_acc']:.3f} -> {on['mean_train_acc']:.3f} ({train_change:+.3f}), test accuracy "
        f"{off['mean_test_acc']:.3f} -> {on['mean_test_acc']:.3f} ({test_change:+.3f}): {why}" + note,
        values={"gap without": off["mean_gap"], "gap with": on["mean_gap"],
                "test accuracy without": off["mean_test_acc"], "test accuracy with": on["mean_test_acc"],
                "required reduction": config.min_gap_reduction}))
    found.append(claims.claim(
        "no-longer-fits-all",
        f"With {name} the net no longer fits every training image (train accuracy stays below the "
        f"unregularised net's and below 1.0)",
        on["mean_train_acc"] < min(off["mean_train_acc"], 1.0),
        f"mean train accuracy over the last {w} epochs: without {off['mean_train_acc']:.3f}, "
        f"with {on['mean_train_acc']:.3f}",
        values={"train accuracy without": off["mean_train_acc"], "train accuracy with": on["mean_train_acc"]}))
    return found
