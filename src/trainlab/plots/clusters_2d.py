"""Figures of the clusters-2d experiment: decision regions over the points, and the learning curves."""

from __future__ import annotations

import numpy as np

from trainlab.plots.style import pyplot, save, seed_lines, seeds_note


def plot_clusters_2d(runs: list[dict], config, out_dir):
    metrics = runs[0]
    plt = pyplot()
    from matplotlib.colors import ListedColormap

    k = config.n_centers
    colours = plt.get_cmap("tab10" if k <= 10 else "tab20")(np.arange(k) % (10 if k <= 10 else 20))
    cmap = ListedColormap(colours)
    g = metrics["grid"]
    extent = (*g["x"], *g["y"])
    x = np.asarray(metrics["data"]["x"])
    t = np.asarray(metrics["data"]["t"])
    means = np.asarray(metrics["class_means"])

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(17, 5.4), gridspec_kw={"width_ratios": [1.35, 1, 1]})
    ax1.imshow(np.asarray(g["net"]), origin="lower", extent=extent, cmap=cmap, vmin=-0.5, vmax=k - 0.5,
               alpha=0.35, interpolation="nearest", aspect="auto")
    # Nearest-centre boundaries: the edge of each class's region (a contour of the class index itself
    # would stack one line per skipped index where non-adjacent classes meet).
    nc = np.asarray(g["nearest_centre"])
    xs = np.linspace(*g["x"], nc.shape[1])
    ys = np.linspace(*g["y"], nc.shape[0])
    for c in np.unique(nc):
        ax1.contour(xs, ys, (nc == c).astype(float), levels=[0.5], colors="k", linewidths=0.8,
                    linestyles="--")
    ax1.scatter(x[:, 0], x[:, 1], c=t, cmap=cmap, vmin=-0.5, vmax=k - 0.5, s=9, edgecolors="k", linewidths=0.25)
    ax1.scatter(means[:, 0], means[:, 1], marker="X", s=90, c="w", edgecolors="k", linewidths=1.2,
                label="class means")
    ax1.plot([], [], "k--", linewidth=0.8, label="nearest-centre boundaries")
    ax1.grid(False)
    ax1.set_xlim(*g["x"])
    ax1.set_ylim(*g["y"])
    ax1.set_xlabel("x1")
    ax1.set_ylabel("x2")
    ax1.set_title(f"Network's decision regions (shaded) vs nearest-centre rule (dashed), first seed\n"
                  f"training accuracy {metrics['final_train_acc']:.3f}, nearest centre "
                  f"{metrics['nearest_centre_acc']:.3f}")
    ax1.legend(loc="upper right", framealpha=0.9)

    epochs = metrics["epochs"]
    seed_lines(ax2, epochs, [m["batch_loss_mean"] for m in runs], color="tab:blue", semilogy=True,
               label="mean batch loss (training mode)", alpha=0.8)
    seed_lines(ax2, epochs, [m["train_loss"] for m in runs], color="tab:orange", semilogy=True,
               label="loss at epoch end (eval mode)")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("cross-entropy loss")
    ax2.set_title(f"Loss, Adam lr {config.lr:g}, batch {config.batch_size}{seeds_note(runs)}")
    ax2.legend()

    seed_lines(ax3, epochs, [m["train_acc"] for m in runs], color="tab:blue", label="network, training accuracy")
    nc = [m["nearest_centre_acc"] for m in runs]
    # Each seed draws its own clusters, so each has its own yardstick.
    for value in nc if len(runs) > 1 else []:
        ax3.axhline(value, color="k", linestyle="--", linewidth=0.6, alpha=0.3)
    ax3.axhline(float(np.mean(nc)), color="k", linestyle="--", linewidth=1,
                label=f"nearest-centre rule ({np.mean(nc):.3f})")
    ax3.set_xlabel("epoch")
    ax3.set_ylabel("accuracy")
    lowest = min(min(m["train_acc"]) for m in runs)
    ax3.set_ylim(max(0.0, min(lowest, min(nc)) - 0.05), 1.0)
    ax3.set_title("Training accuracy against the nearest-centre rule")
    ax3.legend(loc="lower right")
    fig.suptitle(f"{k} Gaussian clusters (sd {config.noise_std:g}), Linear(2, {config.hidden_size}) -> "
                 f"Sigmoid -> Linear({config.hidden_size}, {k}), {config.epochs} epochs")
    return [save(fig, out_dir, "clusters-decision-regions")]
