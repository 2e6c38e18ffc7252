"""What one trial does: the book's objective, and the glue that runs any objective under Optuna.

An objective is a plain callable ``objective(params, ctx) -> float``:
``params`` is ``{name: value}`` drawn from the space, ``ctx`` a
:class:`TrialContext` with the trial's seed, ``ctx.report(value, step)`` for
intermediate values (it raises when the pruner stops the trial) and
``ctx.set(key, value)`` for extra records. The value is maximised by default.

:class:`BookObjective` is the book's setup (sec. 6.5.3): the first 500
training images, 20% held out for validation (shuffled with the seed), a
784-100x6-10 ReLU net with He initialisation trained by SGD in batches of
100; it reports the validation accuracy after every epoch and returns the
last one. The test set is never touched.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Callable, Mapping

import numpy as np

from trainlab.errors import ConfigError, NonFiniteError
from trainlab.search.space import ParamInfo, SearchSpace
from trainlab.training import Callback


def _optimizer_names() -> tuple[str, ...]:
    from trainlab.optim import OPTIMIZERS

    return tuple(OPTIMIZERS.names())


def _activation_names() -> tuple[str, ...]:
    from trainlab.layers.activations import ACTIVATIONS

    return tuple(ACTIVATIONS.names())


#: The hyperparameters :class:`BookObjective` understands, by their name in a space.
BOOK_PARAMETERS: dict[str, ParamInfo] = {
    "lr": ParamInfo("float", "learning rate", minimum=0.0, exclusive_min=True),
    "weight_decay": ParamInfo("float", "L2 strength lambda (the book's weight_decay_lambda)", minimum=0.0),
    "hidden": ParamInfo("int", "nodes in every hidden layer", minimum=1, field="hidden_size"),
    "layers": ParamInfo("int", "number of hidden layers", minimum=1, field="hidden_layers"),
    "batch_size": ParamInfo("int", "mini-batch size", minimum=1),
    "dropout": ParamInfo("float", "dropout probability after each hidden activation", minimum=0.0,
                         maximum=1.0, exclusive_max=True),
    "optimizer": ParamInfo("str", "optimizer name", names=_optimizer_names()),
    "activation": ParamInfo("str", "hidden activation", names=_activation_names()),
}

_DATASETS = ("mnist", "fashion-mnist", "synthetic")


@dataclass(frozen=True)
class ObjectiveConfig:
    """The fixed settings of :class:`BookObjective`; a space overrides some of them per trial."""

    dataset: str = "mnist"
    n_samples: int = 500
    val_fraction: float = 0.2
    hidden_size: int = 100
    hidden_layers: int = 6
    activation: str = "relu"
    optimizer: str = "sgd"
    lr: float = 0.01
    weight_decay: float = 0.0
    dropout: float = 0.0
    batch_size: int = 100
    epochs: int = 50

    def __post_init__(self) -> None:
        if self.dataset not in _DATASETS:
            raise ConfigError(f"unknown dataset {self.dataset!r}; valid: {', '.join(_DATASETS)}")
        for name in ("n_samples", "hidden_size", "hidden_layers", "batch_size", "epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        n_val = self.n_val
        if n_val < 1 or n_val >= self.n_samples:
            raise ConfigError(f"val_fraction {self.val_fraction} of {self.n_samples} samples leaves an empty split")
        for name, info in BOOK_PARAMETERS.items():
            info.check_value(name, getattr(self, info.field or name))

    @property
    def n_val(self) -> int:
        return int(round(self.n_samples * self.val_fraction))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "ObjectiveConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ConfigError(f"unknown objective setting(s) {', '.join(sorted(unknown))}; valid: "
                              f"{', '.join(sorted(known))}")
        return cls(**values)


# ---- the book's objective ----------------------------------------------------------

_DATA_CACHE: dict[tuple, tuple] = {}


def load_split(config: ObjectiveConfig, seed: int):
    """``((x_train, t_train), (x_val, t_val))``: the first ``n_samples`` images, shuffled with
    ``seed``, the first ``n_val`` of them held out (the book's ``shuffle_dataset`` then slice).

    Cached per process, so the trials of a worker load the data once.
    """
    from trainlab.data.subsets import load_subset

    key = (config.dataset, config.n_samples, config.n_val, int(seed))
    if key not in _DATA_CACHE:
        data = load_subset(config.dataset, config.n_samples, 0, seed=seed)  # no test images: it scores on validation
        order = np.random.default_rng(seed).permutation(len(data.x_train))
        x, t = data.x_train[order], data.t_train[order]
        n_val = config.n_val
        _DATA_CACHE[key] = ((x[n_val:], t[n_val:]), (x[:n_val], t[:n_val]))
    return _DATA_CACHE[key]


class _ReportEachEpoch(Callback):
    """Hands each epoch's validation accuracy to the trial (which may stop it) and keeps the curves."""

    def __init__(self, ctx: "TrialContext | None") -> None:
        self.ctx = ctx
        self.train_curve: list[float] = []

    def on_epoch_end(self, trainer, epoch, record):
        self.train_curve.append(float(record["train_acc"]))
        if self.ctx is not None:
            self.ctx.set("train_curve", list(self.train_curve))
            self.ctx.report(record["val_acc"], epoch)


class BookObjective:
    """Train the book's network with one set of hyperparameters; the final validation accuracy.

    Parameters
    ----------
    config : ObjectiveConfig
        Dataset, sizes, optimizer and epochs; space parameters override them.
    seed : int, default 0
        Seed of the train/validation split (the same for every trial and worker).

    Each trial's weights and shuffling use the trial's own seed (``ctx.seed``).
    """

    parameters = BOOK_PARAMETERS
    value_name = "val_acc"

    def __init__(self, config: ObjectiveConfig | None = None, seed: int = 0) -> None:
        self.config = config if config is not None else ObjectiveConfig()
        self.seed = int(seed)

    def describe(self) -> dict[str, Any]:
        return {"kind": "book", "config": self.config.to_dict(), "split_seed": self.seed}

    def resolve(self, params: Mapping[str, Any]) -> ObjectiveConfig:
        """The config with ``params`` (space names) applied."""
        changes = {}
        for name, value in params.items():
            if name not in self.parameters:
                raise ConfigError(f"unknown hyperparameter {name!r}; valid: {', '.join(self.parameters)}")
            changes[self.parameters[name].field or name] = value
        return replace(self.config, **changes)

    def train(self, params: Mapping[str, Any], seed: int, ctx: "TrialContext | None" = None, *,
              data: tuple | None = None):
        """Train one network; returns ``(model, history)``.

        ``data`` is ``((x_train, t_train), (x_val, t_val))`` to train and score
        on instead of :func:`load_split` of the config with this objective's seed.
        The weight decay is the book's L2 penalty, lambda/2 * ||W||^2 added to the
        loss (``Trainer(l2_penalty=...)``).
        """
        from trainlab.models.mlp import MultiLayerNet
        from trainlab.optim import create_optimizer
        from trainlab.training import Trainer

        cfg = self.resolve(params)
        train, val = data if data is not None else load_split(cfg, self.seed)
        n_classes = 10
        model = MultiLayerNet(train[0].shape[1], [cfg.hidden_size] * cfg.hidden_layers, n_classes,
                              activation=cfg.activation, weight_init="he", dropout=cfg.dropout, seed=int(seed))
        optimizer = create_optimizer(cfg.optimizer, model.parameters(), lr=cfg.lr)
        report = _ReportEachEpoch(ctx)
        trainer = Trainer(model, optimizer, batch_size=cfg.batch_size, epochs=cfg.epochs, seed=int(seed),
                          eval_sets={"val": val}, l2_penalty=cfg.weight_decay, callbacks=[report],
                          progress=False)
        history = trainer.fit(*train)
        return model, history

    def __call__(self, params: Mapping[str, Any], ctx: "TrialContext") -> float:
        _, history = self.train(params, ctx.seed, ctx)
        return history.last("val_acc")


# ---- running an objective under Optuna ------------------------------------------------

def trial_seed(seed: int, number: int) -> int:
    """The seed of trial ``number`` in a search seeded with ``seed`` (independent streams)."""
    return int(np.random.SeedSequence([int(seed), int(number)]).generate_state(1)[0])


class TrialContext:
    """What an objective sees of its Optuna trial."""

    def __init__(self, trial, seed: int) -> None:
        self._trial = trial
        self.seed = int(seed)
        self.number = trial.number
        self.attrs: dict[str, Any] = {}

    def report(self, value: float, step: int) -> None:
        """Record an intermediate value; raises ``optuna.TrialPruned`` when the pruner says stop."""
        import optuna

        value = float(value)
        self._trial.report(value, int(step))
        if self._trial.should_prune():
            raise optuna.TrialPruned(f"stopped at step {step} with {value:.4g}")

    def set(self, key: str, value: Any) -> None:
        """Keep a JSON value with the trial (saved when it ends, whatever the outcome)."""
        self.attrs[key] = value


class OptunaObjective:
    """``objective(params, ctx)`` as an Optuna objective ``f(trial) -> float``.

    Draws the parameters from ``space``, gives the trial a seed (a retried
    trial keeps its original one), records the run time, the objective's
    extra values and, when it raises or returns NaN, the error in the trial's
    user attributes ('error'). Picklable when ``fn`` is, so it travels to
    worker processes and Dask workers.
    """

    def __init__(self, fn: Callable[[dict, TrialContext], float], space: SearchSpace, seed: int = 0) -> None:
        self.fn, self.space, self.seed = fn, space, int(seed)

    def __call__(self, trial) -> float:
        import optuna

        params = self.space.suggest(trial)
        seed = trial.user_attrs.get("seed")
        if seed is None:
            seed = trial_seed(self.seed, trial.number)
            trial.set_user_attr("seed", seed)
        ctx = TrialContext(trial, seed)
        start = time.perf_counter()
        try:
            value = float(self.fn(params, ctx))
            if not math.isfinite(value):
                raise NonFiniteError(f"the objective returned {value}")
            return value
        except optuna.TrialPruned:
            raise
        except Exception as e:
            trial.set_user_attr("error", f"{type(e).__name__}: {e}")
            raise
        finally:
            ctx.attrs["seconds"] = round(time.perf_counter() - start, 3)
            for key, value in ctx.attrs.items():
                trial.set_user_attr(key, value)
