"""Figures of the optimizer-mnist experiment."""

from __future__ import annotations

from trainlab.plots.style import pyplot, save


def plot_optimizer_mnist(runs: list[dict], config, out_dir):
    """Loss curves (the book's four, then all) and the test accuracy of every optimizer.

    ``config.book_four`` names the optimizers of the book's figure 6-9.
    """
    metrics = runs[0]
    book_four = config.book_four
    plt = pyplot()
    runs = metrics["runs"]
    its = metrics["curve_iterations"]
    # Ten distinct colours and black cover the eleven optimizers.
    colors = dict(zip(runs, [plt.cm.tab10(i) for i in range(10)] + ["k"]))
    where = f"{metrics['dataset']}, {metrics['n_train']} training images, batch {config.batch_size}"

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(16, 5))
    for label in book_four:
        r = runs[label]
        ax1.plot(its, r["loss"], color=colors[label], alpha=0.15, linewidth=0.8)
        ax1.plot(its, r["smoothed_loss"], color=colors[label], label=f"{label} (lr {r['hyper']['lr']})")
    ax1.set_ylim(0, 1)
    ax1.set_xlabel("iteration")
    ax1.set_ylabel("training loss")
    ax1.set_title(f"The book's four (fig. 6-9): smoothed loss; faint: batch loss\n({where})")
    ax1.legend()
    for label, r in runs.items():
        style = "-" if label in book_four else "--"
        ax2.semilogy(its, r["smoothed_loss"], style, color=colors[label],
                     label=f"{label}: final {r['final_loss']:.3f}")
    ax2.set_xlabel("iteration")
    ax2.set_ylabel(f"training loss (median over {config.smooth_window} iterations, log scale)")
    ax2.set_title(f"All {len(runs)} optimizers, same initial weights and batches")
    # Eleven curves leave no empty corner: the legend goes beside the axes.
    ax2.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
    paths = [save(fig, out_dir, "loss-curves")]

    fig, ax = plt.subplots(figsize=(8, 0.45 * len(runs) + 1.5))
    order = sorted(runs, key=lambda k: runs[k]["test_acc"])
    accs = [runs[k]["test_acc"] for k in order]
    bars = ax.barh(order, accs, color=[colors[k] for k in order])
    for bar, k in zip(bars, order):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2,
                f" {runs[k]['test_acc']:.4f} (loss {runs[k]['final_loss']:.3f})", va="center", fontsize=8)
    # Room on the right for the labels; the left edge zooms in when every optimizer learned.
    ax.set_xlim(min(accs) - 0.05 if min(accs) > 0.5 else 0, max(accs) + 0.03)
    ax.set_xlabel(f"test accuracy ({metrics['n_test']} images)")
    ax.set_title(f"Test accuracy after {config.iterations} iterations, by optimizer")
    paths.append(save(fig, out_dir, "test-accuracy"))
    return paths
