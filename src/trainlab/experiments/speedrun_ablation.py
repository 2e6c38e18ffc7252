"""What each technique of a speedrun recipe is worth at a fixed time budget.

A small recipe of the kind ``trainlab speedrun`` runs (a 4x4 stride-2 stem and
one stage of 3x3 convolutions, BatchNorm, He initial weights, Adam with a
warm-up and cosine decay, weight decay, random shifts) is trained within
``budget_seconds`` of wall time, and so is the same recipe with one technique
removed or swapped at a time: BatchNorm off, He -> std 0.01, Adam -> plain
SGD, a constant learning rate, no augmentation, no weight decay. Every run
stops at the budget (or at the end of its epochs) and is scored once on the
test images. A technique is worth ``100 * (acc(recipe) - acc(without it))``
points; each claim says it is worth at least the points its threshold
declares. The thresholds were written in the config before any run; where
the numbers say otherwise the claim FAILs, which is the finding (at a budget
of seconds, augmentation and weight decay have had no time to pay off).

The budget is wall time, so the steps each variant gets depend on the
machine and its load (BatchNorm costs time per step; the metrics record the
steps and epochs each run reached).

Reference: book 6.1-6.4 and 8.1.2 for the
techniques; Ioffe & Szegedy 2015 (BatchNorm), He et al. 2015 (initialisation),
Kingma & Ba 2015 (Adam), Loshchilov & Hutter 2017 (cosine decay with warm restarts).
"""

from __future__ import annotations

from dataclasses import dataclass

from trainlab.data.subsets import load_subset
from trainlab.experiments.base import BookValue, Claim, ClaimTable, ExperimentSpec, register
from trainlab.experiments.common import check_dataset, settings
from trainlab.plots.speedrun import plot_speedrun_ablation
from trainlab.speedrun import Recipe, ablation_variants, run_recipe
from trainlab.validation import check_int, check_positive, check_real

NAME = "speedrun-ablation"
OWNER = f"experiment {NAME}"

#: The claims ``check`` decides: key -> source.
CLAIMS = ClaimTable(NAME, {
    "batchnorm-worth": "book 6.3.1-6.3.2 (Ioffe & Szegedy 2015: BatchNorm speeds up learning)",
    "he-init-worth": "book 6.2.2-6.2.4 (He et al. 2015)",
    "optimizer-worth": "book 6.1.6-6.1.8 (Kingma & Ba 2015: Adam)",
    "schedule-worth": "learning-rate decay (Loshchilov & Hutter 2017; Goyal et al. 2017, warm-up)",
    "augmentation-worth": "book 8.1.2 (data augmentation)",
    "weight-decay-worth": "book 6.4.2 (weight decay)",
})

#: Claim key -> the ablation variant it compares with the recipe, and the technique's name.
VARIANTS = {"batchnorm-worth": ("no-batchnorm", "BatchNorm"), "he-init-worth": ("init-0.01", "He initialisation"),
            "optimizer-worth": ("plain-sgd", "Adam (against plain SGD)"),
            "schedule-worth": ("constant-lr", "warm-up and cosine decay"),
            "augmentation-worth": ("no-augmentation", "augmentation"),
            "weight-decay-worth": ("no-weight-decay", "weight decay")}


@dataclass(frozen=True)
class Config:
    dataset: str = "mnist"
    #: The first n_train training and n_test test images (5,000 at batch 64: 79 steps, which the full
    #: recipe completes within the budget on one core of the 2-core machine, so its schedule ends).
    n_train: int = 5000
    n_test: int = 5000
    #: Wall-time budget of every run, seconds (training stops at the first step past it, then the score).
    budget_seconds: float = 4.0
    stem: int = 16
    stages: tuple[tuple[int, ...], ...] = ((32,),)
    batch_size: int = 64
    epochs: float = 1.0
    lr: float = 4e-3
    warmup: float = 0.1
    weight_decay: float = 5e-4
    augment: str = "shift:1"
    #: The plain-SGD variant's learning rate.
    sgd_lr: float = 0.1
    #: Points (percent of test accuracy) each technique must be worth, declared before the first run.
    #: Priors: BatchNorm and Adam matter most in a short run; the schedule a little; He init little
    #: with BatchNorm (it normalises the scale away, but not the classifier's); augmentation and weight
    #: decay regularise, which a budget of seconds gives no time to pay off, so they ask only > 0.
    min_points_batchnorm: float = 1.0
    min_points_he_init: float = 0.2
    min_points_optimizer: float = 1.0
    min_points_schedule: float = 0.2
    min_points_augmentation: float = 0.01
    min_points_weight_decay: float = 0.01

    def __post_init__(self):
        check_dataset(OWNER, self.dataset)
        check_positive(OWNER, **settings(self, "n_train", "n_test", "batch_size"))
        check_int(OWNER, "stem", self.stem, low=0)
        check_real(OWNER, "budget_seconds", self.budget_seconds, low=0.0, low_open=True)
        for name in ("min_points_batchnorm", "min_points_he_init", "min_points_optimizer", "min_points_schedule",
                     "min_points_augmentation", "min_points_weight_decay"):
            check_real(OWNER, name, getattr(self, name))
        recipe(self)  # the recipe's own checks (stages, rates, augmentation spec)


