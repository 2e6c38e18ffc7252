"""Data augmentation on 1,000 MNIST images: the same MLP trained with and without random warps.

A 784-100-100-10 ReLU net (He weights, SGD) learns the first 1,000 training
images twice, from the same initial weights and with the same batch order:
once on the images as they are, once on a new random rotation (up to 10
degrees), zoom (up to 10%) and shift (up to 2 pixels) of every image in every
batch. Train accuracy is measured on the unmodified training images, test
accuracy on the test set. The claims: augmentation raises test accuracy and
shrinks the train-test gap.

Reference: Saito, *Deep Learning from Scratch*, sec. 8.1.2 (data augmentation);
Simard, Steinkraus & Platt, ICDAR 2003.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainlab.data import build_pipeline
from trainlab.errors import ConfigError
from trainlab.experiments.base import BookValue, Claim, ClaimTable, ExperimentSpec, register
from trainlab.experiments.common import check_above_zero, check_dataset, check_sizes, load_subset, settings
from trainlab.models.mlp import MultiLayerNet
from trainlab.optim import create_optimizer
from trainlab.plots.augmentation import encode_images, plot_augmentation
from trainlab.training import Trainer
from trainlab.validation import check_positive

NAME = "augmentation"
OWNER = f"experiment {NAME}"

#: The claims ``check`` decides: key -> source (seed statements of the ledger, book sections, papers).
CLAIMS = ClaimTable(NAME, {
    "raises-test-accuracy": "seed 001 (S001-22); book 8.1.2",
    "shrinks-gap": "seed 001 (S001-22); book 8.1.2",
})


@dataclass(frozen=True)
class Config:
    dataset: str = "mnist"
    n_train: int = 1000
    n_test: int = 10000
    hidden_sizes: tuple[int, ...] = (100, 100)
    lr: float = 0.1
    batch_size: int = 100
    epochs: int = 60
    #: An augmentation pipeline (trainlab.data.build_pipeline syntax); one affine resampling
    #: blurs less than chaining rotate, scale and shift.
    augment: str = "affine:degrees=10,scale=0.1,translate=2"
    #: Accuracies are averaged over this many final epochs.
    window: int = 10
    #: Augmentation must raise the averaged test accuracy by at least this much ...
    min_test_gain: float = 0.01
    #: ... and cut the averaged train-test gap by at least this much.
    min_gap_reduction: float = 0.02
    #: Digits (0, 1, ...) shown in the figure, and augmented copies of each.
    n_show: int = 6
    n_variants: int = 5

    def __post_init__(self):
        check_dataset(OWNER, self.dataset)
        check_positive(OWNER, **settings(self, "n_train", "n_test", "batch_size", "epochs", "window", "n_variants"))
        check_sizes(OWNER, "hidden_sizes", self.hidden_sizes)
        if self.window > self.epochs:
            raise ConfigError(f"{OWNER}: window ({self.window}) cannot exceed epochs ({self.epochs})")
        check_above_zero(OWNER, self, "lr")
        if not 1 <= self.n_show <= 10:
            raise ConfigError(f"{OWNER}: n_show must be in 1..10 (one digit each), got {self.n_show}")
        if len(build_pipeline(self.augment)) == 0:  # building it also rejects unknown or malformed transforms
            raise ConfigError(f"{OWNER}: augment must name at least one transform")


def run(config: Config, seed: int = 0) -> dict:
    """Train the MLP without and with augmentation; keep a few augmented digits for the figure."""
    data = load_subset(config.dataset, config.n_train, config.n_test, seed=seed)
    pipeline = build_pipeline(config.augment, image_shape=(1, 28, 28))
    init_seed, order_seed, show_seed = (int(s) for s in np.random.default_rng(seed).integers(0, 2**31, size=3))
    runs = {}
    for label, augment in (("without", None), ("with", pipeline)):
        model = MultiLayerNet(784, list(config.hidden_sizes), 10, activation="relu", weight_init="he",
                              seed=init_seed)
        trainer = Trainer(model, create_optimizer("sgd", model.parameters(), lr=config.lr),
                          batch_size=config.batch_size, epochs=config.epochs, seed=order_seed,
                          augment=augment, eval_sets={"test": (data.x_test, data.t_test)}, progress=False)
        history = trainer.fit(data.x_train, data.t_train)
        train_acc = np.asarray(history.series("train_acc"))
        test_acc = np.asarray(history.series("test_acc"))
        gap = train_acc - test_acc
        w = config.window
        runs[label] = {"train_acc": np.round(train_acc, 5).tolist(), "test_acc": np.round(test_acc, 5).tolist(),
                       "train_loss": np.round(history.series("train_loss"), 5).tolist(),
                       "final_train_acc": float(train_acc[-1]), "final_test_acc": float(test_acc[-1]),
                       "mean_train_acc": float(train_acc[-w:].mean()), "mean_test_acc": float(test_acc[-w:].mean()),
                       "mean_gap": float(gap[-w:].mean()), "best_test_acc": float(test_acc.max())}
    # The first training image of each digit 0..n_show-1, and n_variants augmented copies of it.
    present = [c for c in range(config.n_show) if np.any(data.t_train == c)]
    index = [int(np.flatnonzero(data.t_train == c)[0]) for c in present]
    originals = data.x_train[index]                                          # (S, 784)
    copies = np.repeat(originals, config.n_variants, axis=0)                 # (S * V, 784)
    augmented = pipeline(copies, np.random.default_rng(show_seed)).reshape(len(index), config.n_variants, 784)
    return {"dataset": data.name, "n_train": len(data.t_train), "n_test": len(data.t_test),
            "epochs": list(range(1, config.epochs + 1)), "pipeline": pipeline.get_config(), "runs": runs,
            "samples": {"labels": present, "original": encode_images(originals),
                        "augmented": [encode_images(a) for a in augmented]}}


def check(metrics: dict, config: Config) -> list[Claim]:
    off, on = metrics["runs"]["without"], metrics["runs"]["with"]
    w = config.window
    gain = on["mean_test_acc"] - off["mean_test_acc"]
    reduction = off["mean_gap"] - on["mean_gap"]
    return [
        CLAIMS.claim("raises-test-accuracy",
                     f"Augmentation raises test accuracy (mean over the last {w} epochs) by at least "
                     f"{config.min_test_gain}",
                     gain >= config.min_test_gain,
                     f"test accuracy without {off['mean_test_acc']:.4f}, with {on['mean_test_acc']:.4f} ({gain:+.4f}); "
                     f"best epoch {off['best_test_acc']:.4f} -> {on['best_test_acc']:.4f}; "
                     f"{metrics['n_test']} test images",
                     values={"test accuracy without": off["mean_test_acc"], "test accuracy with": on["mean_test_acc"],
                             "gain": gain, "threshold": config.min_test_gain}),
        CLAIMS.claim("shrinks-gap",
                     f"Augmentation shrinks the train-test gap (mean over the last {w} epochs) by at least "
                     f"{config.min_gap_reduction}",
                     reduction >= config.min_gap_reduction,
                     f"gap without {off['mean_gap']:.4f} (train {off['mean_train_acc']:.4f}), "
                     f"with {on['mean_gap']:.4f} (train {on['mean_train_acc']:.4f}, measured on the unmodified "
                     "training images); "
                     f"change {-reduction:+.4f}",
                     values={"gap without": off["mean_gap"], "gap with": on["mean_gap"], "reduction": reduction,
                             "threshold": config.min_gap_reduction}),
    ]


def book(metrics: dict, config: Config) -> list[BookValue]:
    off, on = metrics["runs"]["without"], metrics["runs"]["with"]
    note = "sec. 8.1.2 describes augmentation (rotation, shift, crop, flip) and gives no numbers for it"
    return [
        BookValue(f"test accuracy without augmentation (mean of the last {config.window} epochs)", None,
                  round(off["mean_test_acc"], 4), note),
        BookValue(f"test accuracy with augmentation (mean of the last {config.window} epochs)", None,
                  round(on["mean_test_acc"], 4), note),
    ]


register(ExperimentSpec(
    name=NAME,
    title="Data augmentation on 1,000 MNIST images",
    summary="A 784-100-100-10 MLP trained on the first 1,000 MNIST images with and without random rotation, "
            "zoom and shift of every batch: test accuracy and the train-test gap.",
    config_cls=Config, run=run, check=check, plot=plot_augmentation, book=book,
    quick={"n_test": 2000, "epochs": 30, "window": 5},
    claims=CLAIMS,
    seeds=5,  # what make run gives it (see docs/experiments.md)
))
