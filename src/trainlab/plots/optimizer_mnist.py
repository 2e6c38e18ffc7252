"""Figures of the optimizer-mnist experiment."""

from __future__ import annotations

from trainlab.plots.style import pyplot, save, seed_bars, seed_lines, seeds_note


def plot_optimizer_mnist(runs: list[dict], config, out_dir):
    """Loss curves (the book's four, then all) and the test accuracy of every optimizer.

    ``config.book_four`` names the optimizers of the book's figure 6-9. With
    several seeds the curves are the mean over the seeds with each seed faint,
    and the bars the mean with min-max whiskers.
    """
    metrics = runs[0]
    book_four = config.book_four
    plt = pyplot()
    labels = list(metrics["runs"])
    its = metrics["curve_iterations"]
    note = seeds_note(runs)

    def per_seed(label, key):
        return [m["runs"][label][key] for m in runs]

    def mean(label, key):
        values = per_seed(label, key)
        return sum(values) / len(values)

    # Ten distinct colours and black cover the eleven optimizers.
    colors = dict(zip(labels, [plt.cm.tab10(i) for i in range(10)] + ["k"]))
    where = f"{metrics['dataset']}, {metrics['n_train']} training images, batch {config.batch_size}"

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(16, 5))
    for label in book_four:
        r = metrics["runs"][label]
        if len(runs) == 1:
            ax1.plot(its, r["loss"], color=colors[label], alpha=0.15, linewidth=0.8)
        seed_lines(ax1, its, per_seed(label, "smoothed_loss"), color=colors[label],
                   label=f"{label} (lr {r['hyper']['lr']})")
    ax1.set_ylim(0, 1)
    ax1.set_xlabel("iteration")
    ax1.set_ylabel("training loss")
    faint = "faint: batch loss" if len(runs) == 1 else f"mean of {len(runs)} seeds; faint: each seed"
    ax1.set_title(f"The book's four (fig. 6-9): smoothed loss; {faint}\n({where})")
    ax1.legend()
    for label in labels:
        style = "-" if label in book_four else "--"
        seed_lines(ax2, its, per_seed(label, "smoothed_loss"), color=colors[label], style=style, semilogy=True,
                   label=f"{label}: final {mean(label, 'final_loss'):.3f}")
    ax2.set_xlabel("iteration")
    ax2.set_ylabel(f"training loss (median over {config.smooth_window} iterations, log scale)")
    ax2.set_title(f"All {len(labels)} optimizers, same initial weights and batches{note}")
    # Eleven curves leave no empty corner: the legend goes beside the axes.
    ax2.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
    paths = [save(fig, out_dir, "loss-curves")]

    fig, ax = plt.subplots(figsize=(8, 0.45 * len(labels) + 1.5))
    order = sorted(labels, key=lambda k: mean(k, "test_acc"))
    bars, accs = seed_bars(ax, order, [per_seed(k, "test_acc") for k in order], horizontal=True,
                           colors=[colors[k] for k in order])
    for bar, k, acc in zip(bars, order, accs):
        ax.text(max(per_seed(k, "test_acc")), bar.get_y() + bar.get_height() / 2,
                f" {acc:.4f} (loss {mean(k, 'final_loss'):.3f})", va="center", fontsize=8)
    # Room on the right for the labels; the left edge zooms in when every optimizer learned.
    ax.set_xlim(min(accs) - 0.05 if min(accs) > 0.5 else 0, max(accs) + 0.04)
    ax.set_xlabel(f"test accuracy ({metrics['n_test']} images)")
    whiskers = "" if len(runs) == 1 else f"\n(mean of {len(runs)} seeds; whiskers: min-max)"
    ax.set_title(f"Test accuracy after {config.iterations} iterations, by optimizer{whiskers}")
    paths.append(save(fig, out_dir, "test-accuracy"))
    return paths
