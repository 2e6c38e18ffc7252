"""Imports every experiment module, which registers it; the order is the book's."""

from trainlab.experiments import optimizer_paths  # noqa: F401
from trainlab.experiments import hyperparameter_search  # noqa: F401
from trainlab.experiments import clusters_2d  # noqa: F401
