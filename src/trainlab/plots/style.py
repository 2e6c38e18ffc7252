"""Shared figure setup: the Agg backend, a readable size, and saving to PNG."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path


#: trainlab's figure settings (matplotlib rcParams).
STYLE = {"figure.dpi": 100, "savefig.dpi": 110, "font.size": 10, "axes.titlesize": 11,
         "legend.fontsize": 8, "axes.grid": True, "grid.alpha": 0.3}


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed), or a clear error.

    Where pyplot is already in use (a notebook with its inline backend, a
    user's script), its backend and settings are left as the user chose
    them: figures are saved to PNG and closed, which any backend does, and
    :func:`figure_style` gives trainlab's look inside a ``with`` block. Where
    trainlab is first to use pyplot (the command line), it also sets the style.
    """
    try:
        import matplotlib
    except ImportError:
        raise ImportError("figures need matplotlib: pip install 'trainlab[plots]'") from None
    owned = "matplotlib.pyplot" not in sys.modules
    if owned:
        matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    if owned:
        plt.rcParams.update(STYLE)
    return plt


@contextlib.contextmanager
def figure_style():
    """trainlab's figure settings inside the block only (the caller's are back afterwards)."""
    plt = pyplot()
    with plt.rc_context(STYLE):
        yield plt


def save(fig, out_dir, name: str) -> Path:
    """Save ``fig`` as ``out_dir/name.png``, close it, and return the path."""
    plt = pyplot()
    path = Path(out_dir) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


# ---- the spread over seeds -------------------------------------------------------------


def seeds_note(runs) -> str:
    """``""`` for one seed; else ``" (mean of 5 seeds; faint: each seed)"``, for titles and labels."""
    return "" if len(runs) < 2 else f" (mean of {len(runs)} seeds; faint: each seed)"


def seed_lines(ax, x, curves, *, color=None, label=None, style="-", semilogy=False, faint_alpha=0.25, **kwargs):
    """Draw ``curves`` (one sequence of y values per seed, over ``x``): their mean, and each seed faintly.

    With one curve this is a plain line. Returns the mean's line (for legends).
    """
    import numpy as np

    ys = np.asarray([np.asarray(c, np.float64) for c in curves])
    draw = ax.semilogy if semilogy else ax.plot
    if len(ys) > 1:
        for y in ys:
            draw(x, y, style, color=color, alpha=faint_alpha, linewidth=0.8)
    (line,) = draw(x, ys.mean(axis=0), style, color=color, label=label, **kwargs)
    return line


def seed_spread(values):
    """Mean of ``values`` (one number per seed) and its distance to the min and max, for ``yerr``/``xerr``."""
    import numpy as np

    v = np.asarray(values, np.float64)
    mean = float(v.mean())
    # Clipped at 0: the mean of equal numbers can round past them (3 x 0.1), and whiskers cannot be negative.
    return mean, (max(0.0, mean - float(v.min())), max(0.0, float(v.max()) - mean))


def seed_bars(ax, labels, values_per_label, *, horizontal=False, colors=None, **kwargs):
    """Bars of the mean over seeds with min-max whiskers (none for one seed); returns the bars and means.

    ``values_per_label`` holds one sequence of per-seed numbers for each label.
    """
    import numpy as np

    spread = [seed_spread(v) for v in values_per_label]
    means = [m for m, _ in spread]
    err = np.array([e for _, e in spread]).T  # (2, n): below, above
    several = max(len(v) for v in values_per_label) > 1
    draw = ax.barh if horizontal else ax.bar
    key = "xerr" if horizontal else "yerr"
    extra = {key: err, "capsize": 3} if several else {}
    bars = draw(labels, means, color=colors, **extra, **kwargs)
    return bars, means
