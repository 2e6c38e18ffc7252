"""Figures of the init-activations experiment."""

from __future__ import annotations

import numpy as np

from trainlab.plots.style import pyplot, save, seed_lines, seeds_note

_TITLES = {"sigmoid": "Sigmoid", "tanh": "tanh", "relu": "ReLU"}


def _histogram_grid(plt, metrics: dict, config, activation: str, first_of: int = 1):
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
    seed = f" (the first of {first_of} seeds)" if first_of > 1 else ""
    fig.suptitle(f"{_TITLES[activation]}: histograms of each layer's {what} for four weight inits "
                 f"(rows), {config.n_samples} x {config.n_nodes} Gaussian input{seed}")
    return fig


def plot_init_activations(runs: list[dict], config, out_dir):
    metrics = runs[0]
    plt = pyplot()
    paths = []
    for activation in metrics["runs"]:
        fig = _histogram_grid(plt, metrics, config, activation, first_of=len(runs))
        paths.append(save(fig, out_dir, f"histograms-{activation}"))

    colors = dict(zip(metrics["runs"]["sigmoid"], ["tab:blue", "tab:orange", "tab:green", "tab:red"]))
    fig, axes = plt.subplots(1, len(metrics["runs"]), figsize=(5 * len(metrics["runs"]), 4.2), squeeze=False)
    layers = np.arange(1, config.n_layers + 1)
    for ax, (activation, by_init) in zip(axes.flat, metrics["runs"].items()):
        for label in by_init:
            curves = [[layer["std"] for layer in m["runs"][activation][label]["layers"]] for m in runs]
            seed_lines(ax, layers, curves, color=colors.get(label), label=label, style="o-", semilogy=True)
        floor = config.wide_fraction * metrics["reference_std"][activation]
        ax.axhline(floor, color="0.4", linestyle=":", label=f"'wide' floor {floor:.3g}")
        ax.set_xticks(layers)
        ax.set_xlabel("layer")
        ax.set_ylabel("std of the layer's outputs (log scale)")
        ax.set_title(f"{_TITLES[activation]}: spread by layer")
        ax.legend()
    fig.suptitle(f"How the spread of activations changes with depth, by weight init{seeds_note(runs)}")
    paths.append(save(fig, out_dir, "std-by-layer"))
    paths.append(_gradients(plt, runs, config, colors, out_dir))
    return paths


def _gradients(plt, runs: list[dict], config, colors: dict, out_dir):
    """The sigmoid nets: mean derivative a(1 - a) and weight-gradient std by layer, for every weight init."""
    by_init = runs[0]["runs"]["sigmoid"]
    layers = np.arange(1, config.n_layers + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.6))
    for label in by_init:
        seed_lines(ax1, layers, [m["runs"]["sigmoid"][label]["mean_derivative"] for m in runs],
                   color=colors.get(label), label=label, style="o-")
        seed_lines(ax2, layers, [m["runs"]["sigmoid"][label]["weight_grad_std"] for m in runs],
                   color=colors.get(label), label=label, style="o-", semilogy=True)
    ax1.axhline(0.25, color="0.4", linestyle=":", label="maximum 0.25 (output 0.5)")
    ax1.axhline(config.small_derivative * 0.25, color="0.6", linestyle="--",
                label=f"'small' limit ({config.small_derivative:g} x 0.25)")
    ax1.set_ylim(0, 0.27)
    ax1.set_title("Sigmoid: mean derivative a(1 - a) at each layer's outputs")
    ax1.set_ylabel("mean derivative")
    ax2.set_title("Sigmoid: weight gradient for a standard normal gradient at the top")
    ax2.set_ylabel("std of the layer's weight gradient (log scale)")
    for ax in (ax1, ax2):
        ax.set_xticks(layers)
        ax.set_xlabel("layer (the gradient flows from the last to the first)")
        ax.legend(fontsize=8)
    fig.suptitle(f"Does the gradient vanish? Sigmoid nets of {config.n_layers} layers by weight init{seeds_note(runs)}")
    return save(fig, out_dir, "sigmoid-gradients")
