"""The optimizer base class and the optimizer registry (hyperparameters: :mod:`trainlab.optim.config`).

An optimizer does the bookkeeping (which parameters have a gradient,
clipping, weight decay, step counts, state, checkpoints); a plain function
per optimizer does the array math on one parameter, in place. The split
follows PyTorch's ``torch/optim/adam.py``; the state per parameter is a small
dict of arrays in the parameter's own dtype.

Order of operations in :meth:`Optimizer.step`, for every parameter whose
``.grad`` is not None:

1. global-norm clipping over all parameters of the optimizer (``clip_norm``);
2. coupled L2 weight decay ``g = g + weight_decay * p`` for parameters with
   ``p.decay == True`` only (PyTorch decays every parameter it is given;
   trainlab follows the book, which decays weights and not biases. Set a
   Parameter's ``decay`` flag to choose);
3. the update rule.

``.grad`` is never written to: clipping and decay go to a scratch copy.
``p.data`` is updated in place, so references to it stay valid.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
from typing import Any, Callable, ClassVar, Iterable

import numpy as np

from trainlab.backend import as_numpy, get_array_module
from trainlab.errors import CheckpointError, ConfigError, ShapeError
from trainlab.validation import is_number
from trainlab.optim.clip import clip_coefficient, global_norm
from trainlab.optim.config import COMMON, OptimizerConfig, hyperparameters
from trainlab.optim.schedules import schedule_to_spec
from trainlab.registry import Registry

#: Optimizer factories by name: a class, or a ``functools.partial`` of one with other defaults.
OPTIMIZERS: Registry[Callable[..., "Optimizer"]] = Registry("optimizer")


def _collect_params(owner: str, params) -> tuple[list[str], list]:
    """Names and Parameters from a list, a dict, (name, Parameter) pairs, or a layer."""
    if hasattr(params, "named_parameters") and callable(params.named_parameters):
        items = list(params.named_parameters())
    elif isinstance(params, dict):
        items = [(str(k), v) for k, v in params.items()]
    elif hasattr(params, "data") and hasattr(params, "grad"):
        raise ConfigError(f"{owner}: params must be an iterable of Parameter, got a single "
                          f"{type(params).__name__}; wrap it in a list")
    else:
        try:
            seq = list(params)
        except TypeError:
            raise ConfigError(f"{owner}: params must be an iterable of Parameter, got "
                              f"{type(params).__name__}") from None
        items = []
        for i, item in enumerate(seq):
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                items.append(item)
            else:
                items.append((str(i), item))
    if not items:
        raise ConfigError(f"{owner}: got an empty parameter list")
    seen: set[int] = set()
    names: set[str] = set()
    for name, p in items:
        if not (hasattr(p, "data") and hasattr(p, "grad")):
            raise ConfigError(f"{owner}: parameter {name!r} is a {type(p).__name__}, not a Parameter "
                              "(an object with .data and .grad)")
        if id(p) in seen:
            raise ConfigError(f"{owner}: parameter {name!r} appears twice")
        if name in names:
            raise ConfigError(f"{owner}: the name {name!r} is used by two parameters")
        seen.add(id(p))
        names.add(name)
    return [n for n, _ in items], [p for _, p in items]


class Optimizer:
    """Base class: bookkeeping around a per-parameter update rule.

    Subclasses set ``config_class`` (the one declaration of their
    hyperparameters, see :mod:`trainlab.optim.config`) and ``name``, and
    implement :meth:`_init_state` and :meth:`_update`. The constructor is
    derived from the config's fields: ``Cls(params, *args, **hyper)`` takes the
    positional fields in order after ``params`` and any field by keyword.

    Parameters
    ----------
    params : iterable of Parameter, dict name -> Parameter, (name, Parameter) pairs, or a layer
        The parameters to update; names key the arrays of :meth:`state_dict`
        (a plain list is named "0", "1", ...).
    *args, **hyper
        Hyperparameters, checked by ``config_class`` (kept as ``self.config``).

    Attributes
    ----------
    step_count : int
        Number of :meth:`step` calls so far (the schedule's step argument).
    state : list of dict
        Per parameter: ``"step"`` (updates this parameter has received) and its arrays.
    last_grad_norm : float or None
        Global gradient norm before clipping at the last step (only with ``clip_norm``).
    """

    config_class: ClassVar[type[OptimizerConfig]] = OptimizerConfig
    #: Registry name of the class's default form.
    name: ClassVar[str] = ""
    #: Scratch arrays (shape and dtype of the parameter) the rule needs; not saved.
    n_scratch: ClassVar[int] = 1
    #: True where ``weight_decay`` is decoupled and applied by the rule itself (AdamW).
    decoupled_weight_decay: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        fields = hyperparameters(cls.config_class)
        missing = [n for n in COMMON if n not in {f.name for f in fields}]
        if missing:
            raise TypeError(f"{cls.__name__}.config_class {cls.config_class.__name__} lacks {', '.join(missing)}")
        kinds = {False: inspect.Parameter.POSITIONAL_OR_KEYWORD, True: inspect.Parameter.KEYWORD_ONLY}
        cls.__signature__ = inspect.Signature(
            [inspect.Parameter("params", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
            + [inspect.Parameter(f.name, kinds[f.kw_only], default=f.default, annotation=f.type) for f in fields])

    def __init__(self, params, *args, **hyper) -> None:
        self.config = self._make_config(args, hyper)
        self.param_names, self.params = _collect_params(type(self).__name__, params)
        self.state: list[dict[str, Any]] = []
        self._scratch: list[list] = []
        for p in self.params:
            xp = get_array_module(p.data)
            self.state.append({"step": 0, **self._init_state(p.data)})
            self._scratch.append([xp.empty_like(p.data) for _ in range(self.n_scratch)])
        self._gbuf: list = [None] * len(self.params)
        self.step_count = 0
        self.last_grad_norm: float | None = None

    # ---- the subclass's part -------------------------------------------------
    def _init_state(self, data) -> dict[str, Any]:
        """Fresh state arrays for a parameter with value ``data`` (same dtype and array module)."""
        return {}

    def _check_lr(self, lr: float) -> None:
        """Reject a learning rate the rule cannot use (called before any parameter changes)."""

    def _update(self, p, g, state: dict[str, Any], scratch: list, lr: float) -> None:
        """Apply the rule to ``p.data`` in place; ``g`` is read only; ``state["step"]`` is already t."""
        raise NotImplementedError

    # ---- hyperparameters ---------------------------------------------------------
    @classmethod
    def hyperparameter_names(cls) -> list[str]:
        """Arguments of the constructor besides ``params``, in order (the config's fields)."""
        return [f.name for f in hyperparameters(cls.config_class)]

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Default value of every hyperparameter, in constructor order."""
        return {f.name: f.default for f in hyperparameters(cls.config_class)}

    @classmethod
    def check_names(cls, names: Iterable[str], label: str | None = None) -> None:
        """Raise ConfigError naming the optimizer (``label``, default its registry name) for unknown names."""
        valid = cls.hyperparameter_names()
        unknown = sorted(set(names) - set(valid))
        if unknown:
            raise ConfigError(f"unknown hyperparameter(s) {', '.join(unknown)} for optimizer "
                              f"{(label or cls.name)!r}; valid: {', '.join(valid)}")

    @classmethod
    def _make_config(cls, args: tuple, hyper: dict[str, Any]) -> OptimizerConfig:
        cls.check_names(hyper)
        positional = [f.name for f in hyperparameters(cls.config_class) if not f.kw_only]
        if len(args) > len(positional):
            raise TypeError(f"{cls.__name__}() takes params and at most {len(positional)} positional "
                            f"hyperparameters ({', '.join(positional)}), got {len(args)}")
        given = dict(zip(positional, args))
        twice = sorted(set(given) & set(hyper))
        if twice:
            raise TypeError(f"{cls.__name__}() got multiple values for {', '.join(twice)}")
        return cls.config_class(**given, **hyper)

    @property
    def lr(self) -> float:
        """The learning rate the next :meth:`step` uses (the schedule evaluated at ``step_count``)."""
        lr = self.config.lr
        if not callable(lr):
            return lr
        value = lr(self.step_count)
        if not is_number(value) or not math.isfinite(value) or value < 0:
            raise ConfigError(f"{type(self).__name__}: the lr schedule {lr!r} returned {value!r} at step "
                              f"{self.step_count}; a learning rate must be a finite number >= 0")
        return float(value)

    @lr.setter
    def lr(self, value) -> None:
        self.config = dataclasses.replace(self.config, lr=value)

    def get_config(self) -> dict[str, Any]:
        """Hyperparameters as JSON values (a schedule as its spec dict), plus ``name``."""
        out: dict[str, Any] = {"name": self.name}
        for f in dataclasses.fields(self.config):
            v = getattr(self.config, f.name)
            if f.name == "lr" and callable(v):
                v = schedule_to_spec(v)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    def __repr__(self) -> str:
        fields = ", ".join(f"{f.name}={getattr(self.config, f.name)!r}" for f in dataclasses.fields(self.config))
        return f"{type(self).__name__}({len(self.params)} params, {fields})"

    # ---- the training loop's part ------------------------------------------------
    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient: clip, decay, then the rule."""
        lr = self.lr
        self._check_lr(lr)
        params = self.params
        scale = 1.0
        if self.config.clip_norm is not None:
            norm = global_norm(p.grad for p in params)
            self.last_grad_norm = norm
            scale = clip_coefficient(norm, self.config.clip_norm)
        wd = 0.0 if self.decoupled_weight_decay else self.config.weight_decay
        for i, p in enumerate(params):
            g = p.grad
            if g is None:
                continue
            data = p.data
            scratch = self._scratch[i]
            if scratch[0].shape != data.shape or scratch[0].dtype != data.dtype:
                self._resync(i)
                scratch = self._scratch[i]
            if g.shape != data.shape:
                raise ShapeError(f"{type(self).__name__}: parameter {self.param_names[i]!r} has shape "
                                 f"{data.shape} but its gradient has shape {g.shape}")
            decay = wd if (wd and p.decay) else 0.0
            if decay or scale != 1.0:
                g = self._effective_grad(i, g, data, scale, decay, scratch[0])
            state = self.state[i]
            state["step"] += 1
            self._update(p, g, state, scratch, lr)
        self.step_count += 1

    def _effective_grad(self, i: int, g, data, scale: float, decay: float, tmp):
        """``scale * g + decay * p`` in a per-parameter buffer, leaving ``.grad`` untouched."""
        xp = get_array_module(data)
        buf = self._gbuf[i]
        if buf is None or buf.shape != data.shape or buf.dtype != data.dtype:
            buf = self._gbuf[i] = xp.empty_like(data)
        if scale != 1.0:
            xp.multiply(g, scale, buf)
        else:
            xp.copyto(buf, g)
        if decay:
            xp.multiply(data, decay, tmp)
            xp.add(buf, tmp, buf)
        return buf

    def _resync(self, i: int) -> None:
        """Follow a parameter whose array was replaced (``model.astype``, ``load_state_dict``)."""
        data = self.params[i].data
        xp = get_array_module(data)
        state = self.state[i]
        for k, v in state.items():
            if hasattr(v, "shape"):
                if v.shape != data.shape:
                    raise ShapeError(f"{type(self).__name__}: parameter {self.param_names[i]!r} changed shape "
                                     f"from {v.shape} to {data.shape}; build a new optimizer")
                state[k] = xp.asarray(v, dtype=data.dtype)
        self._scratch[i] = [xp.empty_like(data) for _ in range(self.n_scratch)]
        self._gbuf[i] = None

    # ---- checkpoints ---------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Per-parameter state and the step count as a flat dict of NumPy arrays (copies).

        Keys are ``"<param name>.<state name>"`` and ``"step_count"``;
        hyperparameters are not included (they belong to the run's config).
        """
        out = {"step_count": np.asarray(self.step_count, dtype=np.int64)}
        for name, state in zip(self.param_names, self.state):
            for k, v in state.items():
                if isinstance(v, int):
                    out[f"{name}.{k}"] = np.asarray(v, dtype=np.int64)
                elif isinstance(v, float):
                    out[f"{name}.{k}"] = np.asarray(v, dtype=np.float64)
                else:
                    out[f"{name}.{k}"] = np.array(as_numpy(v), copy=True)
        return out

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned, so training resumes on the same trajectory."""
        expected = {"step_count"}
        for name, state in zip(self.param_names, self.state):
            expected.update(f"{name}.{k}" for k in state)
        missing = expected - set(state_dict)
        unexpected = set(state_dict) - expected
        if missing or unexpected:
            raise CheckpointError(f"optimizer state does not match {type(self).__name__} over "
                                  f"{len(self.params)} parameters: missing {sorted(missing)}, "
                                  f"unexpected {sorted(unexpected)}")
        for i, (name, state) in enumerate(zip(self.param_names, self.state)):
            for k, old in list(state.items()):
                value = state_dict[f"{name}.{k}"]
                if isinstance(old, int):
                    state[k] = int(value)
                elif isinstance(old, float):
                    state[k] = float(value)
                else:
                    if tuple(np.shape(value)) != old.shape:
                        raise ShapeError(f"optimizer state {name}.{k}: expected shape {old.shape}, "
                                         f"got {tuple(np.shape(value))}")
                    xp = get_array_module(old)
                    xp.copyto(old, xp.asarray(value), casting="same_kind")
        self.step_count = int(state_dict["step_count"])


def register_optimizer(name: str, factory: Callable[..., Optimizer], *, aliases: tuple[str, ...] = ()):
    """Add an optimizer class (or a ``functools.partial`` of one with other defaults) to OPTIMIZERS."""
    return OPTIMIZERS.add(name, factory, aliases=aliases)


def optimizer_class(name: str) -> type[Optimizer]:
    """The class behind a registry name ('nesterov' -> SGD)."""
    factory = OPTIMIZERS.get(name)
    return factory.func if isinstance(factory, functools.partial) else factory


def optimizer_defaults(name: str) -> dict[str, Any]:
    """The default hyperparameters of a registry name (the config's defaults and the name's overrides)."""
    factory = OPTIMIZERS.get(name)
    out = optimizer_class(name).defaults()
    if isinstance(factory, functools.partial):
        out.update(factory.keywords)
    return out


def create_optimizer(name: str, params: Iterable, **hyper) -> Optimizer:
    """Build a registered optimizer by name.

    Unknown names raise UnknownNameError listing the valid ones; unknown
    keyword arguments raise ConfigError listing the optimizer's hyperparameters.
    ``lr`` may be a number, a schedule, or a schedule spec dict.
    """
    factory = OPTIMIZERS.get(name)
    optimizer_class(name).check_names(hyper, OPTIMIZERS.canonical(name))
    return factory(params, **hyper)
