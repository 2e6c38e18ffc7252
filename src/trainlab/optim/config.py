"""The one declaration of an optimizer's hyperparameters: a frozen dataclass.

Each optimizer's config class lists its hyperparameters once, as fields in
the order of the constructor (PyTorch's order; fields after ``_: KW_ONLY``
are keyword-only). A field carries its default and its check, so the
constructor, :func:`~trainlab.optim.create_optimizer`, the defaults of a
registry name, ``trainlab list optimizers`` and the documentation all read
names, defaults and valid ranges from the same place::

    @dataclass(frozen=True)
    class SGDConfig(OptimizerConfig):
        lr: Any = lr_field(1e-3)
        momentum: float = real_field(0.0, low=0.0)
        ...
        _: KW_ONLY
        clip_norm: float | None = clip_field()

Every config has ``lr``, ``weight_decay`` and ``clip_norm``.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any, Callable

from trainlab.errors import ConfigError
from trainlab.optim.schedules import schedule_from_spec
from trainlab.validation import check_betas, check_bool, check_choice, check_real, is_number

#: The hyperparameters every optimizer has.
COMMON = ("lr", "weight_decay", "clip_norm")


def hyper_field(default: Any, check: Callable[[str, str, Any], Any] | None = None):
    """A hyperparameter: its default and ``check(owner, name, value) -> value`` (raises ConfigError)."""
    return dataclasses.field(default=default, metadata={"check": check} if check is not None else {})


def check_lr(owner: str, name: str, value):
    """A positive number, a schedule (callable ``step -> lr``) or a schedule spec dict (built here)."""
    if isinstance(value, dict):
        value = schedule_from_spec(value)
    if is_number(value):
        return check_real(owner, name, value, low=0.0, low_open=True)
    if not callable(value):
        raise ConfigError(f"{owner}: {name} must be a positive number or a schedule, got {value!r}")
    return value


def _check_clip_norm(owner: str, name: str, value):
    return None if value is None else check_real(owner, name, value, low=0.0, low_open=True)


def lr_field(default: float):
    """The learning rate: a positive number or a schedule."""
    return hyper_field(default, check_lr)


def real_field(default: float, **bounds):
    """A finite number; ``bounds`` are :func:`~trainlab.validation.check_real`'s (``low``, ``high_open``, ...)."""
    return hyper_field(default, functools.partial(check_real, **bounds))


def eps_field(default: float):
    """A stabiliser ``eps`` (> 0)."""
    return real_field(default, low=0.0, low_open=True)


def decay_field(default: float = 0.0):
    """``weight_decay`` (>= 0)."""
    return real_field(default, low=0.0)


def flag_field(default: bool = False):
    """True or False."""
    return hyper_field(default, check_bool)


def choice_field(default: str, choices: tuple[str, ...]):
    """One of ``choices``."""
    return hyper_field(default, functools.partial(check_choice, choices=choices))


def betas_field(default: tuple[float, float] = (0.9, 0.999)):
    """A pair of decay rates, each in [0, 1)."""
    return hyper_field(default, check_betas)


def clip_field():
    """``clip_norm``: None (no clipping) or a positive global norm."""
    return hyper_field(None, _check_clip_norm)


@dataclass(frozen=True)
class OptimizerConfig:
    """Base of the optimizers' hyperparameter dataclasses: checks every field as it declares.

    Subclasses declare all their fields (``lr``, ``weight_decay`` and
    ``clip_norm`` included) with the ``*_field`` helpers, and may override
    :meth:`__post_init__` for checks that involve several fields (calling
    ``super().__post_init__()`` first).
    """

    @property
    def owner(self) -> str:
        """The optimizer's class name, for error messages."""
        return type(self).__name__.removesuffix("Config")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            check = f.metadata.get("check")
            if check is not None:
                # frozen dataclass: normalising a field after validation needs object.__setattr__
                object.__setattr__(self, f.name, check(self.owner, f.name, getattr(self, f.name)))


def hyperparameters(config_class: type[OptimizerConfig]) -> list[dataclasses.Field]:
    """The fields in constructor order: positional ones first, then keyword-only ones."""
    fields = dataclasses.fields(config_class)
    return [f for f in fields if not f.kw_only] + [f for f in fields if f.kw_only]
