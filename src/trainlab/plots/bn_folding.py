"""Figures of the bn-folding experiment: inference time before/after, and the size of the output differences."""

from __future__ import annotations

import numpy as np

from trainlab.plots.style import pyplot, save


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
        best = [r["best_original"] * 1e3, r["best_folded"] * 1e3]
        bars = ax.bar(names, best, color=["tab:gray", "tab:green"], width=0.55, label="sum of each batch's fastest")
        for i, name in enumerate(names):
            runs = np.asarray(r[name]) * 1e3
            ax.scatter(np.full(runs.size, i) + np.linspace(-0.15, 0.15, runs.size), runs, s=12, color="k",
                       zorder=3, label="each repeat's pass" if i == 0 else None)
        ax.bar_label(bars, fmt="%.1f ms", label_type="center", color="w", fontweight="bold")
        ax.set_ylabel("time per pass over the test set (ms)")
        ax.set_title(f"Eval forward, batch {bs}: x{r['speedup']:.2f} faster folded")
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
    ax.set_title(f"Folded minus original scores ({hist['zeros']} exactly equal)")
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
    ax.set_title("Each difference against the size of its score")
    ax.legend(loc="lower right")
    fig.suptitle(f"Original vs BatchNorm-folded network: {metrics['layers']['original']['BatchNorm']} BatchNorm "
                 f"layers folded away, {metrics['n_test']} test images,\ntest accuracy "
                 f"{metrics['test_acc_original']:.4f} -> {metrics['test_acc_folded']:.4f}")
    return [save(fig, out_dir, "bn-folding")]
