"""Figures of the resnet-preactivation experiment: the gradient reaching the bottom, and training, by depth."""

from __future__ import annotations

import numpy as np

from trainlab.plots.style import pyplot, save, seed_bars, seed_lines, seeds_note

COLORS = {"pre": "tab:blue", "post": "tab:red"}
LABELS = {"pre": "pre-activation (BN-ReLU-Conv)", "post": "post-activation (Conv-BN-ReLU)"}


def _smooth(values, window: int = 5) -> np.ndarray:
    v = np.asarray(values, np.float64)
    if v.size < window:
        return v
    return np.convolve(np.pad(v, window // 2, mode="edge"), np.ones(window) / window, mode="valid")


def plot_resnet_preactivation(runs: list[dict], config, out_dir):
    metrics = runs[0]
    plt = pyplot()
    depths = metrics["grad_depths"]
    where = f"width {config.width}, {metrics['image_size']}x{metrics['image_size']} {metrics['dataset']} images"

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.6))
    for key in ("pre", "post"):
        seed_lines(ax1, depths, [[d["ratio"] for d in m["gradients"][key]] for m in runs], color=COLORS[key],
                   marker="o", semilogy=True, label=LABELS[key])
        seed_lines(ax2, depths, [[d["stem"] for d in m["gradients"][key]] for m in runs], color=COLORS[key],
                   marker="o", semilogy=True, label=LABELS[key])
    for ax in (ax1, ax2):
        ax.set_xscale("log", base=2)
        ax.set_xticks(depths, [str(d) for d in depths])
        ax.set_xlabel("residual blocks")
        ax.legend()
    ax1.set_ylabel("||dL/d first block input|| / ||dL/d last block output||")
    ax1.set_title("Share of the top gradient reaching the bottom" + seeds_note(runs))
    ax2.set_ylabel("stem convolution's weight gradient norm")
    ax2.set_title("Stem gradient (also scales with each form's loss)")
    fig.suptitle(f"At the initial weights ({where}, mean of {config.grad_batches} batches of "
                 f"{config.grad_batch_size})")
    paths = [save(fig, out_dir, "gradient-reach")]

    tdepths = metrics["train_depths"]
    fig, axes = plt.subplots(1, len(tdepths) + 1, figsize=(5 * (len(tdepths) + 1), 4.4))
    for i, depth in enumerate(tdepths):
        ax = axes[i]
        for key in ("pre", "post"):
            curves = [m["training"][key][i]["loss"] for m in runs]
            n = min(len(c) for c in curves)  # a diverged run stops early
            steps = np.arange(1, n + 1)
            seed_lines(ax, steps, [_smooth(c[:n]) for c in curves], color=COLORS[key], label=LABELS[key])
        ax.set_xlabel("step")
        ax.set_ylabel("training loss (moving mean of 5)")
        ax.set_title(f"{depth} blocks" + seeds_note(runs))
        ax.legend()
    ax = axes[-1]
    x = np.arange(len(tdepths))
    for j, key in enumerate(("pre", "post")):
        finals = [[m["training"][key][i]["final_loss"] for m in runs] for i in range(len(tdepths))]
        finals = [[v for v in f if v is not None] or [np.nan] for f in finals]
        bars, _ = seed_bars(ax, list(x + (j - 0.5) * 0.4), finals, colors=COLORS[key], width=0.4,
                            label=LABELS[key])
    ax.set_xticks(x, [f"{d} blocks" for d in tdepths])
    ax.set_ylabel(f"mean loss of the last {max(1, config.steps // 4)} steps")
    ax.set_title("Final training loss" + (" (mean, min-max over seeds)" if len(runs) > 1 else ""))
    ax.legend()
    fig.suptitle(f"Training {config.steps} steps, momentum SGD lr {config.lr:g}, batch {config.batch_size}, "
                 f"same batches ({where})")
    paths.append(save(fig, out_dir, "training"))
    return paths
