"""Imports every experiment module, which registers it; the order is the book's."""

from trainlab.experiments import optimizer_paths  # noqa: F401
