"""The speedrun's recipes: a network, its training and its data, fixed before any run.

A :class:`Recipe` names everything a run does: the architecture (stages of
3x3 convolutions, each stage ending in a 2x2 max pool, then an optional
hidden layer and the classifier), BatchNorm and the initialisation, the
optimizer, learning-rate schedule, weight decay, batch size and epochs, the
augmentation of the training batches and test-time augmentation. It is the
one place where a recipe is written down; :func:`build_model`,
:func:`make_optimizer`, :func:`make_loss` and :func:`make_augmentation` read it, and
:func:`ablation_variants` derives the recipe with one technique removed.

Each recipe aims at one target of the speedrun (test accuracy, mean over seeds,
within a median wall time on 2 cores). How the recipes were chosen (on a
validation split of the training set) is told in ``docs/speedrun.md``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainlab.errors import ConfigError
from trainlab.init import check_init_spec
from trainlab.layers import (
    BatchNorm2d, Conv2d, CrossEntropyLoss, Dropout, Flatten, Linear, MaxPool2d, ReLU, Sequential,
)
from trainlab.optim import CosineDecay, LinearWarmup, create_optimizer
from trainlab.validation import check_choice, check_int, check_real

#: Schedules a recipe may use: ``cosine`` (a linear warm-up over ``warmup`` of the steps, then half a cosine
#: down to 0 at the last step) and ``constant`` (the base rate throughout, no warm-up).
SCHEDULES = ("cosine", "constant")
#: Optimizers a recipe may use (trainlab's registry names); ``sgd`` with ``momentum=0`` is plain SGD.
OPTIMIZERS = ("adam", "adamw", "sgd")
DATASETS = ("mnist", "fashion-mnist", "synthetic")


@dataclass(frozen=True)
class Recipe:
    """One speedrun recipe. Sizes are for (1, 28, 28) images and 10 classes.

    ``stages`` holds the output channels of the 3x3 convolutions (padding 1) of each stage;
    every stage ends in a 2x2 max pool (28 -> 14 -> 7 -> 3). ``epochs`` may be fractional
    (the run is ``round(epochs * batches per epoch)`` steps). ``weight_decay`` is the
    optimizer's (coupled L2 for Adam and SGD, decoupled for AdamW), on weights only.
    ``sgd_lr`` is the learning rate of the plain-SGD ablation (declared with the recipe,
    not tuned on the test set). ``tta_hflip``: the test score of an image is the mean of
    the softmax of it and of its mirror image (inside the timed run).
    """

    name: str
    dataset: str
    #: The target this recipe aims at: mean test accuracy over seeds ...
    target: float
    #: ... within this median wall time (seconds); also the ablation's time budget.
    time_target: float
    stages: tuple[tuple[int, ...], ...]
    #: Channels of a 4x4 convolution of stride 2 (padding 1) before the stages, 28 -> 14; 0: none.
    stem: int = 0
    hidden: int = 0
    dropout: float = 0.0
    batchnorm: bool = True
    init: str | float = "he"
    optimizer: str = "adam"
    lr: float = 3e-3
    momentum: float = 0.0
    weight_decay: float = 0.0
    schedule: str = "cosine"
    warmup: float = 0.1
    epochs: float = 1.0
    batch_size: int = 128
    augment: str = ""
    tta_hflip: bool = False
    sgd_lr: float = 0.1
    #: The training loss's label smoothing (``CrossEntropyLoss(label_smoothing=...)``); 0: none.
    label_smoothing: float = 0.0

    def __post_init__(self):
        owner = f"speedrun recipe {self.name!r}"
        check_choice(owner, "dataset", self.dataset, DATASETS)
        check_real(owner, "target", self.target, low=0.0, high=1.0)
        check_real(owner, "time_target", self.time_target, low=0.0, low_open=True)
        if not self.stages or any(not stage for stage in self.stages):
            raise ConfigError(f"{owner}: stages must be a non-empty tuple of non-empty tuples of channels, "
                              f"got {self.stages!r}")
        check_int(owner, "stem", self.stem, low=0)
        most = 2 if self.stem else 3
        if len(self.stages) > most:
            raise ConfigError(f"{owner}: at most {most} stages fit a 28x28 image (28 -> 14 -> 7 -> 3, the stem "
                              f"halving it first), got {len(self.stages)}")
        for stage in self.stages:
            for width in stage:
                check_int(owner, "stage channels", width, low=1)
        check_int(owner, "hidden", self.hidden, low=0)
        check_real(owner, "dropout", self.dropout, low=0.0, high=1.0, high_open=True)
        check_init_spec(self.init)
        check_choice(owner, "optimizer", self.optimizer, OPTIMIZERS)
        for name in ("lr", "sgd_lr", "epochs"):
            check_real(owner, name, getattr(self, name), low=0.0, low_open=True)
        check_real(owner, "momentum", self.momentum, low=0.0, high=1.0, high_open=True)
        check_real(owner, "weight_decay", self.weight_decay, low=0.0)
        check_choice(owner, "schedule", self.schedule, SCHEDULES)
        check_real(owner, "warmup", self.warmup, low=0.0, high=1.0, high_open=True)
        check_real(owner, "label_smoothing", self.label_smoothing, low=0.0, high=1.0, high_open=True)
        check_int(owner, "batch_size", self.batch_size, low=1)
        if self.augment:
            from trainlab.data import build_pipeline

            build_pipeline(self.augment, image_shape=(1, 28, 28))  # a bad spec fails here, not mid-run

    def replace(self, **changes) -> "Recipe":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["stages"] = [list(s) for s in self.stages]
        return out

    def describe(self) -> str:
        convs = (f"conv4x4/2-{self.stem} - " if self.stem else "") + " - ".join("-".join(f"conv{w}" for w in stage) + "-pool" for stage in self.stages)
        head = (f" - fc{self.hidden}" if self.hidden else "") + " - fc10"
        parts = [f"{convs}{head}", "BatchNorm" if self.batchnorm else "no BatchNorm", f"init {self.init}",
                 f"{self.optimizer} lr {self.lr:g}" + (f" momentum {self.momentum:g}" if self.momentum else ""),
                 f"{self.schedule} schedule" + (f" ({self.warmup:.0%} warm-up)" if self.schedule == "cosine"
                                                and self.warmup else ""),
                 f"weight decay {self.weight_decay:g}", f"batch {self.batch_size}", f"{self.epochs:g} epochs",
                 f"augment {self.augment or 'none'}"]
        if self.dropout:
            parts.append(f"dropout {self.dropout:g}")
        if self.label_smoothing:
            parts.append(f"label smoothing {self.label_smoothing:g}")
        if self.tta_hflip:
            parts.append("test-time mirror")
        return ", ".join(parts)


def build_model(recipe: Recipe, seed: int, input_shape=(1, 28, 28), n_classes: int = 10) -> Sequential:
    """The recipe's network: per stage (conv3x3 [- BN] - ReLU)*, the last ReLU after the 2x2 max pool.

    ReLU and max pool commute (both monotone), so the stage's last ReLU runs after
    the pool, on a quarter of the values (as in :mod:`trainlab.models.cnn`).
    Shapes: (N, C, 28, 28) -> (N, n_classes).
    """
    rng = np.random.default_rng(seed)
    C, H, W = (int(s) for s in input_shape)
    layers: list = []
    if recipe.stem:
        layers.append(Conv2d(C, recipe.stem, 4, stride=2, padding=1, bias=not recipe.batchnorm,
                             weight_init=recipe.init, input_grad=False, rng=rng))
        if recipe.batchnorm:
            layers.append(BatchNorm2d(recipe.stem))
        layers.append(ReLU())
        C, H, W = recipe.stem, H // 2, W // 2
    for stage in recipe.stages:
        for k, width in enumerate(stage):
            layers.append(Conv2d(C, width, 3, padding=1, bias=not recipe.batchnorm, weight_init=recipe.init,
                                 input_grad=bool(layers), rng=rng))
            if recipe.batchnorm:
                layers.append(BatchNorm2d(width))
            if k < len(stage) - 1:
                layers.append(ReLU())
            C = width
        layers += [MaxPool2d(2), ReLU()]
        H, W = H // 2, W // 2
    layers.append(Flatten())
    features = C * H * W
    if recipe.hidden:
        layers += [Linear(features, recipe.hidden, weight_init=recipe.init, rng=rng), ReLU()]
        features = recipe.hidden
    if recipe.dropout:
        layers.append(Dropout(recipe.dropout, rng=rng))
    layers.append(Linear(features, n_classes, weight_init=recipe.init, rng=rng))
    return Sequential(*layers)


def learning_rate(recipe: Recipe, lr: float, total_steps: int):
    """The schedule over ``total_steps`` updates: warm-up then cosine to 0, or the constant ``lr``."""
    if recipe.schedule == "constant":
        return lr
    warmup = int(round(recipe.warmup * total_steps))
    if warmup < 1:
        return CosineDecay(lr, total_steps)
    return LinearWarmup(CosineDecay(lr, max(1, total_steps - warmup)), warmup)


def make_optimizer(recipe: Recipe, model, total_steps: int):
    """The recipe's optimizer over ``model``'s parameters, its rate following :func:`learning_rate`."""
    hyper: dict[str, Any] = {"lr": learning_rate(recipe, recipe.lr, total_steps),
                             "weight_decay": recipe.weight_decay}
    if recipe.optimizer == "sgd":
        hyper["momentum"] = recipe.momentum
        if recipe.momentum:
            hyper["nesterov"] = True
    return create_optimizer(recipe.optimizer, model.named_parameters(), **hyper)


def make_loss(recipe: Recipe) -> CrossEntropyLoss:
    """The training loss: softmax cross-entropy, with the recipe's label smoothing."""
    return CrossEntropyLoss(label_smoothing=recipe.label_smoothing)


