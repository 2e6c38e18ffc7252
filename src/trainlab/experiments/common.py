"""Helpers shared by experiments: settings checks, data subsets, seeds, the book's optimizers, MNIST training runs.

Settings are checked with :mod:`trainlab.validation`; ``owner`` names the
experiment (``"experiment optimizer-mnist"``), so a message reads
``experiment optimizer-mnist: n_train=0 is out of range; valid range: n_train >= 1``.
"""

from __future__ import annotations

import math

import numpy as np

from trainlab.data.subsets import EXPERIMENT_DATASETS, Subset, load_subset  # noqa: F401 (experiments' data)
from trainlab.errors import ConfigError
from trainlab.experiments.base import BookValue
from trainlab.training import History, Trainer
from trainlab.validation import check_choice, check_int, check_positive, check_real


# ---- settings checks shared by the experiments' Config classes -----------------------


def settings(config, *names: str) -> dict:
    """The named settings of ``config`` as keywords, for ``check_positive(owner, **settings(config, ...))``."""
    return {name: getattr(config, name) for name in names}


def check_dataset(owner: str, dataset) -> None:
    """``dataset`` must be one of :data:`EXPERIMENT_DATASETS`."""
    check_choice(owner, "dataset", dataset, EXPERIMENT_DATASETS)


def check_sizes(owner: str, name: str, sizes) -> None:
    """``sizes`` must be a non-empty sequence of integers >= 1 (hidden layers, batch sizes)."""
    if not sizes:
        raise ConfigError(f"{owner}: {name} must list at least one size, got {sizes!r}")
    for i, size in enumerate(sizes):
        check_int(owner, f"{name}[{i}]", size, low=1)


def check_fractions(owner: str, config, *names: str, include_one: bool = True) -> None:
    """Each named setting must lie in (0, 1] (or (0, 1) with ``include_one=False``)."""
    for name, value in settings(config, *names).items():
        check_real(owner, name, value, low=0.0, low_open=True, high=1.0, high_open=not include_one)


def check_above_zero(owner: str, config, *names: str) -> None:
    """Each named setting must be a number > 0 (learning rates, tolerances, scales)."""
    for name, value in settings(config, *names).items():
        check_real(owner, name, value, low=0.0, low_open=True)


# ---- data -------------------------------------------------------------------------


def split_seed(seed: int, n: int = 2) -> list[int]:
    """``n`` independent integer seeds drawn from ``seed`` (initial weights, batch order)."""
    return [int(s) for s in np.random.default_rng(seed).integers(0, 2**31 - 1, size=n)]


# ---- curves and small statistics ----------------------------------------------------


def smooth(values, window: int = 19) -> list[float]:
    """Centred moving median (the book's ``smooth_curve`` damps the same noise)."""
    v = np.asarray(values, np.float64)
    if v.size == 0:
        return []
    half = max(0, min(window, v.size) // 2)
    padded = np.pad(v, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)  # (n, w)
    return np.median(windows, axis=1).tolist()


def curve_indices(iterations: int, points: int) -> np.ndarray:
    """At most about ``points`` iteration indices, evenly spaced, first and last included."""
    stride = max(1, math.ceil(iterations / points))
    idx = np.arange(0, iterations, stride)
    return idx if idx[-1] == iterations - 1 else np.append(idx, iterations - 1)


def sign_changes(values) -> int:
    """How often consecutive non-zero entries change sign (zig-zag count)."""
    v = np.sign(np.asarray(values, np.float64))
    v = v[v != 0]
    return int((v[1:] != v[:-1]).sum())


def fmt(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}f}"


# ---- the book's four optimizers (sec. 6.1) -------------------------------------------

#: Their labels, in the book's order.
BOOK_FOUR = ("SGD", "Momentum", "AdaGrad", "Adam")
#: The book's momentum coefficient (ch06/optimizer_compare_*.py).
BOOK_MOMENTUM = 0.9


def book_optimizers(sgd: float, momentum: float, adagrad: float, adam: float) -> tuple[tuple[str, str, dict], ...]:
    """The book's four as (label, registry name, hyperparameters) with these learning rates; momentum 0.9."""
    return (("SGD", "sgd", {"lr": sgd}),
            ("Momentum", "momentum", {"lr": momentum, "momentum": BOOK_MOMENTUM}),
            ("AdaGrad", "adagrad", {"lr": adagrad}),
            ("Adam", "adam", {"lr": adam}))


