"""Figures of the overfit-dropout experiment (the layout is shared with overfit-weight-decay)."""

from __future__ import annotations

from trainlab.plots.overfit_weight_decay import plot_overfit


def plot_overfit_dropout(metrics: dict, config, out_dir):
    form = "inverted" if config.inverted else "book's form"
    other = "book's form" if config.inverted else "inverted form"
    return plot_overfit(metrics, config, out_dir, technique="dropout", setting=f"ratio {config.dropout}, {form}",
                        name="overfit-dropout", extra_labels={"other form": f"with dropout ({other})"})
