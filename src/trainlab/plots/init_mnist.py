"""Figures of the init-mnist experiment."""

from __future__ import annotations

import math

from trainlab.plots.style import pyplot, save


def plot_init_mnist(runs: list[dict], config, out_dir):
    metrics = runs[0]
    plt = pyplot()
    runs = metrics["runs"]
    its = metrics["curve_iterations"]
    colors = dict(zip(runs, ["tab:blue", "tab:orange", "tab:green"]))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 5), gridspec_kw={"width_ratios": [2, 1]})
    for label, r in runs.items():
        ax1.plot(its, r["loss"], color=colors[label], alpha=0.15, linewidth=0.8)
        ax1.plot(its, r["smoothed_loss"], color=colors[label],
                 label=f"{label}: final loss {r['final_loss']:.3f}, test acc {r['test_acc']:.3f}")
    ax1.axhline(math.log(10), color="0.4", linestyle=":", label="ln 10 (uniform guess)")
    ax1.set_ylim(0, 2.6)
    ax1.set_xlabel("iteration")
    ax1.set_ylabel("training loss")
    ax1.set_title(f"5-layer ReLU net, SGD lr {config.lr}, batch {config.batch_size} (fig. 6-15)\n"
                  f"smoothed over {config.smooth_window} iterations; faint: batch loss")
    ax1.legend()
    for label, r in runs.items():
        ax2.plot(r["eval_iterations"], r["test_acc_curve"], "o-", color=colors[label], label=label)
    ax2.set_ylim(0, 1)
    ax2.set_xlabel("iteration")
    ax2.set_ylabel(f"test accuracy ({metrics['n_test']} images)")
    ax2.set_title("Test accuracy after each epoch")
    ax2.legend()
    fig.suptitle(f"Initial weights std 0.01 vs Xavier vs He on {metrics['dataset']}")
    return [save(fig, out_dir, "loss-by-init")]
