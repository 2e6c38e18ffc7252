"""Figures of the hyperparameter-search experiment: the best curves (figure 6-24) and the search space."""

from __future__ import annotations

import numpy as np

from trainlab.plots.style import pyplot, save, seed_bars


def _best_curves(plt, metrics: dict, config, out_dir):
    results = sorted(metrics["round1"], key=lambda r: -r["val_acc"])[: metrics["top"]["k"]]
    cols = min(5, len(results))
    rows = -(-len(results) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.3 * rows), sharex=True, sharey=True,
                             squeeze=False)
    for i, (ax, r) in enumerate(zip(axes.flat, results)):
        epochs = np.arange(1, len(r["val_curve"]) + 1)
        ax.plot(epochs, r["val_curve"], color="tab:blue", label="validation")
        ax.plot(epochs, r["train_curve"], "--", color="tab:orange", label="training")
        ax.set_title(f"Best-{i + 1} (val acc {r['val_acc']:.2f})\nlr {r['lr']:.1e}, wd {r['weight_decay']:.1e}",
                     fontsize=8.5)
        ax.set_ylim(0.0, 1.0)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy")
    for ax in axes.flat[len(results):]:
        ax.axis("off")
    axes.flat[0].legend(loc="lower right")
    fig.suptitle(f"The {len(results)} best of {len(metrics['round1'])} random trials (first seed) "
                 f"({metrics['n_train']} training / {metrics['n_val']} validation images, {config.epochs} epochs): "
                 "validation solid, training dashed")
    return save(fig, out_dir, "best-trials")


def _search_space(plt, runs: list[dict], config, out_dir):
    metrics = runs[0]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(16, 4.8), gridspec_kw={"width_ratios": [1.25, 1.1, 0.8]})
    rounds = (("round1", "o", "round 1"), ("round2", "^", "round 2 (narrowed)"))
    points = None
    for key, marker, label in rounds:
        rs = metrics[key]
        points = ax1.scatter([r["lr"] for r in rs], [r["weight_decay"] for r in rs],
                             c=[r["val_acc"] for r in rs], cmap="viridis", vmin=0.0, vmax=1.0, marker=marker,
                             s=32, edgecolors="k", linewidths=0.4, label=label)
    box = metrics["ranges"]["round2"]
    (lr0, lr1), (wd0, wd1) = box["lr"], box["weight_decay"]
    ax1.add_patch(plt.Rectangle((10 ** lr0, 10 ** wd0), 10 ** lr1 - 10 ** lr0, 10 ** wd1 - 10 ** wd0,
                                fill=False, edgecolor="tab:red", linewidth=1.3,
                                label=f"round-2 range (best {config.refine_top} of round 1)"))
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("learning rate")
    ax1.set_ylabel("weight decay")
    first = " (first seed)" if len(runs) > 1 else ""
    ax1.set_title(f"Sampled hyperparameters, coloured by final validation accuracy{first}")
    ax1.legend(loc="lower left")
    fig.colorbar(points, ax=ax1, label="validation accuracy")

    for key, marker, label in rounds:
        rs = metrics[key]
        ax2.scatter([r["lr"] for r in rs], [r["val_acc"] for r in rs], marker=marker, s=22, alpha=0.75,
                    label=label)
    low, high = metrics["top"].get("lr_band", (1e-3, 1e-2))
    ax2.axvspan(low, high, color="0.85", alpha=0.5, zorder=0, label=f"the claim's band {low:g}..{high:g}")
    ax2.set_xscale("log")
    ax2.set_xlabel("learning rate")
    ax2.set_ylabel("final validation accuracy")
    ax2.set_ylim(0.0, 1.0)
    ax2.set_title(f"Validation accuracy against learning rate{first}")
    ax2.legend(loc="upper left")

    if len(runs) > 1:
        # Several seeds: each round's median validation accuracy, mean and min-max over the seeds.
        medians = [[m["summary"][key]["median_val_acc"] for m in runs] for key, _, _ in rounds]
        bars, means = seed_bars(ax3, [0, 1], medians, colors=["tab:blue", "tab:orange"], width=0.6)
        for i, values in enumerate(medians):
            ax3.scatter(np.full(len(values), i), values, color="k", s=12, zorder=3)
        ax3.bar_label(bars, labels=[f"{m:.2f}" for m in means], label_type="center", color="w")
        ax3.set_xticks([0, 1], ["round 1", "round 2"])
        ax3.set_ylabel("median validation accuracy of the round")
        ax3.set_title(f"First round vs narrowed round:\nmedians of {len(runs)} seeds (dots), mean, min-max")
        ax3.set_ylim(0.0, 1.0)
        return save(fig, out_dir, "search-space")
    data = [[r["val_acc"] for r in metrics[key]] for key, _, _ in rounds]
    ax3.boxplot(data, showfliers=False)
    rng = np.random.default_rng(0)  # jitter for display only
    for i, values in enumerate(data, start=1):
        ax3.scatter(i + rng.uniform(-0.12, 0.12, len(values)), values, s=10, alpha=0.6)
        med = metrics["summary"][rounds[i - 1][0]]["median_val_acc"]
        ax3.text(i + 0.3, med, f"median\n{med:.2f}", va="center", fontsize=8)
    ax3.set_xticks([1, 2], [f"round 1\n({len(data[0])} trials)", f"round 2\n({len(data[1])} trials)"])
    ax3.set_xlim(0.5, 2.75)
    ax3.set_ylabel("final validation accuracy")
    ax3.set_ylim(0.0, 1.0)
    ax3.set_title("First round vs narrowed round")
    return save(fig, out_dir, "search-space")


def plot_hyperparameter_search(runs: list[dict], config, out_dir):
    metrics = runs[0]
    plt = pyplot()
    return [_best_curves(plt, metrics, config, out_dir), _search_space(plt, runs, config, out_dir)]
