"""Figures of the vanishing-gradients experiment: weight-gradient size against layer depth."""

from __future__ import annotations

from trainlab.plots.style import pyplot, save


def plot_vanishing_gradients(runs: list[dict], config, out_dir):
    """One panel per activation; one line per initialisation, dashed with BatchNorm."""
    metrics = runs[0]
    plt = pyplot()
    layers = metrics["layers"]
    dataset = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}.get(metrics["dataset"], metrics["dataset"])
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharey=True)
    for ax, activation, title in ((axes[0], "sigmoid", "Sigmoid"), (axes[1], "relu", "ReLU")):
        for label, r in metrics["nets"].items():
            if r["activation"] != activation:
                continue
            small = not isinstance(r["init"], str)
            ax.semilogy(layers, r["rms"], marker="o", markersize=3.5,
                        color="tab:orange" if small else "tab:blue", linestyle="--" if r["batchnorm"] else "-",
                        label=f"{label} (layer 1 / {config.depth}: {r['first_to_last_hidden']:.2g})")
        ax.axvline(config.depth + 0.5, color="0.5", linestyle=":", linewidth=1)
        ax.text(config.depth + 0.6, 0.5, "output", transform=ax.get_xaxis_transform(), rotation=90,
                va="center", fontsize=8, color="0.4")
        ax.set_xticks(layers)
        ax.set_xlabel("layer (1 = next to the input)")
        ax.set_title(f"{title}, {config.depth} hidden layers of {config.width}")
        ax.legend(loc="lower right")
    axes[0].set_ylabel("RMS of dL/dW per weight (log scale)")
    fig.suptitle(f"Weight-gradient size per layer at initialisation, one backward pass on "
                 f"{metrics['n_samples']} {dataset} images (geometric mean of {config.n_inits} draws)")
    return [save(fig, out_dir, "gradient-norms")]
