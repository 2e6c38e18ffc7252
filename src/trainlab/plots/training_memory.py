"""Figure of the training-memory experiment."""

from __future__ import annotations

import numpy as np

from trainlab.plots.style import pyplot, save, seed_bars, seed_lines, seeds_note

MIB = 1 / 2**20


def plot_training_memory(runs: list[dict], config, out_dir):
    """Held bytes over depth and batch, optimizer state per parameter byte, parameter count over width."""
    plt = pyplot()
    first = runs[0]
    fig, (ax1, ax2, ax3, ax4) = plt.subplots(1, 4, figsize=(18, 4.2))
    seed_lines(ax1, first["depths"], [np.asarray(m["held_by_depth"]) * MIB for m in runs], style="o-")
    ax1.set_xlabel("hidden layers")
    ax1.set_ylabel("MiB held after the forward pass")
    ax1.set_title(f"Kept for back-propagation (batch {config.batch})")
    seed_lines(ax2, first["batches"], [np.asarray(m["held_by_batch"]) * MIB for m in runs], style="o-")
    ax2.set_xlabel("batch size")
    ax2.set_ylabel("MiB held after the forward pass")
    ax2.set_title(f"Kept for back-propagation ({config.depth} hidden layers)")
    names = list(first["state_bytes"])
    seed_bars(ax3, names, [[m["state_bytes"][n] / m["param_bytes"] for m in runs] for n in names])
    ax3.set_ylabel("state bytes / parameter bytes")
    ax3.set_title("Optimizer state per parameter")
    ax4.plot(first["widths"], first["param_counts"], "o-")
    ax4.set_xlabel("hidden width")
    ax4.set_ylabel("trainable parameters")
    ax4.set_title(f"Parameters of {config.depth} hidden layers")
    fig.suptitle(f"Training memory of 784-input ReLU networks, float32{seeds_note(runs)}")
    return [save(fig, out_dir, "memory")]
