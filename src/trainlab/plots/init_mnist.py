"""Figures of the init-mnist experiment."""

from __future__ import annotations

import math

from trainlab.plots.style import pyplot, save, seed_lines, seeds_note


def plot_init_mnist(runs: list[dict], config, out_dir):
    metrics = runs[0]
    plt = pyplot()
    by_init = metrics["runs"]
    its = metrics["curve_iterations"]
    colors = dict(zip(by_init, ["tab:blue", "tab:orange", "tab:green"]))
    several = len(runs) > 1
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 5), gridspec_kw={"width_ratios": [2, 1]})
    for label in by_init:
        finals = [m["runs"][label]["final_loss"] for m in runs]
        accs = [m["runs"][label]["test_acc"] for m in runs]
        if not several:  # one seed: its batch loss, faintly, behind the smoothed curve
            ax1.plot(its, by_init[label]["loss"], color=colors[label], alpha=0.15, linewidth=0.8)
        seed_lines(ax1, its, [m["runs"][label]["smoothed_loss"] for m in runs], color=colors[label],
                   label=f"{label}: final loss {sum(finals) / len(finals):.3f}, "
                         f"test acc {sum(accs) / len(accs):.3f}")
    ax1.axhline(math.log(10), color="0.4", linestyle=":", label="ln 10 (uniform guess)")
    ax1.set_ylim(0, 2.6)
    ax1.set_xlabel("iteration")
    ax1.set_ylabel("training loss")
    faint = f"mean of {len(runs)} seeds; faint: each seed" if several else "faint: batch loss"
    ax1.set_title(f"5-layer ReLU net, SGD lr {config.lr}, batch {config.batch_size} (fig. 6-15)\n"
                  f"smoothed over {config.smooth_window} iterations; {faint}")
    ax1.legend()
    for label, r in by_init.items():
        seed_lines(ax2, r["eval_iterations"], [m["runs"][label]["test_acc_curve"] for m in runs],
                   color=colors[label], label=label, style="o-")
    ax2.set_ylim(0, 1)
    ax2.set_xlabel("iteration")
    ax2.set_ylabel(f"test accuracy ({metrics['n_test']} images)")
    ax2.set_title(f"Test accuracy after each epoch{seeds_note(runs)}")
    ax2.legend()
    fig.suptitle(f"Initial weights std 0.01 vs Xavier vs He on {metrics['dataset']}")
    return [save(fig, out_dir, "loss-by-init")]
