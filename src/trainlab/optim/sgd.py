"""Stochastic gradient descent: PyTorch's SGD and the book's Momentum / Nesterov forms.

The two momentum forms differ in where the learning rate sits:

* PyTorch (``SGD``): the buffer starts at the first gradient and holds
  gradients, ``b = mu*b + (1 - dampening)*g``, ``p -= lr*b``.
* the book and Keras (``Momentum``): a velocity that starts at zero and
  holds steps, ``v = a*v - lr*g``, ``p += v``.

With a constant ``lr`` and no dampening the trajectories are the same
(``v = -lr*b`` after every step); they part when ``lr`` changes, because the
book's velocity keeps the steps taken at the old rate while PyTorch applies
the new rate to its whole buffer.
"""

from __future__ import annotations

import functools
from dataclasses import KW_ONLY, dataclass
from typing import Any

from trainlab.backend import get_array_module
from trainlab.errors import ConfigError
from trainlab.optim.base import Optimizer, register_optimizer
from trainlab.optim.config import OptimizerConfig, clip_field, decay_field, flag_field, lr_field, real_field


def sgd_update(param, grad, buf, tmp, *, step: int, lr: float, momentum: float,
               dampening: float, nesterov: bool) -> None:
    """One PyTorch SGD step on ``param`` in place.

    Rule (t = ``step``, counting from 1)::

        b = g                             if t == 1
        b = mu*b + (1 - dampening)*g      otherwise
        d = g + mu*b if nesterov else b   (d = g when mu == 0)
        p = p - lr*d

    ``buf`` is unused (may be None) when ``momentum == 0``; ``tmp`` is scratch.
    """
    xp = get_array_module(param)
    d = grad
    if momentum:
        if step == 1:
            xp.copyto(buf, grad)
        else:
            xp.multiply(buf, momentum, buf)
            if dampening:
                xp.multiply(grad, 1.0 - dampening, tmp)
                xp.add(buf, tmp, buf)
            else:
                xp.add(buf, grad, buf)
        if nesterov:
            xp.multiply(buf, momentum, tmp)
            xp.add(tmp, grad, tmp)
            d = tmp
        else:
            d = buf
    xp.multiply(d, -lr, tmp)
    xp.add(param, tmp, param)


def momentum_update(param, grad, velocity, tmp, *, lr: float, momentum: float, nesterov: bool) -> None:
    """One step of the book's Momentum (or, with ``nesterov``, Keras's Nesterov) in place.

    Rule (``v`` starts at 0)::

        v = a*v - lr*g
        p = p + v                  (momentum)
        p = p + a*v - lr*g         (nesterov: p + a^2*v_old - (1 + a)*lr*g)
    """
    xp = get_array_module(param)
    xp.multiply(velocity, momentum, velocity)
    xp.multiply(grad, -lr, tmp)
    xp.add(velocity, tmp, velocity)
    if nesterov:
        xp.add(param, tmp, param)
        xp.multiply(velocity, momentum, tmp)
        xp.add(param, tmp, param)
    else:
        xp.add(param, velocity, param)


