"""Figures of the init-activations experiment."""

from __future__ import annotations

import numpy as np

from trainlab.plots.style import pyplot, save

_TITLES = {"sigmoid": "Sigmoid", "tanh": "tanh", "relu": "ReLU"}


def _histogram_grid(plt, metrics: dict, config, activation: str):
    from matplotlib.ticker import MaxNLocator

    runs = metrics["runs"][activation]
    edges = np.asarray(metrics["edges"][activation])
    n_rows, n_cols = len(runs), config.n_layers
    # Shared axes and few ticks: tick layout dominates the drawing time of a 20-panel grid.
    row_height = 2.4 if activation == "relu" else 2.2  # ReLU titles take two lines
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.9 * n_cols, row_height * n_rows), squeeze=False,
                             sharex=True, sharey="row")
    for row, (label, r) in enumerate(runs.items()):
        for col, layer in enumerate(r["layers"]):
            ax = axes[row, col]
            ax.stairs(layer["counts"], edges, fill=True, color="tab:blue")
            note = f"std {layer['std']:.3g}"
            if activation == "relu":
                note += f"\n{layer['zero_fraction']:.0%} zero"
                if layer["above_range"] > 0.005:
                    note += f", {layer['above_range']:.0%} above {edges[-1]:g}"
            ax.set_title(f"layer {col + 1}: {note}", fontsize=9)
            ax.grid(False)
            ax.xaxis.set_major_locator(MaxNLocator(4))
            ax.yaxis.set_major_locator(MaxNLocator(3))
            if col == 0:
                ax.set_ylabel(f"{label}\ncount")
            if row == n_rows - 1:
                ax.set_xlabel("activation value")
    what = "positive outputs (zeros counted in the titles)" if activation == "relu" else "outputs"
    fig.suptitle(f"{_TITLES[activation]}: histograms of each layer's {what} for four weight inits "
                 f"(rows), {config.n_samples} x {config.n_nodes} Gaussian input")
    return fig


def plot_init_activations(runs: list[dict], config, out_dir):
    metrics = runs[0]
    plt = pyplot()
    paths = []
    for activation in metrics["runs"]:
        fig = _histogram_grid(plt, metrics, config, activation)
        paths.append(save(fig, out_dir, f"histograms-{activation}"))

    fig, axes = plt.subplots(1, len(metrics["runs"]), figsize=(5 * len(metrics["runs"]), 4.2), squeeze=False)
    layers = np.arange(1, config.n_layers + 1)
    for ax, (activation, runs) in zip(axes.flat, metrics["runs"].items()):
        for label, r in runs.items():
            ax.semilogy(layers, [layer["std"] for layer in r["layers"]], "o-", label=label)
        floor = config.wide_fraction * metrics["reference_std"][activation]
        ax.axhline(floor, color="0.4", linestyle=":", label=f"'wide' floor {floor:.3g}")
        ax.set_xticks(layers)
        ax.set_xlabel("layer")
        ax.set_ylabel("std of the layer's outputs (log scale)")
        ax.set_title(f"{_TITLES[activation]}: spread by layer")
        ax.legend()
    fig.suptitle("How the spread of activations changes with depth, by weight init")
    paths.append(save(fig, out_dir, "std-by-layer"))
    return paths
