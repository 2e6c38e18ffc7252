"""The experiments that show each technique at work, and the report that gathers them.

Importing this package registers every experiment in :data:`EXPERIMENTS`,
in the order of the book.
"""

from trainlab.experiments.base import (
    EXPERIMENTS, BookValue, Claim, ClaimTable, ExperimentSpec, parse_overrides, register,
)
from trainlab.experiments.runner import ExperimentResult, reproduce, run_experiment
from trainlab.experiments import catalog  # noqa: F401  (registers the experiments)

__all__ = ["EXPERIMENTS", "BookValue", "Claim", "ClaimTable", "ExperimentResult", "ExperimentSpec", "parse_overrides",
           "register", "reproduce", "run_experiment"]
