"""Optimizer paths on small 2-D functions: the book's figure 6-8, a saddle and a local minimum.

1. f(x, y) = x^2/20 + y^2 from (-7, 2), 30 steps: steep in y, flat in x. SGD
   zig-zags across the valley; momentum, AdaGrad and Adam take smoother paths.
2. f(x, y) = x^2 - y^2 from (1, 1e-4): a saddle at the origin. The gradient
   in y is tiny there, so plain gradient descent lingers; momentum builds up
   speed and leaves sooner.
3. f(x, y) = x^4/4 - x^2 + 0.3 x + y^2 from (2.5, 1): a local minimum near
   x = 1.33 and the global one near x = -1.49. Plain gradient descent stops in
   the local one; momentum carries past the bump.

The functions and their gradients are in :mod:`trainlab.functions2d`.

Reference: Saito, *Deep Learning from Scratch*, sec. 6.1.7 (ch06/optimizer_compare_naive.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from trainlab.experiments.base import BookValue, Claim, ClaimTable, ExperimentSpec, register
from trainlab.experiments.common import BOOK_FOUR, book_optimizers, settings, sign_changes
from trainlab.functions2d import double_well, double_well_grad, saddle_grad, valley, valley_grad
from trainlab.layers.base import Parameter
from trainlab.optim import create_optimizer
from trainlab.plots.optimizer_paths import plot_optimizer_paths
from trainlab.validation import check_int

NAME = "optimizer-paths"
OWNER = f"experiment {NAME}"

#: The claims ``check`` decides: key -> source (seed statements of the ledger, book sections, papers).
CLAIMS = ClaimTable(NAME, {
    "sgd-zigzags": "seed 000 (S000-01, S000-04), seed 001 (S001-01), seed 002 (S002-01, S002-03, S002-04, S002-11), "
        "seed 004 (S004-05); book 6.1.7, figures 6-3 and 6-8",
    "others-more-direct": "seed 000 (S000-01, S000-02), seed 001 (S001-01, S001-02), seed 002 (S002-01), "
        "seed 004 (S004-05); book 6.1.7, figure 6-8",
    "others-end-closer": "book 6.1.7, figure 6-8",
    "momentum-escapes-saddle": "seed 003 (S003-05)",
    "momentum-passes-local-minimum": "seed 003 (S003-03, S003-06)",
})

#: (label, registry name, hyperparameters). The book's four use its learning rates
#: (SGD 0.95, Momentum 0.1, AdaGrad 1.5, Adam 0.3); the rest are chosen to show a typical path.
SGD, MOMENTUM, ADAGRAD, ADAM = book_optimizers(sgd=0.95, momentum=0.1, adagrad=1.5, adam=0.3)
VALLEY_OPTIMIZERS = (
    SGD,
    MOMENTUM,
    ("Nesterov", "nesterov", {"lr": 0.1, "momentum": 0.9}),
    ADAGRAD,
    ("RMSProp", "rmsprop", {"lr": 0.15}),
    ("Adadelta", "adadelta", {"lr": 30.0}),
    ADAM,
    ("Adamax", "adamax", {"lr": 0.5}),
    ("NAdam", "nadam", {"lr": 0.3}),
    ("FTRL", "ftrl", {"lr": 1.0}),
)


@dataclass(frozen=True)
class Config:
    steps: int = 30
    saddle_steps: int = 100
    local_steps: int = 100
    escape_threshold: float = 1.0

    def __post_init__(self):
        for name, value in settings(self, "steps", "saddle_steps", "local_steps").items():
            check_int(OWNER, name, value, low=2)


def descend(name: str, hyper: dict, grad: Callable, start, steps: int) -> np.ndarray:
    """Positions (steps + 1, 2) of one optimizer from ``start``."""
    p = Parameter(np.array(start, np.float64), decay=False)
    opt = create_optimizer(name, [p], **hyper)
    path = [p.data.copy()]
    for _ in range(steps):
        p.grad = grad(p.data)
        opt.step()
        path.append(p.data.copy())
    return np.array(path)


def run(config: Config, seed: int = 0) -> dict:
    """Paths and summary numbers; deterministic (no randomness involved)."""
    out: dict = {"valley": {}, "saddle": {}, "double_well": {}}
    for label, name, hyper in VALLEY_OPTIMIZERS:
        path = descend(name, hyper, valley_grad, (-7.0, 2.0), config.steps)
        losses = [float(valley(p)) for p in path]
        out["valley"][label] = {
            "optimizer": name, "hyper": hyper, "path": path.tolist(),
            "final_distance": float(np.linalg.norm(path[-1])), "final_loss": losses[-1],
            "mean_loss": float(np.mean(losses[1:])), "y_sign_changes": sign_changes(np.diff(path[:, 1])),
            # Net progress over distance travelled: 1 for a straight line, small for a zig-zag.
            "efficiency": float(np.linalg.norm(path[-1] - path[0])
                                / max(np.linalg.norm(np.diff(path, axis=0), axis=1).sum(), 1e-12)),
        }
    for label, name, hyper in (("gradient descent", "sgd", {"lr": 0.05}),
                               ("momentum", "momentum", {"lr": 0.05, "momentum": 0.9}),
                               ("Adam", "adam", {"lr": 0.05})):
        path = descend(name, hyper, saddle_grad, (1.0, 1e-4), config.saddle_steps)
        escaped = np.nonzero(np.abs(path[:, 1]) > config.escape_threshold)[0]
        out["saddle"][label] = {"path": path[: (escaped[0] + 2 if escaped.size else None)].tolist(),
                                "escape_step": int(escaped[0]) if escaped.size else None}
    for label, name, hyper in (("gradient descent", "sgd", {"lr": 0.05}),
                               ("momentum", "momentum", {"lr": 0.05, "momentum": 0.9})):
        path = descend(name, hyper, double_well_grad, (2.5, 1.0), config.local_steps)
        out["double_well"][label] = {"path": path.tolist(), "final_x": float(path[-1, 0]),
                                     "final_loss": float(double_well(path[-1]))}
    return out


def check(metrics: dict, config: Config) -> list[Claim]:
    v = metrics["valley"]
    sgd = v["SGD"]
    others = {k: r for k, r in v.items() if k != "SGD"}
    most_other = max(r["y_sign_changes"] for r in others.values())
    counts = ", ".join(f"{k} {r['y_sign_changes']}" for k, r in others.items())
    claims = [CLAIMS.claim(
        "sgd-zigzags",
        "SGD zig-zags across the valley: its y-steps change sign more often than any other optimizer's",
        sgd["y_sign_changes"] > most_other,
        f"SGD {sgd['y_sign_changes']} sign changes in {config.steps} steps; the most among the others: "
        f"{most_other} ({counts})")]
    efficient = [k for k in BOOK_FOUR[1:] if v[k]["efficiency"] > sgd["efficiency"]]
    claims.append(CLAIMS.claim(
        "others-more-direct",
        "Momentum, AdaGrad and Adam take more direct paths than SGD "
        "(net progress / distance travelled is higher)",
        len(efficient) == 3,
        "efficiency: " + ", ".join(f"{k} {v[k]['efficiency']:.2f}" for k in BOOK_FOUR)))
    closer = [k for k in BOOK_FOUR[1:] if v[k]["final_distance"] < sgd["final_distance"]]
    claims.append(CLAIMS.claim(
        "others-end-closer",
        f"Momentum, AdaGrad and Adam end closer to the minimum than SGD after {config.steps} steps",
        len(closer) == 3,
        "distance to (0, 0): " + ", ".join(f"{k} {v[k]['final_distance']:.3f}" for k in BOOK_FOUR)
        + ("" if len(closer) == 3 else
           f"; not closer: {', '.join(k for k in BOOK_FOUR[1:] if k not in closer)} (with the book's "
           "learning rates SGD's lr 0.95 sits just under the stability limit 1.0 in y, so its zig-zag "
           "decays by 0.9 per step, while momentum is still swinging through the minimum)")))
    s = metrics["saddle"]
    gd_esc, mom_esc = s["gradient descent"]["escape_step"], s["momentum"]["escape_step"]
    claims.append(CLAIMS.claim(
        "momentum-escapes-saddle",
        "Near a saddle point plain gradient descent lingers; momentum escapes sooner",
        mom_esc is not None and (gd_esc is None or mom_esc < gd_esc),
        f"steps until |y| > {config.escape_threshold}: gradient descent "
        f"{gd_esc if gd_esc is not None else f'never (in {config.saddle_steps})'}, momentum {mom_esc}"))
    d = metrics["double_well"]
    claims.append(CLAIMS.claim(
        "momentum-passes-local-minimum",
        "Plain gradient descent stops in the local minimum; momentum carries past it to the global one",
        d["gradient descent"]["final_x"] > 0 > d["momentum"]["final_x"],
        f"final x: gradient descent {d['gradient descent']['final_x']:.3f} (f = "
        f"{d['gradient descent']['final_loss']:.3f}), momentum {d['momentum']['final_x']:.3f} "
        f"(f = {d['momentum']['final_loss']:.3f}); minima near x = 1.33 (local) and -1.49 (global)"))
    return claims


def book(metrics: dict, config: Config) -> list[BookValue]:
    v = metrics["valley"]
    return [BookValue(f"{k}: distance to the minimum after {config.steps} steps", None,
                      round(v[k]["final_distance"], 4), "the book shows the paths, not numbers")
            for k in BOOK_FOUR]


register(ExperimentSpec(
    name=NAME,
    title="Optimizer paths on f(x, y) = x\u00b2/20 + y\u00b2, a saddle point and a local minimum",
    summary="Every optimizer from (-7, 2) for 30 steps on the book's anisotropic bowl, plus a saddle "
            "point and a double well where momentum's speed matters.",
    config_cls=Config, run=run, check=check, plot=plot_optimizer_paths, book=book,
    quick={"steps": 30, "saddle_steps": 60, "local_steps": 60},
    claims=CLAIMS,
))
