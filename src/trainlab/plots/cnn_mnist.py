"""Figure of the cnn-mnist experiment."""

from __future__ import annotations

from trainlab.plots.style import pyplot, save

STYLE = {"CNN": ("tab:blue", "-"), "MLP": ("tab:orange", "-"), "MLP long": ("tab:orange", "--")}


def plot_cnn_mnist(runs: list[dict], config, out_dir):
    metrics = runs[0]
    plt = pyplot()
    runs = metrics["runs"]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(16, 4.8))
    for label, r in runs.items():
        color, ls = STYLE[label]
        name = f"{label} ({r['parameters']:,} params, {r['steps']} steps): {r['test_acc']:.4f}"
        ax1.plot(r["curve_steps"], r["curve_acc"], ls, marker=".", color=color, label=name)
        ax2.plot(r["curve_seconds"], r["curve_acc"], ls, marker=".", color=color,
                 label=f"{label}: {r['samples_per_second']:.0f} samples/s")
        ax3.plot(r["loss_steps"], r["smoothed_loss"], ls, color=color, label=label)
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_ylim(0.9, 1.0)
        ax.set_ylabel(f"test accuracy (first {min(config.curve_test, metrics['n_test'])} test images)")
        ax.legend(loc="lower right")
    ax1.set_xlabel("training step (log scale)")
    ax1.set_title("Test accuracy by step (final: all test images)")
    ax2.set_xlabel("training time, s (log scale, evaluation excluded)")
    ax2.set_title("Test accuracy by training time")
    ax3.set_xscale("log")
    ax3.set_yscale("log")
    ax3.set_xlabel("training step (log scale)")
    ax3.set_ylabel(f"training loss (moving median of {config.smooth_window})")
    ax3.set_title("Training loss")
    ax3.legend()
    fig.suptitle(f"SimpleConvNet vs {'-'.join(str(h) for h in (784, *config.hidden, 10))} MLP on "
                 f"{metrics['dataset']} ({metrics['n_train']} images): Adam lr {config.lr:g} ({config.lr_schedule}), "
                 f"batch {config.batch_size}, same batches")
    return [save(fig, out_dir, "cnn-vs-mlp")]
