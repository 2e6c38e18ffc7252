"""Figure of the cnn-mnist experiment: test accuracy by step and by time, training loss, over seeds."""

from __future__ import annotations

import numpy as np

from trainlab.plots.style import pyplot, save, seed_lines, seed_spread, seeds_note

STYLE = {"CNN": ("tab:blue", "-"), "MLP": ("tab:orange", "-"), "MLP long": ("tab:orange", "--"),
         "Small CNN": ("tab:green", "-")}


def plot_cnn_mnist(runs: list[dict], config, out_dir):
    """Three panels; with several seeds each curve is the mean over seeds, each seed drawn faintly."""
    metrics = runs[0]
    plt = pyplot()
    fig, (ax1, ax2, ax3, ax4) = plt.subplots(1, 4, figsize=(21, 4.8))
    lowest = 1.0
    for label in metrics["runs"]:
        per_seed = [m["runs"][label] for m in runs]
        r = per_seed[0]
        color, ls = STYLE.get(label, ("tab:gray", ":"))
        acc = float(np.mean([p["test_acc"] for p in per_seed]))
        name = f"{label} ({r['parameters']:,} params, {r['steps']} steps): {acc:.4f}"
        curves = [p["curve_acc"] for p in per_seed]
        lowest = min(lowest, float(np.min(curves)))
        seed_lines(ax1, r["curve_steps"], curves, color=color, style=ls, marker=".", label=name)
        # By time: each seed's own clock is faint; the mean curve sits at the mean time of each point.
        seconds = np.mean([p["curve_seconds"] for p in per_seed], axis=0)
        speed = float(np.mean([p["samples_per_second"] for p in per_seed]))
        seed_lines(ax2, seconds, curves, color=color, style=ls, marker=".",
                   label=f"{label}: {speed:.0f} samples/s")
        seed_lines(ax3, r["loss_steps"], [p["smoothed_loss"] for p in per_seed], color=color, style=ls,
                   label=label)
        mean, err = seed_spread([p["test_acc"] for p in per_seed])
        ax4.errorbar([r["parameters"]], [mean], yerr=[[err[0]], [err[1]]] if len(runs) > 1 else None,
                     fmt="o" if ls == "-" else "s", color=color, capsize=3, label=f"{label}: {mean:.4f}")
        ax4.annotate(f" {r['parameters']:,}", (r["parameters"], mean), fontsize=8)
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        # Zoom on the top when every curve gets there (MNIST); show more of the axis otherwise.
        ax.set_ylim(0.9 if lowest > 0.9 else max(0.0, lowest - 0.02), 1.0)
        ax.set_ylabel(f"test accuracy (first {min(config.curve_test, metrics['n_test'])} test images)")
        ax.legend(loc="lower right")
    ax1.set_xlabel("training step (log scale)")
    ax1.set_title("Test accuracy by step (final: all test images)" + seeds_note(runs))
    ax2.set_xlabel("training time, s (log scale, evaluation excluded; mean over seeds)")
    ax2.set_title("Test accuracy by training time")
    ax3.set_xscale("log")
    ax3.set_yscale("log")
    ax3.set_xlabel("training step (log scale)")
    ax3.set_ylabel(f"training loss (moving median of {config.smooth_window})")
    ax3.set_title("Training loss")
    ax3.legend()
    ax4.set_xscale("log")
    ax4.set_xlabel("trainable parameters (log scale)")
    ax4.set_ylabel(f"final test accuracy ({metrics['n_test']} images)")
    ax4.set_title("Accuracy against parameters" + (" (min-max over seeds)" if len(runs) > 1 else ""))
    ax4.legend(loc="lower right")
    fig.suptitle(f"SimpleConvNet and a small CNN vs {'-'.join(str(h) for h in (784, *config.hidden, 10))} MLP on "
                 f"{metrics['dataset']} ({metrics['n_train']} images): Adam lr {config.lr:g} ({config.lr_schedule}), "
                 f"batch {config.batch_size}, same batches" + seeds_note(runs))
    return [save(fig, out_dir, "cnn-vs-mlp")]
