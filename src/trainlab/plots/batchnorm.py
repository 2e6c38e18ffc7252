"""Figures of the batchnorm experiment."""

from __future__ import annotations

import numpy as np

from trainlab.plots.style import pyplot, save


def _curve(ax, epochs, r: dict, style: str, color: str, label: str):
    acc = [a for a in r["train_acc"] if a is not None]
    ax.plot(epochs[:len(acc)], acc, style, color=color, label=label)
    if r["diverged_at"] is not None:
        # Mark where the run stopped: the loss became NaN at that step.
        x = epochs[len(acc) - 1] if acc else epochs[0]
        ax.plot([x], [acc[-1] if acc else 0.1], "x", color=color, markersize=8)
        ax.text(x, 0.5, f" diverged\n at step {r['diverged_at']}", color=color, fontsize=7)


def plot_batchnorm(runs: list[dict], config, out_dir):
    metrics = runs[0]
    plt = pyplot()
    runs = metrics["runs"]
    epochs = metrics["epochs"]
    cols = min(4, len(runs))
    rows = -(-len(runs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.7 * rows), squeeze=False, sharex=True,
                             sharey=True)
    for i, (ax, r) in enumerate(zip(axes.flat, runs)):
        _curve(ax, epochs, r["bn"], "-", "tab:blue", "BatchNorm")
        _curve(ax, epochs, r["plain"], "--", "tab:orange", "without")
        ax.set_title(f"weight std {r['scale']:.3g}", fontsize=9)
        ax.set_ylim(0, 1.02)
        if i % cols == 0:
            ax.set_ylabel("train accuracy")
        if i >= len(runs) - cols:
            ax.set_xlabel("epoch")
        if i == 0:
            ax.legend(loc="lower right")
    for ax in axes.flat[len(runs):]:
        ax.axis("off")
    fig.suptitle(f"Training accuracy with (solid) and without (dashed) BatchNorm, by initial weight std "
                 f"(fig. 6-18; {metrics['n_train']} {metrics['dataset']} images, SGD lr {config.lr})")
    paths = [save(fig, out_dir, "accuracy-grid")]

    fig, ax = plt.subplots(figsize=(8, 4.5))
    scales = np.array([r["scale"] for r in runs])
    for key, style, color, label in (("bn", "o-", "tab:blue", "BatchNorm"), ("plain", "s--", "tab:orange",
                                                                             "without")):
        ax.semilogx(scales, [r[key]["mean_acc"] for r in runs], style, color=color,
                    label=f"{label}: mean over {config.epochs} epochs")
        final = [np.nan if r[key]["final_acc"] is None else r[key]["final_acc"] for r in runs]
        ax.semilogx(scales, final, style[0], color=color, alpha=0.4, markerfacecolor="none",
                    label=f"{label}: after epoch {config.epochs} (missing: diverged)")
    ax.set_xlabel("initial weight std (log scale)")
    ax.set_ylabel("training accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_title("Area under the accuracy curve (mean over epochs) by weight scale")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    paths.append(save(fig, out_dir, "accuracy-by-scale"))
    return paths
