"""Learning-rate schedules: callables ``schedule(step) -> lr``.

``step`` counts optimizer updates from 0: the first update uses
``schedule(0)``. An optimizer given a schedule as ``lr`` evaluates it at its
``step_count`` before every update, which matches calling a PyTorch
``lr_scheduler.step()`` once after every ``optimizer.step()``.

Every schedule returns its constructor arguments from ``get_config()`` (JSON
values; a wrapped schedule appears as a ``{"name": ..., **config}`` spec), so
``create_schedule(s.name, **s.get_config())`` rebuilds it.

Reference: Goodfellow, Bengio and Courville, *Deep Learning*, sec. 8.3.1
(decaying the learning rate); Loshchilov and Hutter, "SGDR" (2017) for the
cosine schedule; Goyal et al., "Accurate, Large Minibatch SGD" (2017) for
linear warmup.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Callable, Sequence

from trainlab.errors import ConfigError
from trainlab.validation import check_bool, check_int, check_real, is_number
from trainlab.registry import Registry

#: Schedule classes by name ("step", "cosine", ...).
SCHEDULES: Registry[type] = Registry("schedule")


class Schedule:
    """Base class: a learning rate as a function of the update count.

    Subclasses set ``name`` (their registry name), implement ``__call__`` and
    ``get_config``.
    """

    name: str = ""

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError

    def __repr__(self) -> str:
        try:
            config = self.get_config()
        except ConfigError:  # wraps a plain callable, which has no JSON form
            config = dict(vars(self))
        args = ", ".join(f"{k}={v!r}" for k, v in config.items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(self.get_config())))


def _register(name: str, *aliases: str) -> Callable[[type], type]:
    def decorate(cls: type) -> type:
        cls.name = name
        SCHEDULES.add(name, cls, aliases=aliases)
        return cls

    return decorate


def _lr(owner: str, value, name: str = "lr") -> float:
    return check_real(owner, name, value, low=0.0)


def schedule_to_spec(schedule: "Schedule | float") -> "dict[str, Any] | float":
    """A JSON-able description: a float stays a float, a schedule becomes ``{"name": ..., **config}``."""
    if isinstance(schedule, Schedule):
        return {"name": schedule.name, **schedule.get_config()}
    if is_number(schedule):
        return float(schedule)
    raise ConfigError(f"cannot describe {schedule!r} as JSON; only trainlab schedules and numbers can be")


def schedule_from_spec(spec) -> "Schedule | float":
    """Inverse of :func:`schedule_to_spec`: a number, a Schedule, or a ``{"name": ..., ...}`` dict."""
    if isinstance(spec, Schedule) or is_number(spec):
        return spec
    if isinstance(spec, dict) and "name" in spec:
        kwargs = dict(spec)
        return create_schedule(kwargs.pop("name"), **kwargs)
    raise ConfigError(f"a schedule must be a number, a Schedule or a dict with a 'name', got {spec!r}")


def _as_schedule(owner: str, value) -> "Schedule | Callable[[int], float]":
    value = schedule_from_spec(value) if isinstance(value, dict) else value
    if is_number(value):
        return ConstantLR(value)
    if callable(value):
        return value
    raise ConfigError(f"{owner}: expected a learning rate or a schedule, got {value!r}")


@_register("constant")
class ConstantLR(Schedule):
    """The same learning rate at every step: ``lr_t = lr``.

    (PyTorch's ``ConstantLR`` means something else: a factor for the first
    iterations. This one is optax's ``constant_schedule``.)
    """

    def __init__(self, lr: float) -> None:
        self.lr = _lr("ConstantLR", lr)

    def __call__(self, step: int) -> float:
        return self.lr

    def get_config(self) -> dict[str, Any]:
        return {"lr": self.lr}


@_register("step", "step-decay")
class StepDecay(Schedule):
    """Multiply the rate by ``gamma`` every ``step_size`` steps: ``lr_t = lr * gamma**(t // step_size)``.

    Same as ``torch.optim.lr_scheduler.StepLR`` stepped once per update.
    """

    def __init__(self, lr: float, step_size: int, gamma: float = 0.1) -> None:
        self.lr = _lr("StepDecay", lr)
        self.step_size = check_int("StepDecay", "step_size", step_size, low=1)
        self.gamma = check_real("StepDecay", "gamma", gamma, low=0.0, low_open=True)

    def __call__(self, step: int) -> float:
        return self.lr * self.gamma ** (step // self.step_size)

    def get_config(self) -> dict[str, Any]:
        return {"lr": self.lr, "step_size": self.step_size, "gamma": self.gamma}


@_register("exponential", "exponential-decay")
class ExponentialDecay(Schedule):
    """Exponential decay: ``lr_t = lr * gamma**(t / decay_steps)`` (``floor`` of the ratio if ``staircase``).

    With ``decay_steps=1`` this is ``torch.optim.lr_scheduler.ExponentialLR``
    stepped once per update; ``decay_steps``/``staircase`` follow Keras's
    ``ExponentialDecay`` (whose ``decay_rate`` is ``gamma`` here).
    """

    def __init__(self, lr: float, gamma: float, decay_steps: int = 1, staircase: bool = False) -> None:
        self.lr = _lr("ExponentialDecay", lr)
        self.gamma = check_real("ExponentialDecay", "gamma", gamma, low=0.0, low_open=True)
        self.decay_steps = check_int("ExponentialDecay", "decay_steps", decay_steps, low=1)
        self.staircase = check_bool("ExponentialDecay", "staircase", staircase)

    def __call__(self, step: int) -> float:
        e = step // self.decay_steps if self.staircase else step / self.decay_steps
        return self.lr * self.gamma ** e

    def get_config(self) -> dict[str, Any]:
        return {"lr": self.lr, "gamma": self.gamma, "decay_steps": self.decay_steps,
                "staircase": self.staircase}


@_register("inverse-time", "inverse-time-decay")
class InverseTimeDecay(Schedule):
    """Inverse-time decay: ``lr_t = lr / (1 + decay_rate * t / decay_steps)``.

    Keras's ``InverseTimeDecay`` (``floor`` of ``t / decay_steps`` if
    ``staircase``) and the textbook ``lr / (1 + decay * t)`` with ``decay_steps=1``.
    """

    def __init__(self, lr: float, decay_rate: float, decay_steps: int = 1, staircase: bool = False) -> None:
        self.lr = _lr("InverseTimeDecay", lr)
        self.decay_rate = check_real("InverseTimeDecay", "decay_rate", decay_rate, low=0.0)
        self.decay_steps = check_int("InverseTimeDecay", "decay_steps", decay_steps, low=1)
        self.staircase = check_bool("InverseTimeDecay", "staircase", staircase)

    def __call__(self, step: int) -> float:
        t = step // self.decay_steps if self.staircase else step / self.decay_steps
        return self.lr / (1.0 + self.decay_rate * t)

    def get_config(self) -> dict[str, Any]:
        return {"lr": self.lr, "decay_rate": self.decay_rate, "decay_steps": self.decay_steps,
                "staircase": self.staircase}


@_register("cosine", "cosine-decay")
class CosineDecay(Schedule):
    """Half a cosine from ``lr`` down to ``min_lr`` over ``total_steps``, then ``min_lr``.

    ``lr_t = min_lr + (lr - min_lr) * (1 + cos(pi * t / total_steps)) / 2`` for
    ``t < total_steps``. Same values as ``torch.optim.lr_scheduler.CosineAnnealingLR``
    with ``T_max=total_steps, eta_min=min_lr`` during its first half period.
    """

    def __init__(self, lr: float, total_steps: int, min_lr: float = 0.0) -> None:
        self.lr = _lr("CosineDecay", lr)
        self.total_steps = check_int("CosineDecay", "total_steps", total_steps, low=1)
        self.min_lr = check_real("CosineDecay", "min_lr", min_lr, low=0.0, high=self.lr)

    def __call__(self, step: int) -> float:
        if step >= self.total_steps:
            return self.min_lr
        return self.min_lr + (self.lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * step / self.total_steps))

    def get_config(self) -> dict[str, Any]:
        return {"lr": self.lr, "total_steps": self.total_steps, "min_lr": self.min_lr}


@_register("warmup", "linear-warmup")
class LinearWarmup(Schedule):
    """Ramp linearly up to a rate or schedule over ``warmup_steps``, then follow it.

    For ``t < warmup_steps``: ``lr_t = s(0) * (f + (1 - f) * t / warmup_steps)``
    with ``f = start_factor``; afterwards ``lr_t = s(t - warmup_steps)``: the
    wrapped schedule starts when warmup ends (optax's ``join_schedules``;
    nanoGPT's warmup + cosine), so the run lasts ``warmup_steps`` plus the
    wrapped schedule's length.

    Parameters
    ----------
    schedule : float or Schedule
        The rate to reach (a float means a constant rate).
    warmup_steps : int
        Length of the ramp (>= 1).
    start_factor : float
        Fraction of the rate at step 0, in ``[0, 1]``. With the default 0 the
        first update does nothing.
    """

    def __init__(self, schedule, warmup_steps: int, start_factor: float = 0.0) -> None:
        self.schedule = _as_schedule("LinearWarmup", schedule)
        self.warmup_steps = check_int("LinearWarmup", "warmup_steps", warmup_steps, low=1)
        self.start_factor = check_real("LinearWarmup", "start_factor", start_factor, low=0.0, high=1.0)

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            f = self.start_factor + (1.0 - self.start_factor) * step / self.warmup_steps
            return self.schedule(0) * f
        return self.schedule(step - self.warmup_steps)

    def get_config(self) -> dict[str, Any]:
        inner = self.schedule
        spec = inner.lr if isinstance(inner, ConstantLR) else schedule_to_spec(inner)
        return {"schedule": spec, "warmup_steps": self.warmup_steps, "start_factor": self.start_factor}


@_register("chain", "join")
class Chain(Schedule):
    """Run schedules one after another, switching at ``boundaries``.

    With ``boundaries = [b1, b2, ...]`` (increasing), ``schedules[0](t)`` is
    used for ``t < b1``, ``schedules[1](t - b1)`` for ``b1 <= t < b2``, and so
    on: each schedule sees its own step count from 0 (optax's ``join_schedules``).
    """

    def __init__(self, schedules: Sequence, boundaries: Sequence[int]) -> None:
        if isinstance(schedules, (str, bytes)) or not isinstance(schedules, Sequence) or not schedules:
            raise ConfigError(f"Chain: schedules must be a non-empty list, got {schedules!r}")
        self.schedules = [_as_schedule("Chain", s) for s in schedules]
        self.boundaries = [check_int("Chain", "boundaries[i]", b, low=1) for b in boundaries]
        if len(self.boundaries) != len(self.schedules) - 1:
            raise ConfigError(f"Chain: {len(self.schedules)} schedules need {len(self.schedules) - 1} "
                              f"boundaries, got {len(self.boundaries)}")
        if any(b2 <= b1 for b1, b2 in zip(self.boundaries, self.boundaries[1:])):
            raise ConfigError(f"Chain: boundaries must increase strictly, got {self.boundaries}")

    def __call__(self, step: int) -> float:
        start = 0
        for schedule, end in zip(self.schedules, self.boundaries):
            if step < end:
                return schedule(step - start)
            start = end
        return self.schedules[-1](step - start)

    def get_config(self) -> dict[str, Any]:
        specs = [s.lr if isinstance(s, ConstantLR) else schedule_to_spec(s) for s in self.schedules]
        return {"schedules": specs, "boundaries": list(self.boundaries)}


def create_schedule(name: str, **kwargs) -> Schedule:
    """Build a registered schedule by name; unknown arguments raise ConfigError listing the valid ones.

    >>> create_schedule("cosine", lr=0.1, total_steps=1000)(0)
    0.1
    """
    cls = SCHEDULES.get(name)
    valid = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise ConfigError(f"unknown argument(s) {', '.join(unknown)} for schedule {cls.name!r}; "
                          f"valid arguments: {', '.join(valid)}")
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required argument is missing
        raise ConfigError(f"schedule {cls.name!r}: {exc}; arguments: {', '.join(valid)}") from None
