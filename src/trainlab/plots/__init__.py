"""Figures for the experiments, drawn from their metrics alone (matplotlib, Agg backend)."""
