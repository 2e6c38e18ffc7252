"""Figure of the overfitting experiments: train and test accuracy without and with a technique."""

from __future__ import annotations

import numpy as np

from trainlab.plots.style import pyplot, save, seed_lines, seeds_note


def describe_technique(options: dict) -> tuple[str, str, dict[str, str]]:
    """What a run's options (``metrics["runs"]["with"]["options"]``) apply, for the labels.

    Returns the technique ("weight decay"), its setting ("\u03bb = 0.1") and the
    labels of further runs (by their key in ``metrics["runs"]``).
    """
    if "weight_decay" in options:
        return "weight decay", f"\u03bb = {options['weight_decay']}", {}
    inverted = options["inverted_dropout"]
    form, other = ("inverted", "book's form") if inverted else ("book's form", "inverted form")
    return "dropout", f"ratio {options['dropout']}, {form}", {"other form": f"with dropout ({other})"}


def plot_overfit(runs: list[dict], config, out_dir):
    """Three panels: accuracy without the technique, with it, and the train-test gap of every run.

    The technique and its strength are read from the options of the "with" run;
    the figure is ``overfit-<technique>.png``.
    """
    metrics = runs[0]
    by_run = metrics["runs"]
    technique, setting, extra_labels = describe_technique(by_run["with"]["options"])
    name = "overfit-" + technique.replace(" ", "-")
    plt = pyplot()
    labels = {"without": f"without {technique}", "with": f"with {technique} ({setting})", **extra_labels}
    dataset = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}.get(metrics["dataset"], metrics["dataset"])
    epochs = np.asarray(metrics["epochs"])
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    def mean(key, field):
        return float(np.mean([m["runs"][key][field] for m in runs]))

    for ax, key in zip(axes[:2], ("without", "with")):
        train = [m["runs"][key]["train_acc"] for m in runs]
        test = [m["runs"][key]["test_acc"] for m in runs]
        seed_lines(ax, epochs, train, color="tab:blue", label=f"train ({metrics['n_train']} images)")
        seed_lines(ax, epochs, test, color="tab:orange", label=f"test ({metrics['n_test']} images)")
        ax.fill_between(epochs, np.mean(test, axis=0), np.mean(train, axis=0), color="0.6", alpha=0.25,
                        label=f"gap (last {config.gap_window} epochs: {mean(key, 'mean_gap'):.3f})")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy")
        ax.set_title(f"{labels[key]}\nlast epoch: train {mean(key, 'final_train_acc'):.3f}, "
                     f"test {mean(key, 'final_test_acc'):.3f}")
        ax.legend(loc="lower right")
    ax = axes[2]
    colors = iter(["tab:red", "tab:green", "tab:purple", "tab:brown"])
    for key in by_run:
        gap = [np.asarray(m["runs"][key]["train_acc"]) - np.asarray(m["runs"][key]["test_acc"]) for m in runs]
        seed_lines(ax, epochs, gap, color=next(colors), style="-" if key in ("without", "with") else "--",
                   label=labels.get(key, key))
    ax.axvspan(epochs[-config.gap_window], epochs[-1], color="0.85", alpha=0.5,
               label=f"last {config.gap_window} epochs (averaged)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("train accuracy - test accuracy")
    ax.set_title(f"Train-test gap, without and with {technique}")
    ax.legend(loc="lower right")
    fig.suptitle(f"{config.hidden_layers + 1}-layer ReLU net on the first {metrics['n_train']} {dataset} "
                 f"training images: overfitting without and with {technique} ({setting}){seeds_note(runs)}")
    return [save(fig, out_dir, name)]
