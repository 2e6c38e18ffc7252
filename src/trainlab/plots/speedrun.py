"""Figure of the speedrun-ablation experiment: test accuracy of the recipe and of each variant, over seeds."""

from __future__ import annotations

from trainlab.plots.style import pyplot, save, seed_bars, seeds_note


def plot_speedrun_ablation(runs: list[dict], config, out_dir):
    """Bars of each variant's mean test accuracy (min-max whiskers over seeds) and the steps it reached."""
    metrics = runs[0]
    names = list(metrics["variants"])
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.8))
    colors = ["tab:green" if n == "recipe" else "tab:gray" for n in names]
    acc = [[m["variants"][n]["test_acc"] for m in runs] for n in names]
    _, means = seed_bars(ax1, names, acc, horizontal=True, colors=colors)
    for i, mean in enumerate(means):
        ax1.annotate(f" {mean:.4f}", (mean, i), va="center", fontsize=8)
    low = min(min(a) for a in acc)
    ax1.set_xlim(max(0.0, low - 0.05), 1.0)
    ax1.invert_yaxis()
    ax1.set_xlabel(f"test accuracy ({metrics['n_test']} images)")
    ax1.set_title(f"Each technique removed, {metrics['budget_seconds']:g} s budget" + seeds_note(runs))
    steps = [[m["variants"][n]["steps"] for m in runs] for n in names]
    seed_bars(ax2, names, steps, horizontal=True, colors=colors)
    ax2.invert_yaxis()
    ax2.set_xlabel("training steps reached within the budget")
    ax2.set_title("Steps each variant reached (BatchNorm costs time per step)")
    fig.suptitle(f"Speedrun ablation on {metrics['dataset']} ({metrics['n_train']} training images)")
    return [save(fig, out_dir, "speedrun_ablation")]
