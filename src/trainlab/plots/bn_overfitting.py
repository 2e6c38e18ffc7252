"""Figure of the batchnorm-overfitting experiment: four runs' accuracy curves, their gaps and test accuracy."""

from __future__ import annotations

import numpy as np

from trainlab.plots.style import pyplot, save, seed_bars, seed_lines, seeds_note

_TITLES = {"without": "neither", "batchnorm": "BatchNorm", "dropout": "dropout", "both": "BatchNorm + dropout"}
_COLORS = {"without": "tab:red", "batchnorm": "tab:blue", "dropout": "tab:green", "both": "tab:purple"}


def plot_bn_overfitting(runs: list[dict], config, out_dir):
    metrics = runs[0]
    plt = pyplot()
    labels = list(metrics["runs"])
    epochs = np.asarray(metrics["epochs"])
    note = seeds_note(runs)
    dataset = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}.get(metrics["dataset"], metrics["dataset"])
    fig = plt.figure(figsize=(16, 8))
    grid = fig.add_gridspec(2, 4)
    for i, label in enumerate(labels):
        ax = fig.add_subplot(grid[0, i])
        seed_lines(ax, epochs, [m["runs"][label]["train_acc"] for m in runs], color="tab:blue",
                   label=f"train ({metrics['n_train']} images)")
        seed_lines(ax, epochs, [m["runs"][label]["test_acc"] for m in runs], color="tab:orange",
                   label=f"test ({metrics['n_test']} images)")
        gaps = [m["runs"][label]["mean_gap"] for m in runs]
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("epoch")
        if i == 0:
            ax.set_ylabel("accuracy")
        ax.set_title(f"{_TITLES.get(label, label)}: gap {np.mean(gaps):.3f}", fontsize=10)
        ax.legend(loc="lower right", fontsize=7)

    ax = fig.add_subplot(grid[1, :2])
    for label in labels:
        gap = [np.asarray(m["runs"][label]["train_acc"]) - np.asarray(m["runs"][label]["test_acc"]) for m in runs]
        seed_lines(ax, epochs, gap, color=_COLORS.get(label), label=_TITLES.get(label, label))
    ax.axvspan(epochs[-config.gap_window], epochs[-1], color="0.85", alpha=0.5,
               label=f"last {config.gap_window} epochs (averaged)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("train accuracy - test accuracy")
    ax.set_title("Train-test gap by epoch")
    ax.legend(loc="upper right", fontsize=8)

    ax = fig.add_subplot(grid[1, 2:])
    x = np.arange(len(labels))
    width = 0.38
    for offset, key, what, color in ((-width / 2, "mean_gap", "train-test gap", "0.5"),
                                     (width / 2, "mean_test_acc", "test accuracy", "tab:orange")):
        values = [[m["runs"][label][key] for m in runs] for label in labels]
        bars, means = seed_bars(ax, x + offset, values, colors=color, width=width, label=what)
        for bar, mean in zip(bars, means):
            ax.text(bar.get_x() + bar.get_width() / 2, mean, f"{mean:.3f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, [_TITLES.get(k, k) for k in labels])
    ax.set_ylim(0, 1)
    ax.set_title(f"Mean over the last {config.gap_window} epochs"
                 + (f" (bars: mean of {len(runs)} seeds; whiskers: min-max)" if len(runs) > 1 else ""))
    ax.legend(loc="upper right", fontsize=8)
    drop = f"dropout {config.dropout:g} ({'inverted form' if config.inverted else 'the book' + chr(39) + 's form'})"
    fig.suptitle(f"{config.hidden_layers + 1}-layer ReLU net on the first {metrics['n_train']} {dataset} images, "
                 f"with and without BatchNorm and {drop}{note}")
    return [save(fig, out_dir, "batchnorm-overfitting")]
