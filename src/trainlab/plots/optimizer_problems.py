"""Figure of the optimizer-problems experiment: the book's four ranked on each problem."""

from __future__ import annotations

import textwrap

import numpy as np

from trainlab.plots.style import pyplot, save, seed_spread, seeds_note

FOUR = ("SGD", "Momentum", "AdaGrad", "Adam")
COLORS = {"SGD": "tab:blue", "Momentum": "tab:orange", "AdaGrad": "tab:green", "Adam": "tab:red"}


def plot_optimizer_problems(runs: list[dict], config, out_dir):
    """Per problem, each optimizer's loss over the best one's (log scale); mean over seeds with min-max whiskers."""
    plt = pyplot()
    problems = list(runs[0]["problems"])
    fig, ax = plt.subplots(figsize=(11, 4.8))
    width = 0.8 / len(FOUR)
    for i, k in enumerate(FOUR):
        means, lows, highs, xs, diverged = [], [], [], [], []
        for j, p in enumerate(problems):
            ratios = []
            for m in runs:
                losses = m["problems"][p]["loss"]
                best = min(v for v in losses.values() if v is not None)
                if losses[k] is not None:
                    ratios.append(losses[k] / best)
            x = j + (i - 1.5) * width
            if not ratios:
                diverged.append(x)
                continue
            mean, (below, above) = seed_spread(ratios)
            xs.append(x)
            means.append(mean)
            lows.append(below)
            highs.append(above)
        extra = {"yerr": np.array([lows, highs]), "capsize": 3} if len(runs) > 1 else {}
        ax.bar(xs, means, width, color=COLORS[k], label=k, **extra)
        for x in diverged:
            ax.text(x, 1.0, "diverged", rotation=90, ha="center", va="bottom", fontsize=8, color=COLORS[k])
    ax.axhline(config.margin, color="0.4", linestyle="--", linewidth=0.8, label=f"margin x{config.margin:g}")
    ax.set_yscale("log")
    ax.set_xticks(range(len(problems)))
    ax.set_xticklabels([p + "\n" + textwrap.fill(runs[0]["problems"][p]["description"], 34) for p in problems],
                       fontsize=7)
    ax.set_ylabel("final loss / the best optimizer's (log scale)")
    ax.set_title("The book's four on four problems: final loss over the best one's (1 = the best)"
                 + seeds_note(runs).replace("; faint: each seed", "; whiskers: min-max"))
    ax.legend(ncol=5)
    return [save(fig, out_dir, "rankings")]
