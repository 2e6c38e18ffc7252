"""Figure of the architectures experiment."""

from __future__ import annotations

import numpy as np

from trainlab.plots.style import pyplot, save, seed_lines, seed_spread, seeds_note


def _mean_runs(seeds: list[dict]) -> dict:
    """Each model's numbers averaged over the seeds (curves too; counts are the same in every seed)."""
    out = {}
    for label, first in seeds[0]["runs"].items():
        per = [m["runs"][label] for m in seeds]
        out[label] = dict(first)
        for key in ("test_acc", "train_seconds", "samples_per_second"):
            out[label][key] = float(np.mean([p[key] for p in per]))
    return out


def plot_architectures(runs: list[dict], config, out_dir):
    """Accuracy against parameters, loss curves and a table; with several seeds the means, min-max and each seed."""
    metrics = runs[0]
    seeds = runs
    plt = pyplot()
    runs = _mean_runs(seeds)
    colors = dict(zip(runs, ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]))
    fig = plt.figure(figsize=(14, 8.6))
    gs = fig.add_gridspec(2, 2, height_ratios=[2.2, 1])
    ax1, ax2 = fig.add_subplot(gs[0, 0]), fig.add_subplot(gs[0, 1])
    seconds = np.array([r["train_seconds"] for r in runs.values()])
    # Bubble area proportional to training time, the longest about 2500 points^2.
    sizes = 2500 * seconds / seconds.max()
    for (label, r), s in zip(runs.items(), sizes):
        ax1.scatter(r["parameters"], r["test_acc"], s=s, color=colors[label], alpha=0.5, edgecolor="k")
        if len(seeds) > 1:
            _, err = seed_spread([m["runs"][label]["test_acc"] for m in seeds])
            ax1.errorbar([r["parameters"]], [r["test_acc"]], yerr=[[err[0]], [err[1]]], color=colors[label],
                         capsize=4)
        # Beside the bubble (its radius in points is half the square root of its area); the smallest
        # model's label goes to the left, away from its neighbours.
        left = r["parameters"] == min(q["parameters"] for q in runs.values())
        ax1.annotate(f"{label}: {r['test_acc']:.3f}\n{r['train_seconds']:.0f} s", (r["parameters"], r["test_acc"]),
                     textcoords="offset points", xytext=((-1 if left else 1) * (np.sqrt(s) / 2 + 3), 0),
                     ha="right" if left else "left", va="center", fontsize=8)
    ax1.set_xscale("log")
    accs = [r["test_acc"] for r in runs.values()]
    ax1.set_ylim(min(accs) - 0.06, max(accs) + 0.05)
    ax1.set_xlim(min(r["parameters"] for r in runs.values()) / 1.6, max(r["parameters"] for r in runs.values()) * 2.5)
    ax1.set_xlabel("trainable parameters (log scale)")
    ax1.set_ylabel(f"test accuracy ({metrics['n_test']} images)")
    ax1.set_title("Test accuracy against parameters (bubble area: training time"
                  + ("; mean and min-max over seeds)" if len(seeds) > 1 else ")"))
    for label, r in runs.items():
        note = " (with its two auxiliary losses)" if label == "InceptionNet" else ""
        seed_lines(ax2, r["loss_iterations"], [m["runs"][label]["smoothed_loss"] for m in seeds],
                   color=colors[label], label=label + note)
    ax2.set_xlabel("iteration")
    ax2.set_ylabel(f"training loss (moving median of {config.smooth_window})")
    ax2.set_title("Training loss, same batches for every model" + seeds_note(seeds))
    ax2.legend()
    ax3 = fig.add_subplot(gs[1, :])
    ax3.axis("off")
    header = ["model", "parameters", "in dense layers", "multiply-adds / image", "train time (s)",
              "samples / s", "test accuracy"]
    rows = [[label, f"{r['parameters']:,}", f"{r['dense_parameters'] / r['parameters']:.1%}",
             f"{r['macs'] / 1e6:.2f}M", f"{r['train_seconds']:.1f}", f"{r['samples_per_second']:.0f}",
             f"{r['test_acc']:.4f}"] for label, r in runs.items()]
    table = ax3.table(cellText=rows, colLabels=header, loc="center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.scale(1, 1.5)
    fig.suptitle(f"Five CNNs, one recipe on {metrics['dataset']}: Adam lr {config.lr:g}, batch {config.batch_size}, "
                 f"{config.epochs} epoch(s) on {metrics['n_train']} images" + seeds_note(seeds))
    return [save(fig, out_dir, "accuracy-vs-parameters")]