def recipe(config: Config) -> Recipe:
    """The recipe every variant starts from; its time target is the budget."""
    return Recipe(f"{NAME}", config.dataset, 0.0, config.budget_seconds, stages=tuple(config.stages),
                  stem=config.stem, lr=config.lr, warmup=config.warmup, weight_decay=config.weight_decay,
                  epochs=config.epochs, batch_size=config.batch_size, augment=config.augment,
                  sgd_lr=config.sgd_lr)


def run(config: Config, seed: int = 0) -> dict:
    """The recipe and each variant, one after the other, each within the budget; test accuracy of each."""
    data = load_subset(config.dataset, config.n_train, config.n_test, seed=seed, flatten=False)
    out = {}
    for name, (changed, variant) in ablation_variants(recipe(config)).items():
        r = run_recipe(variant, seed, budget=config.budget_seconds, data=data)
        out[name] = {"changed": changed, "test_acc": r["test_acc"], "steps": r["steps"],
                     "planned_steps": r["planned_steps"], "epochs": r["epochs"], "seconds": r["seconds"],
                     "stopped_at_budget": r["stopped_at_budget"], "load_average": r["load_average"]}
    return {"dataset": data.name, "n_train": int(len(data.x_train)), "n_test": int(len(data.x_test)),
            "budget_seconds": config.budget_seconds, "variants": out}


def _threshold(config: Config, key: str) -> float:
    return getattr(config, "min_points_" + key[:-len("-worth")].replace("-", "_"))


def check(metrics: dict, config: Config) -> list[Claim]:
    v = metrics["variants"]
    full = v["recipe"]
    claims = []
    for key, (variant, technique) in VARIANTS.items():
        least = _threshold(config, key)
        other = v[variant]
        worth = 100 * (full["test_acc"] - other["test_acc"])
        claims.append(CLAIMS.claim(
            key, f"{technique} is worth at least {least:g} points of test accuracy at a budget of "
                 f"{metrics['budget_seconds']:g} s on {metrics['dataset']}",
            worth >= least,
            f"recipe {full['test_acc']:.4f} ({full['steps']} steps, {full['epochs']:.2f} epochs), "
            f"{other['changed']}: {other['test_acc']:.4f} ({other['steps']} steps, {other['epochs']:.2f} epochs): "
            f"worth {worth:+.2f} points (at least {least:g} declared)",
            values={"points": worth, "threshold": least, "recipe test accuracy": full["test_acc"],
                    "variant test accuracy": other["test_acc"], "variant steps": other["steps"]}))
    return claims


def book(metrics: dict, config: Config) -> list[BookValue]:
    return []


register(ExperimentSpec(
    name=NAME,
    title="Speedrun ablation: what each technique is worth at a fixed time budget",
    summary="A small speedrun recipe and the same recipe with one technique removed at a time (BatchNorm, "
            "He initialisation, Adam, the schedule, augmentation, weight decay), each within the same "
            "wall-time budget: test accuracy, steps reached, points each technique is worth.",
    config_cls=Config, run=run, check=check, plot=plot_speedrun_ablation, book=book,
    quick={"dataset": "synthetic", "n_train": 400, "n_test": 200, "budget_seconds": 0.4, "stem": 4,
           "stages": ((8,),), "batch_size": 32},
    claims=CLAIMS,
    seeds=2,
))
