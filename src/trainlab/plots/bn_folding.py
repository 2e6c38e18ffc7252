"""Figures of the bn-folding experiment: inference time before/after, and the size of the output differences."""

from __future__ import annotations

import numpy as np

from trainlab.plots.style import pyplot, save, seed_bars


def plot_bn_folding(runs: list[dict], config, out_dir):
    metrics = runs[0]
    plt = pyplot()
    timing = metrics["timing"]
    cols = max(2, len(timing))
    fig, grid = plt.subplots(2, cols, figsize=(5.6 * cols, 9.0), squeeze=False)
    for ax in grid[0, len(timing):]:
        ax.axis("off")
    for ax, (bs, r) in zip(grid[0], timing.items()):
        names = ("original", "folded")
        best = [[m["timing"][bs][f"best_{name}"] * 1e3 for m in runs] for name in names]
        bars, means = seed_bars(ax, list(names), best, colors=["tab:gray", "tab:green"], width=0.55,
                                label="sum of each batch's fastest" + (", mean and min-max over seeds"
                                                                       if len(runs) > 1 else ""))
        for i, name in enumerate(names):
            passes = np.asarray(r[name]) * 1e3
            ax.scatter(np.full(passes.size, i) + np.linspace(-0.15, 0.15, passes.size), passes, s=12, color="k",
                       zorder=3, label="each repeat's pass (first seed)" if i == 0 else None)
        ax.bar_label(bars, labels=[f"{m:.1f} ms" for m in means], label_type="center", color="w", fontweight="bold")
        speedups = [m["timing"][bs]["speedup"] for m in runs]
        ax.set_ylabel("time per pass over the test set (ms)")
        ax.set_title(f"Eval forward, batch {bs}: x{np.mean(speedups):.2f} faster folded"
                     + ("" if len(runs) < 2 else f" (seeds x{min(speedups):.2f} to x{max(speedups):.2f})"))
        ax.legend(loc="lower right")

    hist = metrics["diff_histogram"]
    edges = np.asarray(hist["log10_edges"])
    ax = grid[1, 0]
    ax.bar(edges[:-1], hist["counts"], width=np.diff(edges), align="edge", color="tab:blue",
           edgecolor="k", linewidth=0.3)
    ax.axvline(np.log10(config.tolerance), color="tab:red", linestyle="--", label=f"tolerance {config.tolerance:g}")
    filled = np.nonzero(hist["counts"])[0]
    if filled.size:
        ax.set_xlim(edges[filled[0]] - 0.5, max(edges[filled[-1] + 1], np.log10(config.tolerance)) + 0.5)
    ax.set_xlabel("log10 |score difference|")
    ax.set_ylabel("number of scores")
    ax.set_title(f"Folded minus original scores ({hist['zeros']} exactly equal; first seed)")
    ax.legend()

    ax = grid[1, 1]
    s = metrics["scatter"]
    diff = np.asarray(s["diff"])
    score = np.abs(np.asarray(s["score"]))
    shown = (diff > 0) & (score > 0)  # log axes: exact zeros cannot be drawn
    ax.scatter(score[shown], diff[shown], s=5, alpha=0.5,
               label=f"{int(shown.sum())} of {diff.size} sampled scores (zeros not drawn)")
    ax.axhline(config.tolerance, color="tab:red", linestyle="--", label=f"tolerance {config.tolerance:g}")
    if shown.any():
        # One unit of float32 rounding at each score's size, to read the differences against.
        xs = np.geomspace(score[shown].min(), score[shown].max(), 50)
        ax.plot(xs, np.finfo(np.float32).eps * xs, "k:", label="float32 spacing (eps x |score|)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("|original score|")
    ax.set_ylabel("|score difference|")
    ax.set_title("Each difference against the size of its score (first seed)")
    ax.legend(loc="lower right")
    fig.suptitle(f"Original vs BatchNorm-folded network: {metrics['layers']['original']['BatchNorm']} BatchNorm "
                 f"layers folded away, {metrics['n_test']} test images,\ntest accuracy "
                 f"{metrics['test_acc_original']:.4f} -> {metrics['test_acc_folded']:.4f}"
                 + ("" if len(runs) < 2 else f" (first seed); timings: mean of {len(runs)} seeds, whiskers min-max"))
    return [save(fig, out_dir, "bn-folding")]