# ---- iteration-based MNIST runs (optimizer-mnist, init-mnist) ------------------------

#: The book prints the batch loss every 100 iterations; its last line is iteration 1900.
BOOK_ITERATION = 1900


def check_training_run(owner: str, config) -> None:
    """Validate the settings every iteration-based MNIST run shares (optimizer-mnist's and init-mnist's)."""
    check_dataset(owner, config.dataset)
    check_positive(owner, **settings(config, "n_train", "n_test", "batch_size", "smooth_window"))
    check_int(owner, "iterations", config.iterations, low=10)
    check_int(owner, "curve_points", config.curve_points, low=2)
    check_sizes(owner, "hidden", config.hidden)


def train(model, optimizer, data: Subset, *, batch_size: int, iterations: int, seed: int) -> History:
    """Train ``model`` for ``iterations`` steps; the test set is evaluated after every epoch."""
    trainer = Trainer(model, optimizer, batch_size=batch_size, iterations=iterations, seed=seed,
                      eval_sets={"test": (data.x_test, data.t_test)}, eval_train=False, progress=False)
    return trainer.fit(data.x_train, data.t_train)


def summarise(history: History, config, at: np.ndarray) -> dict:
    """Loss curves (sampled at ``at``), the final loss and the test accuracy of one run."""
    loss = np.asarray(history.loss, np.float64)
    smoothed = np.asarray(smooth(loss, config.smooth_window))
    tail = max(1, len(loss) // 10)
    book_iter = min(BOOK_ITERATION, len(loss) - 1)
    return {
        "loss": loss[at].tolist(),
        "smoothed_loss": smoothed[at].tolist(),
        # Mean batch loss over the last tenth of training: one number per run, free of batch noise.
        "final_loss": float(loss[-tail:].mean()),
        "smoothed_loss_at_book_iteration": float(smoothed[book_iter]),
        "test_acc": float(history.last("test_acc")),
        "test_acc_curve": history.series("test_acc"),
        "eval_iterations": history.series("iteration"),
    }


def training_run_metrics(data: Subset, config, at: np.ndarray, runs: dict) -> dict:
    """The metrics of a comparison of iteration-based runs: data sizes, sampled iterations, the runs."""
    return {"dataset": data.name, "n_train": int(len(data.x_train)), "n_test": int(len(data.x_test)),
            "curve_iterations": at.tolist(), "book_iteration": min(BOOK_ITERATION, config.iterations - 1),
            "runs": runs}


def book_loss_rows(metrics: dict, config, book_loss: dict[str, float]) -> list[BookValue]:
    """The book's printed loss at :data:`BOOK_ITERATION` next to the smoothed loss measured there, per run."""
    runs = metrics["runs"]
    at = metrics["book_iteration"]
    note = (f"book: batch loss printed at iteration {BOOK_ITERATION} (one batch, noisy); measured: loss "
            f"smoothed over {config.smooth_window} iterations at iteration {at}")
    where = f"iteration {BOOK_ITERATION}"
    if at != BOOK_ITERATION:
        note += f" (this run has only {config.iterations} iterations)"
        where += f" (measured at {at})"
    return [BookValue(f"{k}: training loss at {where}", value,
                      round(runs[k]["smoothed_loss_at_book_iteration"], 4), note) for k, value in book_loss.items()]


# ---- thresholds declared per dataset ---------------------------------------------------


def per_dataset(owner: str, config, name: str, table: dict):
    """The setting ``name`` of ``config``, or when it is None the value ``table`` declares for its dataset.

    A threshold that depends on the data set is a config field defaulting to
    None plus a table ``{"mnist": ..., "fashion-mnist": ...}`` written before
    any run (with the reason beside it), so ``--set name=value`` still
    overrides it and nothing is fitted to a result.
    """
    value = getattr(config, name)
    if value is not None:
        return value
    dataset = getattr(config, "dataset", "mnist")
    if dataset not in table:
        raise ConfigError(f"{owner}: no {name} is declared for dataset {dataset!r} (declared for "
                          f"{', '.join(table)}); give one with --set {name}=VALUE")
    return table[dataset]
