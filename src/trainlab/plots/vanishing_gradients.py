"""Figures of the vanishing-gradients experiment: weight-gradient size against layer depth, and exploding gradients."""

from __future__ import annotations

from trainlab.plots.style import pyplot, save, seed_lines, seeds_note


def plot_vanishing_gradients(runs: list[dict], config, out_dir):
    """One panel per activation (one line per initialisation, dashed with BatchNorm), and one of the
    back-propagated gradient of a ReLU net with He's weights and with larger ones."""
    metrics = runs[0]
    plt = pyplot()
    layers = metrics["layers"]
    dataset = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}.get(metrics["dataset"], metrics["dataset"])
    fig, axes = plt.subplots(1, 3, figsize=(19, 5.0))
    axes[1].sharey(axes[0])
    for ax, activation, title in ((axes[0], "sigmoid", "Sigmoid"), (axes[1], "relu", "ReLU")):
        for label, r in metrics["nets"].items():
            if r["activation"] != activation:
                continue
            small = not isinstance(r["init"], str)
            ratios = [m["nets"][label]["first_to_last_hidden"] for m in runs]
            seed_lines(ax, layers, [m["nets"][label]["rms"] for m in runs], semilogy=True, marker="o",
                       markersize=3.5, color="tab:orange" if small else "tab:blue",
                       style="--" if r["batchnorm"] else "-",
                       label=f"{label} (layer 1 / {config.depth}: {sum(ratios) / len(ratios):.2g})")
        ax.axvline(config.depth + 0.5, color="0.5", linestyle=":", linewidth=1)
        ax.text(config.depth + 0.6, 0.5, "output", transform=ax.get_xaxis_transform(), rotation=90,
                va="center", fontsize=8, color="0.4")
        ax.set_xticks(layers)
        ax.set_xlabel("layer (1 = next to the input)")
        ax.set_title(f"{title}, {config.depth} hidden layers of {config.width}")
        ax.legend(loc="lower right")
    axes[0].set_ylabel("RMS of dL/dW per weight (log scale)")

    ax = axes[2]
    hidden = layers[:config.depth]
    for (label, r), color in zip(metrics["explode"].items(), ("tab:blue", "tab:red")):
        ratios = [m["explode"][label]["first_to_last"] for m in runs]
        seed_lines(ax, hidden, [m["explode"][label]["signal_rms"] for m in runs], semilogy=True, marker="o",
                   markersize=3.5, color=color,
                   label=f"{label} (layer 1 / {config.depth}: {sum(ratios) / len(ratios):.3g})")
    ax.set_xticks(hidden)
    ax.set_xlabel("hidden layer (1 = next to the input)")
    ax.set_ylabel("RMS of dL/d(layer output) (log scale)")
    ax.set_title(f"Exploding: ReLU with {config.explode_gain:g} x He's std,\n"
                 f"the back-propagated gradient grows about {config.explode_gain:g}x per layer")
    ax.legend(loc="upper right")
    fig.suptitle(f"Gradient size per layer at initialisation, one backward pass on "
                 f"{metrics['n_samples']} {dataset} images (geometric mean of {config.n_inits} draws)"
                 f"{seeds_note(runs)}")
    return [save(fig, out_dir, "gradient-norms")]
