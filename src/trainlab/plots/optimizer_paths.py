"""Figures of the optimizer-paths experiment."""

from __future__ import annotations

import numpy as np

from trainlab.functions2d import double_well, saddle, valley
from trainlab.plots.style import pyplot, save


def _contour(ax, f, xlim, ylim, levels=20):
    xs = np.linspace(*xlim, 200)
    ys = np.linspace(*ylim, 200)
    X, Y = np.meshgrid(xs, ys)
    ax.contour(X, Y, f(np.stack([X, Y])), levels=levels, colors="0.75", linewidths=0.7)


#: Said in every title: the paths involve no randomness.
SAME_FOR_EVERY_SEED = "deterministic: the same for every seed"


def plot_optimizer_paths(runs: list[dict], config, out_dir):
    """The valley paths, the step-by-step numbers behind the claims, the saddle and the double well.

    The paths involve no data and no random numbers, so the first seed's metrics are every seed's.
    """
    metrics = runs[0]
    plt = pyplot()
    paths = []
    valley_runs = metrics["valley"]
    cols = 5
    rows = -(-len(valley_runs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax, (label, r) in zip(axes.flat, valley_runs.items()):
        _contour(ax, valley, (-10, 10), (-5, 5))
        p = np.array(r["path"])
        ax.plot(p[:, 0], p[:, 1], "o-", color="tab:red", markersize=2.5, linewidth=1)
        ax.plot(0, 0, "+", color="k")
        hyper = ", ".join(f"{k}={v}" for k, v in r["hyper"].items())
        ax.set_title(f"{label} ({hyper})")
        ax.set_xlim(-10, 10)
        ax.set_ylim(-5, 5)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    for ax in axes.flat[len(valley_runs):]:
        ax.axis("off")
    fig.suptitle(f"Paths on f(x, y) = x\u00b2/20 + y\u00b2 from (-7, 2), {config.steps} steps "
                 f"({SAME_FOR_EVERY_SEED})")
    paths.append(save(fig, out_dir, "valley-paths"))
    paths.append(_valley_steps(plt, valley_runs, config, out_dir))

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 4.2))
    for label, r in valley_runs.items():
        p = np.array(r["path"])
        ax1.semilogy([valley(q) for q in p], label=label)
    ax1.set_xlabel("step")
    ax1.set_ylabel("f(x, y)")
    ax1.set_title("Loss along the valley paths")
    ax1.legend(ncol=2)
    _contour(ax2, saddle, (-1.5, 1.5), (-1.5, 1.5), levels=15)
    for label, r in metrics["saddle"].items():
        p = np.array(r["path"])
        esc = r["escape_step"]
        ax2.plot(p[:, 0], p[:, 1], ".-", markersize=3, label=f"{label} (escapes at step {esc})")
    ax2.set_xlim(-1.5, 1.5)
    ax2.set_ylim(-1.5, 1.5)
    ax2.set_title("Saddle f = x\u00b2 - y\u00b2 from (1, 1e-4)")
    ax2.set_xlabel("x")
    ax2.set_ylabel("y")
    ax2.legend()
    xs = np.linspace(-2.2, 2.7, 300)
    ax3.plot(xs, double_well(np.stack([xs, np.zeros_like(xs)])), color="0.5", label="f(x, 0)")
    for label, r in metrics["double_well"].items():
        p = np.array(r["path"])
        ax3.plot(p[:, 0], [double_well(q) for q in p], "o-", markersize=2.5, label=f"{label}: ends at x = {r['final_x']:.2f}")
    ax3.set_title("Double well f = x\u2074/4 - x\u00b2 + 0.3x + y\u00b2 from (2.5, 1)")
    ax3.set_xlabel("x")
    ax3.set_ylabel("f")
    ax3.legend()
    paths.append(save(fig, out_dir, "saddle-and-local-minimum"))
    return paths


def _valley_steps(plt, valley_runs: dict, config, out_dir):
    """Step by step on the valley: momentum's velocity, the approach along x, AdaGrad's y-steps, the swing."""
    colors = {"SGD": "tab:blue", "Momentum": "tab:orange", "AdaGrad": "tab:green", "Adam": "tab:red"}
    path = {k: np.array(valley_runs[k]["path"]) for k in colors}
    step = {k: np.diff(p, axis=0) for k, p in path.items()}
    fig, (ax1, ax2, ax3, ax4) = plt.subplots(1, 4, figsize=(18, 4.2))
    n = np.arange(1, config.steps + 1)
    ax1.plot(n, step["Momentum"][:, 0], "o-", markersize=3, label="velocity along x")
    ax1.plot(n, step["Momentum"][:, 1], "s-", markersize=3, label="velocity along y")
    ax1.axhline(0, color="0.5", linewidth=0.8)
    ax1.set_title("Momentum: x-velocity builds up, y-velocity turns")
    ax1.set_xlabel("step")
    ax1.set_ylabel("update (velocity)")
    ax1.legend()
    for k in ("SGD", "Momentum"):
        ax2.plot(np.arange(config.steps + 1), np.abs(path[k][:, 0]), "o-", markersize=3, color=colors[k], label=k)
    ax2.axhline(config.x_fraction * abs(path["SGD"][0, 0]), color="0.5", linestyle="--",
                label=f"{config.x_fraction:.0%} of the start")
    ax2.set_title("Distance to the minimum along x")
    ax2.set_xlabel("step")
    ax2.set_ylabel("|x|")
    ax2.legend()
    for k in ("SGD", "AdaGrad"):
        ax3.semilogy(n, np.maximum(np.abs(step[k][:, 1]), 1e-12), "o-", markersize=3, color=colors[k], label=k)
    ax3.axvline(config.fade_step, color="0.5", linestyle="--", label=f"step {config.fade_step}")
    ax3.set_title("|y-step| per step (log scale)")
    ax3.set_xlabel("step")
    ax3.set_ylabel("|step along y|")
    ax3.legend()
    for k in ("Momentum", "Adam"):
        ax4.plot(np.arange(config.steps + 1), path[k][:, 1], "o-", markersize=3, color=colors[k],
                 label=f"{k}: widest swing {valley_runs[k]['swing_after_crossing']:.2f}")
    ax4.axhline(0, color="0.5", linewidth=0.8)
    ax4.set_title("Swing across the valley: y over the steps")
    ax4.set_xlabel("step")
    ax4.set_ylabel("y")
    ax4.legend()
    fig.suptitle(f"The book's four on the valley, step by step ({SAME_FOR_EVERY_SEED})")
    return save(fig, out_dir, "valley-steps")
