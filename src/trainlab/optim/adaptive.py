"""Per-coordinate step sizes from accumulated squared gradients: AdaGrad, RMSProp, Adadelta."""

from __future__ import annotations

import functools
from dataclasses import KW_ONLY, dataclass
from typing import Any

from trainlab.backend import get_array_module
from trainlab.optim.base import Optimizer, register_optimizer
from trainlab.optim.config import (
    OptimizerConfig,
    clip_field,
    decay_field,
    eps_field,
    flag_field,
    lr_field,
    real_field,
)


def adagrad_update(param, grad, h, tmp, *, step: int, lr: float, lr_decay: float, eps: float,
                   eps_inside_sqrt: bool) -> None:
    """One AdaGrad step in place.

    Rule (t = ``step`` from 1)::

        lr_t = lr / (1 + (t - 1)*lr_decay)
        h    = h + g^2
        p    = p - lr_t * g / (sqrt(h) + eps)      (eps_inside_sqrt: sqrt(h + eps))
    """
    xp = get_array_module(param)
    clr = lr / (1.0 + (step - 1) * lr_decay)
    xp.multiply(grad, grad, tmp)
    xp.add(h, tmp, h)
    if eps_inside_sqrt:
        xp.add(h, eps, tmp)
        xp.sqrt(tmp, tmp)
    else:
        xp.sqrt(h, tmp)
        xp.add(tmp, eps, tmp)
    xp.divide(grad, tmp, tmp)
    xp.multiply(tmp, -clr, tmp)
    xp.add(param, tmp, param)


def rmsprop_update(param, grad, square_avg, grad_avg, buf, tmp, *, lr: float, alpha: float, eps: float,
                   momentum: float, centered: bool) -> None:
    """One RMSProp step in place (PyTorch's form).

    Rule::

        s = alpha*s + (1 - alpha)*g^2
        c = alpha*c + (1 - alpha)*g                  (centered only)
        d = sqrt(s - c^2) + eps   if centered else sqrt(s) + eps
        b = mu*b + g/d;  p = p - lr*b                 (momentum > 0)
        p = p - lr*g/d                                (momentum == 0)

    ``grad_avg`` / ``buf`` may be None when ``centered`` / ``momentum`` are off.
    """
    xp = get_array_module(param)
    xp.multiply(square_avg, alpha, square_avg)
    xp.multiply(grad, grad, tmp)
    xp.multiply(tmp, 1.0 - alpha, tmp)
    xp.add(square_avg, tmp, square_avg)
    if centered:
        xp.multiply(grad_avg, alpha, grad_avg)
        xp.multiply(grad, 1.0 - alpha, tmp)
        xp.add(grad_avg, tmp, grad_avg)
        xp.multiply(grad_avg, grad_avg, tmp)
        xp.subtract(square_avg, tmp, tmp)
        xp.sqrt(tmp, tmp)
    else:
        xp.sqrt(square_avg, tmp)
    xp.add(tmp, eps, tmp)
    xp.divide(grad, tmp, tmp)
    if momentum > 0:
        xp.multiply(buf, momentum, buf)
        xp.add(buf, tmp, buf)
        xp.multiply(buf, -lr, tmp)
    else:
        xp.multiply(tmp, -lr, tmp)
    xp.add(param, tmp, param)