def make_augmentation(recipe: Recipe):
    """The training batches' augmentation (``None`` for none)."""
    if not recipe.augment:
        return None
    from trainlab.data import build_pipeline

    return build_pipeline(recipe.augment, image_shape=(1, 28, 28))


def ablation_variants(recipe: Recipe) -> dict[str, tuple[str, Recipe]]:
    """The recipe and, for each technique it uses, the recipe with that one technique removed or swapped.

    Returns ``{key: (what changed, recipe)}``, the full recipe first under ``"recipe"``.
    Techniques the recipe does not use (no augmentation, no weight decay) have no variant.
    """
    out: dict[str, tuple[str, Recipe]] = {"recipe": ("the recipe as it is", recipe)}
    if recipe.batchnorm:
        out["no-batchnorm"] = ("BatchNorm off (convolutions get biases)", recipe.replace(batchnorm=False))
    if recipe.init != 0.01:
        out["init-0.01"] = (f"initial weights of std 0.01 instead of {recipe.init}", recipe.replace(init=0.01))
    if recipe.optimizer != "sgd" or recipe.momentum:
        out["plain-sgd"] = (f"plain SGD (lr {recipe.sgd_lr:g}, no momentum) instead of {recipe.optimizer}",
                            recipe.replace(optimizer="sgd", momentum=0.0, lr=recipe.sgd_lr))
    if recipe.schedule != "constant":
        out["constant-lr"] = (f"constant learning rate {recipe.lr:g} (no warm-up, no decay)",
                              recipe.replace(schedule="constant"))
    if recipe.augment:
        out["no-augmentation"] = (f"no augmentation (instead of {recipe.augment})", recipe.replace(augment=""))
    if recipe.weight_decay:
        out["no-weight-decay"] = (f"no weight decay (instead of {recipe.weight_decay:g})",
                                  recipe.replace(weight_decay=0.0))
    if recipe.dropout:
        out["no-dropout"] = (f"no dropout (instead of {recipe.dropout:g})", recipe.replace(dropout=0.0))
    if recipe.label_smoothing:
        out["no-label-smoothing"] = (f"no label smoothing (instead of {recipe.label_smoothing:g})",
                                     recipe.replace(label_smoothing=0.0))
    if recipe.tta_hflip:
        out["no-tta"] = ("no test-time mirror", recipe.replace(tta_hflip=False))
    return out


