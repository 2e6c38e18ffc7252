"""Figures of the bottlenecks experiment: Inception with and without reductions, auxiliary heads, dense layers."""

from __future__ import annotations

import numpy as np

from trainlab.plots.style import pyplot, save, seed_bars, seed_lines, seeds_note

COLORS = {"reduced": "tab:blue", "naive": "tab:red", "bottleneck": "tab:blue", "plain": "tab:red"}


def plot_bottlenecks(runs: list[dict], config, out_dir):
    """Three figures; the counts are the same for every seed, the gradients show each seed's spread."""
    metrics = runs[0]
    plt = pyplot()
    paths = []

    rows = metrics["inception"]
    labels = list(rows)
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.6))
    xs = np.arange(len(labels))
    for ax, key, unit, scale in ((axes[0], "parameters", "parameters", 1e3), (axes[1], "macs", "multiply-adds", 1e6)):
        for i, kind in enumerate(("naive", "reduced")):
            values = [rows[k][kind][key] / scale for k in labels]
            bars = ax.bar(xs + (i - 0.5) * 0.4, values, 0.4, color=COLORS[kind],
                          label="without 1x1 reductions" if kind == "naive" else "with 1x1 reductions")
            if kind == "reduced":
                for bar, k in zip(bars, labels):
                    ratio = rows[k]["reduced"][key] / rows[k]["naive"][key]
                    ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), f"{ratio:.0%}", ha="center",
                            va="bottom", fontsize=8)
        ax.set_xticks(xs, [f"{k}\n({rows[k]['in_channels']} ch, {rows[k]['size']}x{rows[k]['size']})"
                           for k in labels], fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel(f"{unit} ({'thousands' if scale == 1e3 else 'millions'}, log scale)")
        ax.set_title(f"Inception blocks: {unit} (label: with / without)")
        ax.legend()
    fields = [(k, rows[k]["reduced"]["receptive_field"], rows[k]["naive"]["receptive_field"]) for k in labels]
    ax = axes[2]
    for i, kind in enumerate(("naive", "reduced")):
        ax.bar(xs + (i - 0.5) * 0.4, [f[2 - i][0] for f in fields], 0.4, color=COLORS[kind],
               label="without reductions" if kind == "naive" else "with reductions")
    ax.set_xticks(xs, labels, fontsize=8)
    ax.set_ylabel("receptive field of one output pixel (input rows)")
    ax.set_title("Receptive field (measured: input gradient of the central pixel)")
    ax.legend(loc="lower right")
    fig.suptitle("Inception's 1x1 reductions: same output channels, fewer parameters and multiply-adds, same field")
    paths.append(save(fig, out_dir, "inception-reductions"))

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.4))
    batches = np.arange(1, len(metrics["aux"]["ratio"]) + 1)
    seed_lines(ax1, batches, [m["aux"]["main_norm"] for m in runs], color="tab:red", marker="o",
               label="main loss only")
    seed_lines(ax1, batches, [m["aux"]["with_aux_norm"] for m in runs], color="tab:blue", marker="o",
               label=f"main + {metrics['aux']['n_heads']} auxiliary losses")
    ax1.set_xlabel("batch")
    ax1.set_ylabel("norm of the first convolution's weight gradient")
    ax1.set_title("InceptionNet at its initial weights" + seeds_note(runs))
    ax1.legend()
    seed_bars(ax2, [str(b) for b in batches], [[m["aux"]["ratio"][i] for m in runs] for i in range(len(batches))],
              colors="tab:blue")
    ax2.axhline(1.0, color="k", linewidth=0.8)
    lo = min(min(m["aux"]["ratio"]) for m in runs)
    ax2.set_ylim(min(0.9, lo - 0.02), None)
    ax2.set_xlabel("batch")
    ax2.set_ylabel("gradient norm with / without the auxiliary losses")
    ax2.set_title("Ratio per batch" + (" (mean, min-max over seeds)" if len(runs) > 1 else ""))
    fig.suptitle(f"Auxiliary classifiers and the gradient at the first convolution ({metrics['dataset']}, "
                 f"batch {config.batch_size})")
    paths.append(save(fig, out_dir, "auxiliary-gradient"))

    dense = metrics["dense"]
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    for kind, label in (("plain", "BN-ReLU-Conv3x3(k)"), ("bottleneck", "BN-ReLU-Conv1x1(4k)-BN-ReLU-Conv3x3(k)")):
        ax.plot(dense["in_channels"], np.asarray(dense[kind]) / 1e6, "o-", color=COLORS[kind],
                label=f"{label}: block {sum(dense[kind]) / 1e6:.1f}M")
    ax.set_xlabel("input channels of the layer (grows by k per layer)")
    ax.set_ylabel("multiply-adds per image (millions)")
    ax.set_title(f"Dense block layers, k = {config.growth_rate}, {config.dense_size}x{config.dense_size} maps")
    ax.legend()
    paths.append(save(fig, out_dir, "dense-bottleneck"))
    return paths