def adadelta_update(param, grad, square_avg, acc_delta, tmp, tmp2, *, lr: float, rho: float, eps: float) -> None:
    """One Adadelta step in place.

    Rule::

        s     = rho*s + (1 - rho)*g^2
        delta = sqrt(u + eps) / sqrt(s + eps) * g
        u     = rho*u + (1 - rho)*delta^2
        p     = p - lr*delta
    """
    xp = get_array_module(param)
    xp.multiply(square_avg, rho, square_avg)
    xp.multiply(grad, grad, tmp)
    xp.multiply(tmp, 1.0 - rho, tmp)
    xp.add(square_avg, tmp, square_avg)
    xp.add(square_avg, eps, tmp)
    xp.sqrt(tmp, tmp)                      # std = sqrt(s + eps)
    xp.add(acc_delta, eps, tmp2)
    xp.sqrt(tmp2, tmp2)
    xp.divide(tmp2, tmp, tmp2)
    xp.multiply(tmp2, grad, tmp2)          # delta
    xp.multiply(acc_delta, rho, acc_delta)
    xp.multiply(tmp2, tmp2, tmp)
    xp.multiply(tmp, 1.0 - rho, tmp)
    xp.add(acc_delta, tmp, acc_delta)
    xp.multiply(tmp2, -lr, tmp2)
    xp.add(param, tmp2, param)


@dataclass(frozen=True)
class AdaGradConfig(OptimizerConfig):
    lr: Any = lr_field(1e-2)
    lr_decay: float = real_field(0.0, low=0.0)
    weight_decay: float = decay_field()
    initial_accumulator_value: float = real_field(0.0, low=0.0)
    eps: float = eps_field(1e-10)
    _: KW_ONLY
    eps_inside_sqrt: bool = flag_field()
    clip_norm: float | None = clip_field()


class AdaGrad(Optimizer):
    """AdaGrad: divide each coordinate's step by the root of its summed squared gradients.

    Parameters
    ----------
    params : iterable of Parameter or dict name -> Parameter
    lr : float or schedule
        Learning rate (PyTorch and book default 0.01).
    lr_decay : float
        PyTorch's decay ``lr / (1 + (t - 1)*lr_decay)``.
    weight_decay : float
        Coupled L2 for parameters with ``decay=True``.
    initial_accumulator_value : float
        Starting value of ``h`` (PyTorch 0; Keras 0.1).
    eps : float
        Added to ``sqrt(h)`` (PyTorch default 1e-10; the book writes 1e-7).
    eps_inside_sqrt : bool
        Use ``sqrt(h + eps)`` instead (Keras's form, eps 1e-7; one of the book's seeds).
    clip_norm : float or None
        Global-norm clipping before the step.

    Notes
    -----
    Rule: ``h += g^2; p -= lr_t * g / (sqrt(h) + eps)`` (see :func:`adagrad_update`).
    The book's AdaGrad is ``AdaGrad(params, lr=0.01, eps=1e-7)``.
    Reference: Duchi, Hazan and Singer, "Adaptive Subgradient Methods" (2011);
    ``torch.optim.Adagrad``; Saito, *Deep Learning from Scratch*, sec. 6.1.5.
    Registry name ``"adagrad"``.
    """

    config_class = AdaGradConfig
    name = "adagrad"

    def _init_state(self, data):
        xp = get_array_module(data)
        return {"sum": xp.full_like(data, self.config.initial_accumulator_value)}

    def _update(self, p, g, state, scratch, lr):
        c = self.config
        adagrad_update(p.data, g, state["sum"], scratch[0], step=state["step"], lr=lr, lr_decay=c.lr_decay,
                       eps=c.eps, eps_inside_sqrt=c.eps_inside_sqrt)


@dataclass(frozen=True)
class RMSPropConfig(OptimizerConfig):
    lr: Any = lr_field(1e-2)
    alpha: float = real_field(0.99, low=0.0, high=1.0, high_open=True)
    eps: float = eps_field(1e-8)
    weight_decay: float = decay_field()
    momentum: float = real_field(0.0, low=0.0)
    centered: bool = flag_field()
    _: KW_ONLY
    clip_norm: float | None = clip_field()


