"""Shared figure setup: the Agg backend, a readable size, and saving to PNG."""

from __future__ import annotations

from pathlib import Path


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed), or a clear error."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError("figures need matplotlib: pip install 'trainlab[plots]'") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 110, "font.size": 10, "axes.titlesize": 11,
                         "legend.fontsize": 8, "axes.grid": True, "grid.alpha": 0.3})
    return plt


def save(fig, out_dir, name: str) -> Path:
    """Save ``fig`` as ``out_dir/name.png``, close it, and return the path."""
    plt = pyplot()
    path = Path(out_dir) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
