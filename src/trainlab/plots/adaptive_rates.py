"""Figure of the adaptive-rates experiment: AdaGrad's and RMSProp's effective steps and losses over a long run."""

from __future__ import annotations

import numpy as np

from trainlab.plots.style import pyplot, save, seed_lines, seeds_note

COLORS = {"AdaGrad": "tab:green", "RMSProp": "tab:purple"}


def _moving_mean(values, window: int = 9) -> np.ndarray:
    """Centred moving mean, the ends padded with their edge values (damps the batch noise)."""
    v = np.asarray(values, np.float64)
    half = min(window, len(v)) // 2
    return np.convolve(np.pad(v, half, mode="edge"), np.ones(2 * half + 1) / (2 * half + 1), mode="valid")


def plot_adaptive_rates(runs: list[dict], config, out_dir):
    """Median effective step, |update| / |gradient| and the loss; the mean over seeds with each seed faint."""
    plt = pyplot()
    first = runs[0]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(17, 4.5))
    for label in first["runs"]:
        its = first["runs"][label]["iteration"]
        seed_lines(ax1, its, [m["runs"][label]["median_step"] for m in runs], color=COLORS.get(label),
                   semilogy=True, label=f"{label} (lr {first['runs'][label]['lr']:g})")
        seed_lines(ax2, its, [m["runs"][label]["update_over_grad"] for m in runs], color=COLORS.get(label),
                   semilogy=True, label=label)
        every = first["runs"][label]["loss_every"]
        curves = [_moving_mean(m["runs"][label]["loss"]) for m in runs]
        seed_lines(ax3, np.arange(len(curves[0])) * every, curves, color=COLORS.get(label), semilogy=True,
                   label=f"{label}: last 10 % {np.mean([m['runs'][label]['loss_end'] for m in runs]):.4f}")
    ax1.axvline(first["runs"]["AdaGrad"]["early_iteration"], color="0.5", linestyle=":", label="early point")
    ax1.set_title("Effective step lr / (\u221ah + eps), median over the weights")
    ax2.set_title("|update| / |gradient| of the step")
    ax3.set_title("Training loss (batch, smoothed)")
    for ax in (ax1, ax2, ax3):
        ax.set_xlabel("iteration")
        ax.legend()
    fig.suptitle(f"AdaGrad vs RMSProp on {first['dataset']}, {first['n_train']} images, {config.iterations} "
                 f"iterations{seeds_note(runs)}")
    return [save(fig, out_dir, "effective-steps")]
