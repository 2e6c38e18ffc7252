"""Exceptions raised by trainlab.

Every error names what was wrong (the layer, the shape, the step) so that a
user can fix the call without reading trainlab's source. Each class also
derives from the closest built-in exception, so ``except ValueError`` keeps
working in code that does not know about trainlab.
"""

from __future__ import annotations


class TrainlabError(Exception):
    """Base class of every error trainlab raises on purpose."""


class ShapeError(TrainlabError, ValueError):
    """An array has the wrong number of dimensions or the wrong size."""


class DTypeError(TrainlabError, TypeError):
    """An array has a dtype the operation cannot use."""


class ConfigError(TrainlabError, ValueError):
    """A hyperparameter or option is out of its valid range."""


class UnknownNameError(TrainlabError, ValueError):
    """A name (optimizer, initialiser, schedule, layer, experiment) is not registered."""


class NonFiniteError(TrainlabError, FloatingPointError):
    """A loss, an output or an input contains NaN or infinity."""


class CheckpointError(TrainlabError, ValueError):
    """A checkpoint file is missing, damaged, or not the architecture expected."""


class DataError(TrainlabError, ValueError):
    """A data file is corrupt, truncated, of the wrong format, or fails its checksum."""
