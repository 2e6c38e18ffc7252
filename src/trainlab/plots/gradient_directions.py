"""Figures of the gradient-directions experiment: -grad against the direction to the minimum, and many starts."""

from __future__ import annotations

import numpy as np

from trainlab.functions2d import bowl, bowl_grad, double_well, valley, valley_grad
from trainlab.plots.style import pyplot, save, seed_bars, seeds_note


def _field(ax, f, grad, extent: float, title: str):
    """Contours of ``f``, and -grad on a coarse grid coloured by its angle to the direction of the origin."""
    side = np.linspace(-extent, extent, 200)
    X, Y = np.meshgrid(side, side)
    ax.contour(X, Y, f(np.stack([X, Y])), levels=12, colors="0.7", linewidths=0.7)
    coarse = np.linspace(-extent, extent, 15)
    U, V = np.meshgrid(coarse, coarse)
    keep = np.hypot(U, V) > 0
    p = np.stack([U[keep], V[keep]])
    g = -grad(p)
    cos = (g * -p).sum(axis=0) / (np.linalg.norm(g, axis=0) * np.linalg.norm(p, axis=0))
    angle = np.degrees(np.arccos(np.clip(cos, -1, 1)))
    g = g / np.linalg.norm(g, axis=0)
    q = ax.quiver(p[0], p[1], g[0], g[1], angle, cmap="viridis", clim=(0, 90), scale=22, width=0.004)
    ax.plot(0, 0, "r+", markersize=12, markeredgewidth=2)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=10)
    return q


def plot_gradient_directions(runs: list[dict], config, out_dir):
    metrics = runs[0]
    plt = pyplot()
    fig, axes = plt.subplots(1, 5, figsize=(25, 5.2), gridspec_kw={"width_ratios": [1, 1, 0.9, 1, 0.7]})
    d = metrics["directions"]
    e = config.extent
    _field(axes[0], bowl, bowl_grad, e, f"Isotropic x\u00b2 + y\u00b2: -grad (unit arrows) points at the minimum\n"
                                        f"largest angle {d['bowl']['max_angle']:.1g}\u00b0")
    q = _field(axes[1], valley, valley_grad, e,
               f"Anisotropic x\u00b2/20 + y\u00b2: mostly not\n{d['valley']['within_tolerance']:.0%} of the grid "
               f"within {config.angle_tolerance:g}\u00b0, median {d['valley']['median_angle']:.0f}\u00b0")
    fig.colorbar(q, ax=axes[1], label="angle between -grad and the direction to the minimum (\u00b0)")

    ax = axes[2]
    edges = np.linspace(0, 90, len(d["valley"]["histogram"]) + 1)
    for name, color in (("bowl", "tab:blue"), ("valley", "tab:orange")):
        ax.bar(edges[:-1], np.asarray(d[name]["histogram"]) / metrics["grid"]["n"], width=np.diff(edges),
               align="edge", alpha=0.6, color=color, label=name)
    ax.axvline(config.angle_tolerance, color="k", linestyle=":", label=f"tolerance {config.angle_tolerance:g}\u00b0")
    ax.set_xlabel("angle between -grad and the direction to the minimum (\u00b0)")
    ax.set_ylabel(f"fraction of the {metrics['grid']['n']} grid points")
    ax.set_title("Angles over the grid (the same for every seed)")
    ax.legend()

    ax = axes[3]
    side = np.linspace(-config.start_box - 0.5, config.start_box + 0.5, 200)
    X, Y = np.meshgrid(side, side)
    ax.contour(X, Y, double_well(np.stack([X, Y])), levels=20, colors="0.8", linewidths=0.6)
    desc = metrics["descent"]
    for name, color in (("valley", "tab:orange"), ("double well", "tab:purple")):
        paths = np.asarray(desc[name]["paths"])                              # (2, keep, points)
        for k in range(paths.shape[1]):
            ax.plot(paths[0, k], paths[1, k], "-", color=color, linewidth=0.7, alpha=0.7,
                    label=f"{name} (first seed)" if k == 0 else None)
            ax.plot(paths[0, k, -1], paths[1, k, -1], "o", color=color, markersize=4)
    ax.set_aspect("equal")
    ax.set_xlim(side[0], side[-1])
    ax.set_ylim(side[0], side[-1])
    ax.set_title("Gradient descent from the first 20 starts\n(contours: the double well)")
    ax.legend(loc="lower right", fontsize=7)
    bars = axes[4]
    labels = ["bowl", "valley", "double well\n(global min)"]
    values = [[m["descent"]["bowl"]["reached"] for m in runs], [m["descent"]["valley"]["reached"] for m in runs],
              [m["descent"]["double well"]["global_fraction"] for m in runs]]
    seed_bars(bars, np.arange(len(labels)), values, colors=["tab:blue", "tab:orange", "tab:purple"])
    bars.set_xticks(np.arange(len(labels)), labels)
    bars.set_ylim(0, 1.1)
    bars.set_ylabel("fraction of the starts")
    bars.set_title(f"Of {config.n_starts} random starts, those ending\nat the minimum (double well: "
                   "its global one)")
    fig.suptitle("Where the gradient points, and whether descent finds the minimum from every start"
                 + seeds_note(runs).replace("faint: each seed", "whiskers: min-max"))
    return [save(fig, out_dir, "gradient-directions")]