class RMSProp(Optimizer):
    """RMSProp: divide the step by a running root mean square of the gradient (PyTorch's form).

    Parameters
    ----------
    params : iterable of Parameter or dict name -> Parameter
    lr : float or schedule
        Learning rate (PyTorch and book default 0.01; Keras 0.001).
    alpha : float
        Decay of the squared-gradient average, in [0, 1) (PyTorch 0.99 = the
        book's ``decay_rate``; Keras's ``rho`` 0.9).
    eps : float
        Added to the root (PyTorch 1e-8; the book 1e-7).
    weight_decay : float
        Coupled L2 for parameters with ``decay=True``.
    momentum : float
        Momentum on the normalised gradient ``g / d``.
    centered : bool
        Subtract the squared running mean of ``g`` (Graves 2013).
    clip_norm : float or None
        Global-norm clipping before the step.

    Notes
    -----
    Rule: see :func:`rmsprop_update`. Keras differs in two places: its eps
    sits inside the root (``sqrt(s + eps)``) and its momentum buffer holds
    ``lr * g / d`` (lr inside, like the book's Momentum), so with a changing
    ``lr`` the trajectories differ.
    Reference: Hinton, Coursera lecture 6e (2012); ``torch.optim.RMSprop``;
    Saito, *Deep Learning from Scratch*, sec. 6.1.5. Registry name ``"rmsprop"``.
    """

    config_class = RMSPropConfig
    name = "rmsprop"

    def _init_state(self, data):
        xp = get_array_module(data)
        state = {"square_avg": xp.zeros_like(data)}
        if self.config.centered:
            state["grad_avg"] = xp.zeros_like(data)
        if self.config.momentum > 0:
            state["momentum_buffer"] = xp.zeros_like(data)
        return state

    def _update(self, p, g, state, scratch, lr):
        c = self.config
        rmsprop_update(p.data, g, state["square_avg"], state.get("grad_avg"), state.get("momentum_buffer"),
                       scratch[0], lr=lr, alpha=c.alpha, eps=c.eps, momentum=c.momentum, centered=c.centered)


@dataclass(frozen=True)
class AdadeltaConfig(OptimizerConfig):
    lr: Any = lr_field(1.0)
    rho: float = real_field(0.9, low=0.0, high=1.0, high_open=True)
    eps: float = eps_field(1e-6)
    weight_decay: float = decay_field()
    _: KW_ONLY
    clip_norm: float | None = clip_field()


class Adadelta(Optimizer):
    """Adadelta: scale the step by the ratio of running RMS of updates and of gradients.

    Parameters
    ----------
    params : iterable of Parameter or dict name -> Parameter
    lr : float or schedule
        Factor on the update (PyTorch 1.0, as in the paper, which has no lr).
    rho : float
        Decay of both running averages, in [0, 1) (PyTorch 0.9).
    eps : float
        Added inside both roots (PyTorch 1e-6).
    weight_decay : float
        Coupled L2 for parameters with ``decay=True``.
    clip_norm : float or None
        Global-norm clipping before the step.

    Notes
    -----
    Rule: see :func:`adadelta_update`. Keras's ``Adadelta`` has the same rule
    with other defaults: ``lr=0.001, rho=0.95, eps=1e-7`` (registry name
    ``"adadelta-keras"``; its small lr makes it far slower than the paper's method).
    Reference: Zeiler, "ADADELTA: An Adaptive Learning Rate Method" (2012);
    ``torch.optim.Adadelta``. Registry name ``"adadelta"``.
    """

    config_class = AdadeltaConfig
    name = "adadelta"
    n_scratch = 2

    def _init_state(self, data):
        xp = get_array_module(data)
        return {"square_avg": xp.zeros_like(data), "acc_delta": xp.zeros_like(data)}

    def _update(self, p, g, state, scratch, lr):
        adadelta_update(p.data, g, state["square_avg"], state["acc_delta"], scratch[0], scratch[1], lr=lr,
                        rho=self.config.rho, eps=self.config.eps)


register_optimizer("adagrad", AdaGrad)
register_optimizer("rmsprop", RMSProp)
register_optimizer("adadelta", Adadelta)
register_optimizer("adadelta-keras", functools.partial(Adadelta, lr=1e-3, rho=0.95, eps=1e-7))
