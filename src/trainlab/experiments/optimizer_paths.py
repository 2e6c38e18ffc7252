"""Optimizer paths on small 2-D functions: the book's figure 6-8, a saddle and a local minimum.

1. f(x, y) = x^2/20 + y^2 from (-7, 2), 30 steps: steep in y, flat in x. SGD
   zig-zags across the valley; momentum, AdaGrad and Adam take smoother paths.
   Why, step by step: momentum's velocity along x (a small force of one sign)
   builds up while its velocity along y (a large alternating force) keeps
   turning, so its updates change less from step to step than SGD's and it
   gets to the valley's floor in x sooner; AdaGrad's accumulated squared
   gradients are large in y, so its y-steps fade within a few steps while x
   keeps its rate; Adam swings across the valley less than momentum.
2. f(x, y) = x^2 - y^2 from (1, 1e-4): a saddle at the origin. The gradient
   in y is tiny there, so plain gradient descent lingers; momentum builds up
   speed and leaves sooner.
3. f(x, y) = x^4/4 - x^2 + 0.3 x + y^2 from (2.5, 1): a local minimum near
   x = 1.33 and the global one near x = -1.49. Plain gradient descent stops in
   the local one; momentum carries past the bump.

The functions and their gradients are in :mod:`trainlab.functions2d`.

Everything here is deterministic: no data, no random numbers, so every seed
gives the same paths (a verdict over N seeds is N/N or 0/N).

Reference: Saito, *Deep Learning from Scratch*, sec. 6.1.7 (ch06/optimizer_compare_naive.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from trainlab.errors import ConfigError
from trainlab.experiments.base import BookValue, Claim, ClaimTable, ExperimentSpec, register
from trainlab.experiments.common import (
    BOOK_FOUR, book_optimizers, check_above_zero, check_fractions, settings, sign_changes,
)
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
    "momentum-update-smooth": "seed 000 (S000-03); book 6.1.4",
    "momentum-x-velocity-builds": "seed 002 (S002-05); book 6.1.4, figure 6-5",
    "momentum-nearer-along-x": "seed 002 (S002-06); book 6.1.4, figure 6-5",
    "adagrad-y-steps-fade": "seed 002 (S002-10); book 6.1.5, figure 6-6",
    "adagrad-slows-steep-coordinate": "seed 003 (S003-09); book 6.1.5",
    "adam-sways-less": "seed 002 (S002-13); book 6.1.6, figure 6-7",
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
    #: "Builds up": momentum's x-velocity at its peak is at least this many times its first step.
    velocity_build: float = 3.0
    #: "Gets there": the step at which |x| first falls below this fraction of its start
    #: (the 10 % of a rise time, the usual "90 % of the way").
    x_fraction: float = 0.1
    #: The step whose |y-step| is compared with the first one (AdaGrad's y-steps fading).
    fade_step: int = 10
    #: "Fades": AdaGrad's |y-step| at ``fade_step`` is below this fraction of its first.
    fade_ratio: float = 0.01

    def __post_init__(self):
        for name, value in settings(self, "steps", "saddle_steps", "local_steps").items():
            check_int(OWNER, name, value, low=2)
        check_int(OWNER, "fade_step", self.fade_step, low=2)
        if self.fade_step > self.steps:
            raise ConfigError(f"{OWNER}: fade_step={self.fade_step} is out of range; valid range: "
                              f"2 <= fade_step <= steps ({self.steps})")
        check_above_zero(OWNER, self, "escape_threshold", "velocity_build")
        check_fractions(OWNER, self, "x_fraction", "fade_ratio", include_one=False)


def descend(name: str, hyper: dict, grad: Callable, start, steps: int, *, with_optimizer: bool = False):
    """Positions (steps + 1, 2) of one optimizer from ``start`` (and the optimizer, for its state)."""
    p = Parameter(np.array(start, np.float64), decay=False)
    opt = create_optimizer(name, [p], **hyper)
    path = [p.data.copy()]
    for _ in range(steps):
        p.grad = grad(p.data)
        opt.step()
        path.append(p.data.copy())
    return (np.array(path), opt) if with_optimizer else np.array(path)


def _first_step_below(values: np.ndarray, level: float) -> int | None:
    """The first index whose |value| is below ``level`` (None if none is)."""
    hit = np.nonzero(np.abs(values) < level)[0]
    return int(hit[0]) if hit.size else None


def _longest_rise(values: np.ndarray) -> int:
    """Steps from the first value to the peak of |values| over which |values| rose every step."""
    mags = np.abs(values)
    peak = int(np.argmax(mags))
    rises = np.diff(mags[: peak + 1]) > 0
    return int(peak) if rises.all() else int(np.argmin(rises))


def valley_summary(path: np.ndarray, config: Config) -> dict:
    """Numbers of one path on the valley: zig-zag, directness, x approach, y swing, step-to-step change."""
    steps = np.diff(path, axis=0)  # (steps, 2): the update of each step (momentum's velocity)
    x, y = path[:, 0], path[:, 1]
    crossed = np.nonzero(np.sign(y[1:]) != np.sign(y[0]))[0]
    norms = np.linalg.norm(steps, axis=1)
    return {
        "final_distance": float(np.linalg.norm(path[-1])), "final_loss": float(valley(path[-1])),
        "final_abs_x": float(abs(x[-1])),
        "y_sign_changes": sign_changes(steps[:, 1]), "x_sign_changes": sign_changes(steps[:, 0]),
        # Net progress over distance travelled: 1 for a straight line, small for a zig-zag.
        "efficiency": float(np.linalg.norm(path[-1] - path[0]) / max(norms.sum(), 1e-12)),
        # How much the update changes from one step to the next, relative to its size.
        "update_change": float(np.linalg.norm(np.diff(steps, axis=0), axis=1).mean() / max(norms.mean(), 1e-12)),
        "x_speed_first": float(abs(steps[0, 0])), "x_speed_peak": float(np.abs(steps[:, 0]).max()),
        "x_speed_rise_steps": _longest_rise(steps[:, 0]),
        # "Overall nearer along x": |x| averaged over the steps after the start (the area under |x|).
        "x_mean_abs": float(np.abs(x[1:]).mean()),
        "x_steps_to_fraction": _first_step_below(x, config.x_fraction * abs(x[0])),
        "x_steps_to_half": _first_step_below(x, 0.5 * abs(x[0])),
        # The widest swing across the valley once the path has crossed y = 0 (0 if it never does).
        "swing_after_crossing": float(np.abs(y[crossed[0] + 1:]).max()) if crossed.size else 0.0,
        "y_step_first": float(abs(steps[0, 1])), "y_step_at_fade": float(abs(steps[config.fade_step - 1, 1])),
    }


def run(config: Config, seed: int = 0) -> dict:
    """Paths and summary numbers; deterministic (the seed changes nothing)."""
    out: dict = {"valley": {}, "saddle": {}, "double_well": {}}
    for label, name, hyper in VALLEY_OPTIMIZERS:
        path, opt = descend(name, hyper, valley_grad, (-7.0, 2.0), config.steps, with_optimizer=True)
        losses = [float(valley(p)) for p in path]
        out["valley"][label] = {"optimizer": name, "hyper": hyper, "path": path.tolist(),
                                "mean_loss": float(np.mean(losses[1:])), **valley_summary(path, config)}
        if name == "adagrad":
            h = np.asarray(opt.state[0]["sum"], np.float64)
            # AdaGrad's effective learning rate per coordinate at the end: lr / (sqrt(h) + eps).
            rate = hyper["lr"] / (np.sqrt(h) + opt.config.eps)
            out["valley"][label].update({"rate_x": float(rate[0]), "rate_y": float(rate[1])})
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


def _steps(n: int | None, config: Config) -> float:
    """A step count as a claim value: one past the run when it never happened."""
    return float(config.steps + 1 if n is None else n)


def _say(n: int | None, config: Config) -> str:
    return f"step {n}" if n is not None else f"not within {config.steps} steps"


def check(metrics: dict, config: Config) -> list[Claim]:
    v = metrics["valley"]
    sgd, mom, ada, adam = (v[k] for k in BOOK_FOUR)
    others = {k: r for k, r in v.items() if k != "SGD"}
    most_other = max(r["y_sign_changes"] for r in others.values())
    counts = ", ".join(f"{k} {r['y_sign_changes']}" for k, r in others.items())
    claims = [CLAIMS.claim(
        "sgd-zigzags",
        "SGD zig-zags across the valley: its y-steps change sign more often than any other optimizer's",
        sgd["y_sign_changes"] > most_other,
        f"SGD {sgd['y_sign_changes']} sign changes in {config.steps} steps; the most among the others: "
        f"{most_other} ({counts})",
        values={"SGD y sign changes": sgd["y_sign_changes"], "most among the others": most_other})]
    efficient = [k for k in BOOK_FOUR[1:] if v[k]["efficiency"] > sgd["efficiency"]]
    claims.append(CLAIMS.claim(
        "others-more-direct",
        "Momentum, AdaGrad and Adam take more direct paths than SGD "
        "(net progress / distance travelled is higher)",
        len(efficient) == 3,
        "efficiency: " + ", ".join(f"{k} {v[k]['efficiency']:.2f}" for k in BOOK_FOUR),
        values={f"{k} efficiency": v[k]["efficiency"] for k in BOOK_FOUR}))
    claims.append(CLAIMS.claim(
        "momentum-update-smooth",
        "Momentum's update changes less from one step to the next than SGD's "
        "(mean |u_t - u_t-1| / mean |u_t|)",
        mom["update_change"] < sgd["update_change"],
        f"relative step-to-step change of the update: Momentum {mom['update_change']:.3f}, SGD "
        f"{sgd['update_change']:.3f} (2 would be a step that reverses every time)",
        values={"Momentum update change": mom["update_change"], "SGD update change": sgd["update_change"]}))
    builds = (mom["x_sign_changes"] == 0 and mom["x_speed_peak"] >= config.velocity_build * mom["x_speed_first"]
              and mom["x_speed_rise_steps"] >= 1 and mom["y_sign_changes"] >= 2)
    claims.append(CLAIMS.claim(
        "momentum-x-velocity-builds",
        "Under momentum the velocity along x keeps its sign and builds up, while the velocity along y "
        "keeps turning",
        builds,
        f"x-velocity: {mom['x_sign_changes']} sign changes, rises for {mom['x_speed_rise_steps']} steps from "
        f"{mom['x_speed_first']:.3f} to {mom['x_speed_peak']:.3f} (needed: x {config.velocity_build:g} its "
        f"first step); y-velocity: {mom['y_sign_changes']} sign changes (needed: at least 2)",
        values={"x-velocity sign changes": mom["x_sign_changes"],
                "x-velocity peak / first": mom["x_speed_peak"] / max(mom["x_speed_first"], 1e-300),
                "x-velocity rising steps": mom["x_speed_rise_steps"], "threshold (peak / first)": config.velocity_build,
                "y-velocity sign changes": mom["y_sign_changes"]}))
    mom_n, sgd_n = mom["x_steps_to_fraction"], sgd["x_steps_to_fraction"]
    claims.append(CLAIMS.claim(
        "momentum-nearer-along-x",
        f"Overall, Momentum approaches the minimum along x faster than SGD: over the {config.steps} steps its "
        "|x| is smaller on average",
        mom["x_mean_abs"] < sgd["x_mean_abs"],
        f"mean |x| over the steps: Momentum {mom['x_mean_abs']:.3f}, SGD {sgd['x_mean_abs']:.3f}; first step "
        f"with |x| < {config.x_fraction * 7:g}: Momentum {_say(mom_n, config)}, SGD {_say(sgd_n, config)}; "
        f"to half the way (|x| < 3.5): Momentum {_say(mom['x_steps_to_half'], config)}, SGD "
        f"{_say(sgd['x_steps_to_half'], config)} (momentum starts from rest); |x| after {config.steps} steps: "
        f"Momentum {mom['final_abs_x']:.3f}, SGD {sgd['final_abs_x']:.3f}",
        values={"Momentum mean |x|": mom["x_mean_abs"], "SGD mean |x|": sgd["x_mean_abs"],
                "Momentum steps to within x_fraction": _steps(mom_n, config),
                "SGD steps to within x_fraction": _steps(sgd_n, config)}))
    ada_fade = ada["y_step_at_fade"] / max(ada["y_step_first"], 1e-300)
    sgd_fade = sgd["y_step_at_fade"] / max(sgd["y_step_first"], 1e-300)
    claims.append(CLAIMS.claim(
        "adagrad-y-steps-fade",
        f"AdaGrad's y-steps fade fast: by step {config.fade_step} they are under {config.fade_ratio:g} of "
        "its first, so its zig-zag dies out",
        ada_fade < config.fade_ratio and ada_fade < sgd_fade,
        f"|y-step {config.fade_step}| / |y-step 1|: AdaGrad {ada_fade:.2e} ({ada['y_step_first']:.3f} -> "
        f"{ada['y_step_at_fade']:.2e}), SGD {sgd_fade:.3f}; AdaGrad's y-steps change sign "
        f"{ada['y_sign_changes']} times",
        values={"AdaGrad y-step ratio": ada_fade, "SGD y-step ratio": sgd_fade, "threshold": config.fade_ratio}))
    claims.append(CLAIMS.claim(
        "adagrad-slows-steep-coordinate",
        "AdaGrad lowers the rate of the coordinate with the large gradients (y) more than the other's (x), "
        "which keeps learning: it ends nearer x = 0 than SGD, whose one rate is bounded by y",
        ada["rate_y"] < ada["rate_x"] and ada["final_abs_x"] < sgd["final_abs_x"],
        f"AdaGrad's rate lr / (sqrt(h) + eps) after {config.steps} steps: y {ada['rate_y']:.3f}, x "
        f"{ada['rate_x']:.3f} (started at lr {v['AdaGrad']['hyper']['lr']}); |x| at the end: AdaGrad "
        f"{ada['final_abs_x']:.3f}, SGD {sgd['final_abs_x']:.3f}",
        values={"AdaGrad rate y": ada["rate_y"], "AdaGrad rate x": ada["rate_x"],
                "AdaGrad final |x|": ada["final_abs_x"], "SGD final |x|": sgd["final_abs_x"]}))
    claims.append(CLAIMS.claim(
        "adam-sways-less",
        "Adam swings across the valley less than Momentum: its widest |y| after first crossing y = 0 is smaller",
        adam["swing_after_crossing"] < mom["swing_after_crossing"],
        f"widest |y| after the first crossing: Adam {adam['swing_after_crossing']:.3f}, Momentum "
        f"{mom['swing_after_crossing']:.3f}; y sign changes of the steps: Adam {adam['y_sign_changes']}, "
        f"Momentum {mom['y_sign_changes']}",
        values={"Adam swing": adam["swing_after_crossing"], "Momentum swing": mom["swing_after_crossing"]}))
    s = metrics["saddle"]
    gd_esc, mom_esc = s["gradient descent"]["escape_step"], s["momentum"]["escape_step"]
    never = float(config.saddle_steps + 1)
    claims.append(CLAIMS.claim(
        "momentum-escapes-saddle",
        "Near a saddle point plain gradient descent lingers; momentum escapes sooner",
        mom_esc is not None and (gd_esc is None or mom_esc < gd_esc),
        f"steps until |y| > {config.escape_threshold}: gradient descent "
        f"{gd_esc if gd_esc is not None else f'never (in {config.saddle_steps})'}, momentum {mom_esc}",
        values={"gradient descent escape step": never if gd_esc is None else gd_esc,
                "momentum escape step": never if mom_esc is None else mom_esc}))
    d = metrics["double_well"]
    claims.append(CLAIMS.claim(
        "momentum-passes-local-minimum",
        "Plain gradient descent stops in the local minimum; momentum carries past it to the global one",
        d["gradient descent"]["final_x"] > 0 > d["momentum"]["final_x"],
        f"final x: gradient descent {d['gradient descent']['final_x']:.3f} (f = "
        f"{d['gradient descent']['final_loss']:.3f}), momentum {d['momentum']['final_x']:.3f} "
        f"(f = {d['momentum']['final_loss']:.3f}); minima near x = 1.33 (local) and -1.49 (global)",
        values={"gradient descent final x": d["gradient descent"]["final_x"],
                "momentum final x": d["momentum"]["final_x"]}))
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
