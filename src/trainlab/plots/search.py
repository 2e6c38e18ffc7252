"""Figures of a hyperparameter search (:mod:`trainlab.search`).

- ``search-space.png``: every trial in the plane of two log-scale parameters
  (lr against weight decay when both were searched), coloured by its value;
  pruned trials hollow, failed ones as crosses.
- ``best-curves.png``: the reported curves of the best trials on one axes.
- ``best-trials.png``: the book's figure 6-24, the best 20 trials' validation
  curves (and training curves, dashed) in a grid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trainlab.plots.style import pyplot, save


def _plane(results) -> tuple[str, str] | None:
    """The two parameters to plot against each other: lr and weight decay, else the first two numeric."""
    if {"lr", "weight_decay"} <= set(results.param_names):
        return "lr", "weight_decay"
    numeric = [n for n in results.param_names
               if any(isinstance(r["params"].get(n), (int, float)) for r in results.trials)]
    return (numeric[0], numeric[1]) if len(numeric) >= 2 else None


def _positive(values) -> bool:
    return all(v is not None and v > 0 for v in values)


def plot_space(results, out_dir, name: str = "search-space") -> Path | None:
    """Scatter of the trials over two parameters (log-log when positive), coloured by value."""
    plane = _plane(results)
    if plane is None:
        return None
    px, py = plane
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.2, 5.4))
    rows = [r for r in results.trials if px in r["params"] and py in r["params"]]
    scored = [r for r in rows if r["value"] is not None]
    values = [r["value"] for r in scored]
    vmin, vmax = (min(values), max(values)) if values else (0.0, 1.0)
    points = None
    for state, marker, face in (("COMPLETE", "o", True), ("PRUNED", "o", False)):
        group = [r for r in scored if r["state"] == state]
        if not group:
            continue
        xs, ys, cs = ([r["params"][px] for r in group], [r["params"][py] for r in group],
                      [r["value"] for r in group])
        if face:
            points = ax.scatter(xs, ys, c=cs, cmap="viridis", vmin=vmin, vmax=vmax, s=36, edgecolors="k",
                                linewidths=0.4, label=f"finished ({len(group)})")
        else:
            cmap = plt.get_cmap("viridis")
            span = (vmax - vmin) or 1.0
            ax.scatter(xs, ys, facecolors="none", edgecolors=[cmap((c - vmin) / span) for c in cs], s=36,
                       linewidths=1.2, label=f"pruned ({len(group)}), last value")
    failed = [r for r in rows if r["state"] == "FAIL"]
    if failed:
        ax.scatter([r["params"][px] for r in failed], [r["params"][py] for r in failed], marker="x",
                   color="tab:red", s=30, label=f"failed ({len(failed)})")
    if results.best is not None:
        b = results.best["params"]
        ax.scatter([b[px]], [b[py]], marker="*", s=260, facecolors="none", edgecolors="tab:red",
                   linewidths=1.5, label=f"best (trial {results.best['number']})")
    for axis, p in ((ax.set_xscale, px), (ax.set_yscale, py)):
        if _positive([r["params"][p] for r in rows]):
            axis("log")
    ax.set_xlabel(px)
    ax.set_ylabel(py)
    ax.set_title(f"{len(rows)} trials, coloured by {results.value_name}")
    ax.legend(loc="best")
    if points is not None:
        fig.colorbar(points, ax=ax, label=results.value_name)
    return save(fig, out_dir, name)


def plot_best_curves(results, out_dir, k: int = 5, name: str = "best-curves") -> Path | None:
    """The reported curves of the best ``k`` trials (validation solid, training dashed)."""
    best = [r for r in results.top(k) if r["curve"]]
    if not best:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    for i, r in enumerate(best):
        color = plt.get_cmap("tab10")(i % 10)
        steps = np.arange(1, len(r["curve"]) + 1)
        ax.plot(steps, r["curve"], color=color, label=f"trial {r['number']}: {r['value']:.3f} ({r['state'].lower()})")
        if r["train_curve"]:
            ax.plot(np.arange(1, len(r["train_curve"]) + 1), r["train_curve"], "--", color=color, alpha=0.6)
    ax.set_xlabel("epoch")
    ax.set_ylabel(results.value_name)
    ax.set_title(f"The best {len(best)} trials (training dashed where recorded)")
    ax.legend(loc="lower right")
    return save(fig, out_dir, name)


def plot_best_grid(results, out_dir, k: int = 20, name: str = "best-trials") -> Path | None:
    """The book's figure 6-24: the best ``k`` trials' curves, one panel each, best first."""
    best = [r for r in results.top(k) if r["curve"]]
    if not best:
        return None
    plt = pyplot()
    cols = min(5, len(best))
    rows = -(-len(best) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.3 * rows), sharex=True, sharey=True,
                             squeeze=False)
    for i, (ax, r) in enumerate(zip(axes.flat, best)):
        ax.plot(np.arange(1, len(r["curve"]) + 1), r["curve"], color="tab:blue", label="validation")
        if r["train_curve"]:
            ax.plot(np.arange(1, len(r["train_curve"]) + 1), r["train_curve"], "--", color="tab:orange",
                    label="training")
        shown = ", ".join(f"{n} {_short(v)}" for n, v in list(r["params"].items())[:3])
        ax.set_title(f"Best-{i + 1} ({r['value']:.2f})\n{shown}", fontsize=8.5)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    for ax in axes[:, 0]:
        ax.set_ylabel(results.value_name)
    for ax in axes.flat[len(best):]:
        ax.axis("off")
    axes.flat[0].legend(loc="lower right")
    fig.suptitle(f"The best {len(best)} of {len(results.trials)} trials: validation solid, training dashed")
    return save(fig, out_dir, name)


def _short(value) -> str:
    return f"{value:.1e}" if isinstance(value, float) else str(value)


def plot_search(results, out_dir) -> dict[str, Path]:
    """All three figures; returns ``{name: path}`` for those that could be drawn."""
    out = {}
    for key, fn in (("space", plot_space), ("curves", plot_best_curves), ("grid", plot_best_grid)):
        path = fn(results, out_dir)
        if path is not None:
            out[key] = path
    return out
