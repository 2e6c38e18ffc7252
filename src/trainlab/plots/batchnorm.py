"""Figures of the batchnorm experiment."""

from __future__ import annotations

import numpy as np

from trainlab.plots.style import pyplot, save, seed_lines, seeds_note


def _accuracy(r: dict) -> np.ndarray:
    """The training accuracy by epoch, NaN after a divergence."""
    return np.array([np.nan if a is None else a for a in r["train_acc"]], np.float64)


def _curves(ax, epochs, per_seed: list[dict], style: str, color: str, label: str):
    """Mean over the seeds (where every seed still runs) with each seed faint; an x where a run diverged."""
    seed_lines(ax, epochs, [_accuracy(r) for r in per_seed], color=color, label=label, style=style)
    for i, r in enumerate(per_seed):
        if r["diverged_at"] is None:
            continue
        # Mark where the run stopped: the loss became NaN at that step.
        acc = [a for a in r["train_acc"] if a is not None]
        x = epochs[len(acc) - 1] if acc else epochs[0]
        ax.plot([x], [acc[-1] if acc else 0.1], "x", color=color, markersize=8, alpha=1.0 if i == 0 else 0.4)
        if i == 0:
            ax.text(x, 0.5, f" diverged\n at step {r['diverged_at']}", color=color, fontsize=7)


def plot_batchnorm(runs: list[dict], config, out_dir):
    metrics = runs[0]
    plt = pyplot()
    scales = metrics["runs"]
    epochs = metrics["epochs"]
    note = seeds_note(runs)
    cols = min(4, len(scales))
    rows = -(-len(scales) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.7 * rows), squeeze=False, sharex=True,
                             sharey=True)
    for i, (ax, r) in enumerate(zip(axes.flat, scales)):
        _curves(ax, epochs, [m["runs"][i]["bn"] for m in runs], "-", "tab:blue", "BatchNorm")
        _curves(ax, epochs, [m["runs"][i]["plain"] for m in runs], "--", "tab:orange", "without")
        ax.set_title(f"weight std {r['scale']:.3g}", fontsize=9)
        ax.set_ylim(0, 1.02)
        if i % cols == 0:
            ax.set_ylabel("train accuracy")
        if i >= len(scales) - cols:
            ax.set_xlabel("epoch")
        if i == 0:
            ax.legend(loc="lower right")
    for ax in axes.flat[len(scales):]:
        ax.axis("off")
    fig.suptitle(f"Training accuracy with (solid) and without (dashed) BatchNorm, by initial weight std\n"
                 f"(fig. 6-18; {metrics['n_train']} {metrics['dataset']} images, SGD lr {config.lr}){note}")
    paths = [save(fig, out_dir, "accuracy-grid")]

    fig, ax = plt.subplots(figsize=(8, 4.5))
    x = np.array([r["scale"] for r in scales])
    several = len(runs) > 1
    for key, style, color, label in (("bn", "o-", "tab:blue", "BatchNorm"), ("plain", "s--", "tab:orange",
                                                                             "without")):
        means = np.array([[m["runs"][i][key]["mean_acc"] for m in runs] for i in range(len(scales))])  # (scales, seeds)
        centre = means.mean(axis=1)
        ax.plot(x, centre, style, color=color, label=f"{label}: mean over {config.epochs} epochs")
        if several:
            ax.errorbar(x, centre, yerr=np.maximum([centre - means.min(axis=1), means.max(axis=1) - centre], 0),
                        fmt="none", ecolor=color, capsize=3, alpha=0.7)
        final = np.array([[np.nan if m["runs"][i][key]["final_acc"] is None else m["runs"][i][key]["final_acc"]
                           for m in runs] for i in range(len(scales))])
        with np.errstate(invalid="ignore"):
            shown = np.where(np.isnan(final).any(axis=1), np.nan, final.mean(axis=1))
        ax.plot(x, shown, style[0], color=color, alpha=0.4, markerfacecolor="none",
                label=f"{label}: after epoch {config.epochs} (missing: diverged"
                      + (" in a seed)" if several else ")"))
    ax.set_xscale("log")
    ax.set_xlabel("initial weight std (log scale)")
    ax.set_ylabel("training accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_title("Area under the accuracy curve (mean over epochs) by weight scale"
                 + (f"\n(mean of {len(runs)} seeds; bars: min-max)" if several else ""))
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    paths.append(save(fig, out_dir, "accuracy-by-scale"))
    return paths
