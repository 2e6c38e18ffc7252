"""Figures of the init-symmetry experiment."""

from __future__ import annotations

import numpy as np

from trainlab.plots.style import pyplot, save, seed_bars, seed_lines, seeds_note

_COLORS = {"He": "tab:green", "zeros": "tab:red", "constant": "tab:orange", "width 1 (He)": "tab:blue",
           "width 1 (constant)": "tab:purple"}
#: Spreads below this are drawn at it (a log axis has no 0; all-zero weights have spread 0).
_FLOOR = 1e-9


def _bars(ax, labels, values_per_label, **kwargs):
    """:func:`seed_bars`, with a label whose seeds all agree given once: the mean of equal floats can round
    past them (3 x 0.1 averages to 0.10000000000000002), which would make a negative whisker."""
    values = [v if max(v) > min(v) else v[:1] for v in values_per_label]
    return seed_bars(ax, labels, values, **kwargs)


def plot_init_symmetry(runs: list[dict], config, out_dir):
    metrics = runs[0]
    plt = pyplot()
    labels = list(metrics["runs"])
    note = seeds_note(runs)
    where = f"{metrics['dataset']}, {metrics['n_train']} training images, SGD lr {config.lr}"

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 5), gridspec_kw={"width_ratios": [3, 2]})
    for label in labels:
        its = metrics["runs"][label]["eval_iterations"]
        curves = [m["runs"][label]["test_acc_curve"] for m in runs]
        seed_lines(ax1, its, curves, color=_COLORS.get(label), label=label, style="o-", markersize=3)
    ax1.set_ylim(0, 1)
    ax1.set_xlabel("iteration")
    ax1.set_ylabel(f"test accuracy ({metrics['n_test']} images)")
    ax1.set_title(f"Test accuracy after each epoch by initial weights{note}\n({where})")
    ax1.legend()
    accs = [[m["runs"][label]["test_acc"] for m in runs] for label in labels]
    bars, means = _bars(ax2, labels, accs, colors=[_COLORS.get(k) for k in labels])
    for bar, mean in zip(bars, means):
        ax2.text(bar.get_x() + bar.get_width() / 2, mean, f"{mean:.3f}", ha="center", va="bottom", fontsize=8)
    ax2.axhline(metrics["largest_class_share"], color="0.4", linestyle=":",
                label=f"always the largest class ({metrics['largest_class_share']:.3f})")
    ax2.set_ylim(0, 1)
    ax2.set_ylabel("final test accuracy")
    ax2.set_title(f"Final test accuracy{' (bars: mean; whiskers: min-max over seeds)' if len(runs) > 1 else ''}")
    ax2.tick_params(axis="x", labelrotation=20)
    ax2.legend(loc="upper right")
    paths = [save(fig, out_dir, "accuracy-by-start")]

    wide = [k for k in labels if not k.startswith("width 1")]
    n_layers = len(metrics["runs"][wide[0]]["weight_spread"])
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), sharey=True)
    for ax, key, what in ((axes[0], "weight_spread", "incoming weight vectors: largest distance / mean norm"),
                          (axes[1], "output_spread", "test-image outputs: 2nd / 1st singular value")):
        width = 0.8 / len(wide)
        for i, label in enumerate(wide):
            per_layer = [[max(m["runs"][label][key][j], _FLOOR) for m in runs] for j in range(n_layers)]
            positions = [f"layer {j + 1}" for j in range(n_layers)]
            x = np.arange(n_layers) + (i - (len(wide) - 1) / 2) * width
            _bars(ax, x, per_layer, colors=_COLORS.get(label), width=width, label=label)
        ax.set_xticks(np.arange(n_layers), positions)
        ax.set_yscale("log")
        ax.axhline(config.identical_tol, color="0.3", linestyle="--", label=f"'identical' ({config.identical_tol:g})")
        ax.set_title(f"Spread of the hidden units' {what}", fontsize=10)
        ax.legend(fontsize=8)
    axes[0].set_ylabel(f"spread after training (log; 0 drawn at {_FLOOR:g})")
    bars_note = f" (bars: mean of {len(runs)} seeds; whiskers: min-max)" if len(runs) > 1 else ""
    fig.suptitle(f"How different the units of each hidden layer are after {config.iterations} steps{bars_note}")
    paths.append(save(fig, out_dir, "unit-spread"))
    return paths