#: The fixed recipes, by (dataset, target accuracy). Chosen on a validation split (docs/speedrun.md).
RECIPES: dict[tuple[str, float], Recipe] = {}


def add_recipe(recipe: Recipe) -> Recipe:
    RECIPES[(recipe.dataset, recipe.target)] = recipe
    return recipe


add_recipe(Recipe("mnist-99.0", "mnist", 0.990, 20.0, stem=16, stages=((32,), (64,)), lr=6e-3, epochs=2.5,
                  batch_size=128))
add_recipe(Recipe("mnist-99.5", "mnist", 0.995, 120.0, stages=((24,), (48,), (96,)), hidden=0, lr=6e-3,
                  weight_decay=5e-5, epochs=8, batch_size=128, augment="shift:2"))
add_recipe(Recipe("fashion-93.0", "fashion-mnist", 0.930, 300.0, stages=((16,), (64,), (128,)), hidden=256,
                  dropout=0.2, lr=6e-3, weight_decay=5e-5, epochs=11, batch_size=128, augment="shift:2 hflip",
                  tta_hflip=True))
add_recipe(Recipe("fashion-94.0", "fashion-mnist", 0.940, 1200.0, stages=((16,), (64, 64), (128,)), hidden=256,
                  dropout=0.2, lr=6e-3, weight_decay=5e-5, epochs=19, batch_size=128, augment="shift:2 hflip",
                  tta_hflip=True))


def recipe_for(dataset: str, target: float | None = None) -> Recipe:
    """The recipe for ``dataset`` aiming at ``target`` (default: the dataset's lowest target)."""
    names = {"fmnist": "fashion-mnist"}
    dataset = names.get(dataset, dataset)
    known = sorted(t for d, t in RECIPES if d == dataset)
    if not known:
        datasets = sorted({d for d, _ in RECIPES})
        raise ConfigError(f"speedrun: no recipe for dataset {dataset!r}; valid: {', '.join(datasets)}")
    if target is None:
        return RECIPES[(dataset, known[0])]
    for t in known:
        if abs(t - target) < 1e-9:
            return RECIPES[(dataset, t)]
    raise ConfigError(f"speedrun: no {dataset} recipe aims at {target}; targets: "
                      f"{', '.join(f'{t:g}' for t in known)}")
