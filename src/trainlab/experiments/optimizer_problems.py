"""No optimizer is best on every problem: the book's four ranked on the valley and on three MNIST set-ups.

The book's four (SGD, Momentum, AdaGrad, Adam) are ranked by the loss they
reach on four problems, each declared here before any run:

- ``valley``: f(x, y) = x^2/20 + y^2 from (-7, 2), 30 steps, the book's
  learning rates of figure 6-8 (SGD 0.95, Momentum 0.1, AdaGrad 1.5, Adam 0.3);
  the loss is f at the last step;
- ``mnist-book``: a 784-50-50-50-50-10 ReLU network (He weights) with the
  book's MNIST learning rates (SGD 0.01, Momentum 0.01, AdaGrad 0.01, Adam 0.001);
- ``mnist-lr-x10``: the same network, every learning rate ten times the book's;
- ``mnist-sigmoid``: the same widths with sigmoid units (Xavier weights), the
  book's learning rates.

On MNIST every optimizer starts from the same weights and sees the same
batches; the loss is the mean batch loss over the last tenth of training (a
run whose loss stops being finite ranks last). Rankings differ only when an
order is reversed by a clear margin: optimizer A ahead of B by a factor
``margin`` (1.25) on one problem and B ahead of A by the same factor on another,
so that batch noise between two close runs is not read as a change.

Reference: Saito, *Deep Learning from Scratch*, sec. 6.1.7-6.1.8.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from trainlab.experiments.base import Claim, ClaimTable, ExperimentSpec, register
from trainlab.experiments.common import (
    BOOK_FOUR, book_optimizers, check_dataset, check_sizes, load_subset, settings, split_seed,
)
from trainlab.functions2d import valley, valley_grad
from trainlab.layers.base import Parameter
from trainlab.models.mlp import MultiLayerNet
from trainlab.optim import create_optimizer
from trainlab.plots.optimizer_problems import plot_optimizer_problems
from trainlab.training import Trainer
from trainlab.validation import check_int, check_positive, check_real

NAME = "optimizer-problems"
OWNER = f"experiment {NAME}"

CLAIMS = ClaimTable(NAME, {
    "no-optimizer-best-everywhere": "seed 002 (S002-14); book 6.1.7",
    "mnist-depends-on-lr": "seed 002 (S002-15); book 6.1.8",
    "mnist-depends-on-structure": "seed 002 (S002-15); book 6.1.8",
})

#: The book's learning rates of figure 6-8 (ch06/optimizer_compare_naive.py).
VALLEY_LR = {"SGD": 0.95, "Momentum": 0.1, "AdaGrad": 1.5, "Adam": 0.3}
#: The book's MNIST learning rates (ch06/optimizer_compare_mnist.py).
BOOK_LR = {"SGD": 0.01, "Momentum": 0.01, "AdaGrad": 0.01, "Adam": 0.001}
#: The MNIST problems: name -> (activation, initial weights, factor on the book's learning rates).
MNIST_PROBLEMS = {
    "mnist-book": ("relu", "he", 1.0),
    "mnist-lr-x10": ("relu", "he", 10.0),
    "mnist-sigmoid": ("sigmoid", "xavier", 1.0),
}
PROBLEMS = ("valley", *MNIST_PROBLEMS)


@dataclass(frozen=True)
class Config:
    dataset: str = "mnist"
    n_train: int = 10000
    n_test: int = 0
    hidden: tuple[int, ...] = (50, 50, 50, 50)
    batch_size: int = 100
    iterations: int = 400
    valley_steps: int = 30
    #: A reversed order counts when each side leads by at least this factor in loss.
    margin: float = 1.25

    def __post_init__(self):
        check_dataset(OWNER, self.dataset)
        check_positive(OWNER, **settings(self, "n_train", "batch_size"))
        check_int(OWNER, "n_test", self.n_test, low=0)
        check_int(OWNER, "iterations", self.iterations, low=10)
        check_int(OWNER, "valley_steps", self.valley_steps, low=2)
        check_sizes(OWNER, "hidden", self.hidden)
        check_real(OWNER, "margin", self.margin, low=1.0)


def _final_loss(loss: list[float], diverged: bool) -> float | None:
    """Mean batch loss over the last tenth of training; None when training stopped on a non-finite loss."""
    if diverged or not loss:
        return None
    tail = np.asarray(loss[-max(1, len(loss) // 10):], np.float64)
    return float(tail.mean()) if np.isfinite(tail).all() else None


def _valley_end(name: str, hyper: dict, steps: int) -> float:
    """f at the last of ``steps`` steps on the valley from (-7, 2)."""
    p = Parameter(np.array([-7.0, 2.0]), decay=False)
    opt = create_optimizer(name, [p], **hyper)
    for _ in range(steps):
        p.grad = valley_grad(p.data)
        opt.step()
    return float(valley(p.data))


def run(config: Config, seed: int = 0) -> dict:
    """The final loss of each of the book's four on each problem."""
    out: dict = {"problems": {}, "dataset": config.dataset}
    out["problems"]["valley"] = {
        "description": f"f = x\u00b2/20 + y\u00b2 from (-7, 2), {config.valley_steps} steps, figure 6-8's rates",
        "loss": {label: _valley_end(name, hyper, config.valley_steps)
                 for label, name, hyper in book_optimizers(**{k.lower(): v for k, v in VALLEY_LR.items()})},
        "lr": dict(VALLEY_LR)}
    data = load_subset(config.dataset, config.n_train, config.n_test, seed=seed)
    init_seed, batch_seed = split_seed(seed)
    widths = "-".join(str(h) for h in config.hidden)
    for problem, (activation, init, factor) in MNIST_PROBLEMS.items():
        losses, curves, lrs = {}, {}, {}
        for label, name, hyper in book_optimizers(**{k.lower(): v * factor for k, v in BOOK_LR.items()}):
            model = MultiLayerNet(data.x_train.shape[1], config.hidden, 10, activation=activation,
                                  weight_init=init, seed=init_seed)
            optimizer = create_optimizer(name, model.named_parameters(), **hyper)
            history = Trainer(model, optimizer, batch_size=config.batch_size, iterations=config.iterations,
                              seed=batch_seed, eval_train=False, progress=False,
                              on_nonfinite="stop").fit(data.x_train, data.t_train)
            losses[label] = _final_loss(history.loss, history.diverged_at is not None)
            finite = [x if math.isfinite(x) else None for x in history.loss]
            curves[label] = finite[:: max(1, len(finite) // 100)]
            lrs[label] = hyper["lr"]
        out["problems"][problem] = {
            "description": f"{data.name} {widths} {activation}, {init} weights, book's rates x{factor:g}",
            "loss": losses, "curves": curves, "lr": lrs}
    return out


def _rank_key(loss: float | None) -> float:
    return math.inf if loss is None else loss


def ranking(problem: dict) -> list[str]:
    """The book's four, lowest loss first (a diverged run last)."""
    return sorted(BOOK_FOUR, key=lambda k: _rank_key(problem["loss"][k]))


def _leads(problem: dict, a: str, b: str, margin: float) -> bool:
    """``a``'s loss is below ``b``'s by at least the factor ``margin`` (any finite loss leads a diverged one)."""
    la, lb = problem["loss"][a], problem["loss"][b]
    return la is not None and (lb is None or lb >= margin * la)


def reversals(p: dict, q: dict, margin: float) -> list[tuple[str, str]]:
    """Pairs (a, b) with a clearly ahead of b on ``p`` and b clearly ahead of a on ``q``."""
    return [(a, b) for a in BOOK_FOUR for b in BOOK_FOUR if a != b and _leads(p, a, b, margin)
            and _leads(q, b, a, margin)]


def _order(problem: dict) -> str:
    return " < ".join(f"{k} {problem['loss'][k]:.3g}" if problem["loss"][k] is not None else f"{k} diverged"
                      for k in ranking(problem))


def _values(problems: dict, names) -> dict[str, float]:
    return {f"{name}: {k} loss": problems[name]["loss"][k] for name in names for k in BOOK_FOUR
            if problems[name]["loss"][k] is not None}


def _reversal_claim(key: str, statement: str, problems: dict, base: str, other: str, config: Config) -> Claim:
    found = reversals(problems[base], problems[other], config.margin)
    said = ", ".join(f"{a} ahead of {b} on {base}, behind on {other}" for a, b in found) or "none"
    return CLAIMS.claim(
        key, statement, bool(found),
        f"{base}: {_order(problems[base])}; {other}: {_order(problems[other])}; orders reversed by a factor "
        f">= {config.margin:g} both ways: {said}",
        values={**_values(problems, (base, other)), "reversed pairs": len(found), "margin": config.margin})


def check(metrics: dict, config: Config) -> list[Claim]:
    problems = metrics["problems"]
    # An optimizer is near the best on a problem when its loss is within the margin of the lowest one.
    near_best = {}
    for k in BOOK_FOUR:
        near_best[k] = [p for p in PROBLEMS
                        if not any(_leads(problems[p], o, k, config.margin) for o in BOOK_FOUR if o != k)]
    everywhere = [k for k, ps in near_best.items() if len(ps) == len(PROBLEMS)]
    best = {p: ranking(problems[p])[0] for p in PROBLEMS}
    pairs = sum(bool(reversals(problems[p], problems[q], config.margin)) for p, q in combinations(PROBLEMS, 2))
    claims = [CLAIMS.claim(
        "no-optimizer-best-everywhere",
        f"No one of the book's four is best on every problem: each is beaten by a factor >= {config.margin:g} "
        "on at least one of the four problems",
        not everywhere,
        "best: " + ", ".join(f"{p} {b}" for p, b in best.items()) + "; within the margin of the best on: "
        + "; ".join(f"{k} {', '.join(ps) or 'none'}" for k, ps in near_best.items())
        + (f"; best or tied everywhere: {', '.join(everywhere)}" if everywhere else ""),
        values={**{f"{k} problems near the best": len(ps) for k, ps in near_best.items()},
                "problems": len(PROBLEMS), "problem pairs with a reversed order": pairs})]
    claims.append(_reversal_claim(
        "mnist-depends-on-lr",
        "On MNIST the ranking of the four depends on the learning rate: with every rate ten times the book's, "
        "some order of two optimizers is reversed", problems, "mnist-book", "mnist-lr-x10", config))
    claims.append(_reversal_claim(
        "mnist-depends-on-structure",
        "On MNIST the ranking depends on the network's structure: with sigmoid units instead of ReLU (same "
        "rates), some order of two optimizers is reversed", problems, "mnist-book", "mnist-sigmoid", config))
    return claims


register(ExperimentSpec(
    name=NAME,
    title="No optimizer is best on every problem: the book's four ranked on four problems",
    summary="SGD, Momentum, AdaGrad and Adam ranked by final loss on the valley of figure 6-8 and on three "
            "MNIST set-ups (the book's rates, rates x10, sigmoid units); the ranking changes.",
    config_cls=Config, run=run, check=check, plot=plot_optimizer_problems,
    quick={"n_train": 2000, "iterations": 60},
    claims=CLAIMS,
    seeds=5,  # what make run gives it (see docs/experiments.md)
))