@dataclass(frozen=True)
class SGDConfig(OptimizerConfig):
    lr: Any = lr_field(1e-3)
    momentum: float = real_field(0.0, low=0.0)
    dampening: float = real_field(0.0, low=0.0, high=1.0)
    weight_decay: float = decay_field()
    nesterov: bool = flag_field()
    _: KW_ONLY
    clip_norm: float | None = clip_field()

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ConfigError(f"{self.owner}: nesterov=True needs momentum > 0 and dampening = 0, got "
                              f"momentum={self.momentum}, dampening={self.dampening}")


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and Nesterov momentum, as PyTorch's.

    Parameters
    ----------
    params : iterable of Parameter or dict name -> Parameter
    lr : float or schedule
        Learning rate (PyTorch's default 1e-3; the book uses 0.01).
    momentum : float
        Momentum factor ``mu`` (>= 0; 0 is plain SGD).
    dampening : float
        Fraction of the gradient held back from the buffer, in [0, 1].
    weight_decay : float
        Coupled L2: ``g + weight_decay * p`` for parameters with ``decay=True``.
    nesterov : bool
        Use ``g + mu*b`` instead of ``b`` (needs momentum > 0, dampening 0).
    clip_norm : float or None
        Clip the global gradient norm to this value before the step.

    Notes
    -----
    Rule: see :func:`sgd_update`. The buffer starts at the first gradient, so
    the first step is ``p -= lr*g`` (``lr*(1 + mu)*g`` with nesterov).
    Reference: ``torch.optim.SGD``; Sutskever et al., "On the importance of
    initialization and momentum in deep learning" (2013). For the book's form,
    whose velocity starts at zero and includes ``lr``, see :class:`Momentum`.
    Registry names: ``"sgd"``, ``"sgd-momentum"`` (momentum 0.9),
    ``"nesterov"`` (momentum 0.9, nesterov).
    """

    config_class = SGDConfig
    name = "sgd"

    def _init_state(self, data):
        xp = get_array_module(data)
        return {"momentum_buffer": xp.zeros_like(data)} if self.config.momentum else {}

    def _update(self, p, g, state, scratch, lr):
        c = self.config
        sgd_update(p.data, g, state.get("momentum_buffer"), scratch[0], step=state["step"], lr=lr,
                   momentum=c.momentum, dampening=c.dampening, nesterov=c.nesterov)


@dataclass(frozen=True)
class MomentumConfig(OptimizerConfig):
    lr: Any = lr_field(0.01)
    momentum: float = real_field(0.9, low=0.0)
    weight_decay: float = decay_field()
    nesterov: bool = flag_field()
    _: KW_ONLY
    clip_norm: float | None = clip_field()


class Momentum(Optimizer):
    """The book's momentum SGD: a velocity that starts at zero and includes the learning rate.

    Parameters
    ----------
    params : iterable of Parameter or dict name -> Parameter
    lr : float or schedule
        Learning rate (book default 0.01).
    momentum : float
        Velocity decay ``a`` (book default 0.9).
    nesterov : bool
        Keras's Nesterov form ``p += a*v - lr*g`` (registry name ``"nesterov-book"``).
    weight_decay, clip_norm
        As for :class:`SGD`.

    Notes
    -----
    Rule: ``v = a*v - lr*g; p += v`` (see :func:`momentum_update`).
    Compared with PyTorch's :class:`SGD` with momentum, ``v`` plays the part of
    ``-lr*b``: with a constant ``lr`` both give the same trajectory; when
    ``lr`` changes (a schedule) they differ, because ``v`` keeps steps taken at
    the old rate while PyTorch rescales its whole buffer by the new rate.

    The Nesterov form is the one of Bengio et al., "Advances in optimizing
    recurrent networks" (2013) and Keras's ``SGD(nesterov=True)``:
    ``p += a^2*v_old - (1 + a)*lr*g``. The book's repository code updates
    ``v`` before adding ``a^2*v``, which adds an extra ``a^2*lr*g``; its
    formula and errata apply ``v_old``, as here.
    Reference: Saito, *Deep Learning from Scratch*, sec. 6.1.4 (Momentum).
    """

    config_class = MomentumConfig
    name = "momentum"

    def _init_state(self, data):
        return {"velocity": get_array_module(data).zeros_like(data)}

    def _update(self, p, g, state, scratch, lr):
        momentum_update(p.data, g, state["velocity"], scratch[0], lr=lr,
                        momentum=self.config.momentum, nesterov=self.config.nesterov)


register_optimizer("sgd", SGD)
register_optimizer("sgd-momentum", functools.partial(SGD, momentum=0.9))
register_optimizer("nesterov", functools.partial(SGD, momentum=0.9, nesterov=True))
register_optimizer("momentum", Momentum)
register_optimizer("nesterov-book", functools.partial(Momentum, nesterov=True), aliases=("nesterov-keras",))
