"""Adam and its relatives: AMSGrad, AdamW, Adamax, NAdam.

Where the forms disagree:

* eps: PyTorch adds eps to ``sqrt(v_hat)`` after bias correction
  (``eps_mode="corrected"``, the default); Keras, the book and DeZero fold the
  corrections into the step size and add eps to ``sqrt(v)`` ("epsilon hat" in
  Kingma and Ba; ``eps_mode="hat"``). The two agree for eps -> 0 and differ
  most in the first steps, where ``sqrt(1 - beta2^t)`` is small.
* weight decay: Adam couples it (``g + wd*p``, PyTorch), AdamW decouples it
  (``p *= 1 - lr*wd``); Keras decouples it for every optimizer.
* NAdam: PyTorch's momentum schedule is ``0.96^(t*psi)`` with
  ``psi = momentum_decay = 0.004`` (Dozat's ``0.96^(t/250)``); Keras 3 uses
  ``0.96^t``, i.e. ``momentum_decay=1``, and eps 1e-7.
"""

from __future__ import annotations

import functools
import math
from dataclasses import KW_ONLY, dataclass
from typing import Any

from trainlab.backend import get_array_module
from trainlab.optim.base import Optimizer, register_optimizer
from trainlab.optim.config import (
    OptimizerConfig,
    betas_field,
    choice_field,
    clip_field,
    decay_field,
    eps_field,
    flag_field,
    lr_field,
    real_field,
)

EPS_MODES = ("corrected", "hat")


def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, tmp, *, step: int, lr: float,
                beta1: float, beta2: float, eps: float, amsgrad: bool, eps_hat: bool) -> None:
    """One Adam (or AMSGrad) step in place.

    Rule (t = ``step`` from 1)::

        m = b1*m + (1 - b1)*g
        v = b2*v + (1 - b2)*g^2
        v' = max(v', v) if amsgrad else v
        p = p - lr/(1 - b1^t) * m / (sqrt(v') / sqrt(1 - b2^t) + eps)          (eps_hat False)
        p = p - lr*sqrt(1 - b2^t)/(1 - b1^t) * m / (sqrt(v') + eps)            (eps_hat True)

    The two forms are one rule with different eps: "corrected" is "hat" with
    eps replaced by ``eps*sqrt(1 - b2^t)``.

    ``max_exp_avg_sq`` may be None unless ``amsgrad``.
    """
    xp = get_array_module(param)
    xp.multiply(exp_avg, beta1, exp_avg)
    xp.multiply(grad, 1.0 - beta1, tmp)
    xp.add(exp_avg, tmp, exp_avg)
    xp.multiply(exp_avg_sq, beta2, exp_avg_sq)
    xp.multiply(grad, grad, tmp)
    xp.multiply(tmp, 1.0 - beta2, tmp)
    xp.add(exp_avg_sq, tmp, exp_avg_sq)
    v = exp_avg_sq
    if amsgrad:
        xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        v = max_exp_avg_sq
    bc1 = 1.0 - beta1 ** step
    bc2_sqrt = math.sqrt(1.0 - beta2 ** step)
    # PyTorch's m / (sqrt(v)/c + eps) is c*m / (sqrt(v) + c*eps) with c = sqrt(1 - b2^t): the same
    # step size as the "hat" form, one pass over the array fewer; only eps's scale differs
    xp.sqrt(v, tmp)
    xp.add(tmp, eps if eps_hat else eps * bc2_sqrt, tmp)
    xp.divide(exp_avg, tmp, tmp)
    xp.multiply(tmp, -lr * bc2_sqrt / bc1, tmp)
    xp.add(param, tmp, param)


def adamax_update(param, grad, exp_avg, exp_inf, tmp, *, step: int, lr: float, beta1: float, beta2: float,
                  eps: float) -> None:
    """One Adamax step in place (PyTorch's form).

    Rule::

        m = b1*m + (1 - b1)*g
        u = max(b2*u, |g| + eps)
        p = p - lr/(1 - b1^t) * m / u
    """
    xp = get_array_module(param)
    xp.multiply(exp_avg, beta1, exp_avg)
    xp.multiply(grad, 1.0 - beta1, tmp)
    xp.add(exp_avg, tmp, exp_avg)
    xp.abs(grad, tmp)
    xp.add(tmp, eps, tmp)
    xp.multiply(exp_inf, beta2, exp_inf)
    xp.maximum(exp_inf, tmp, out=exp_inf)
    xp.divide(exp_avg, exp_inf, tmp)
    clr = lr / (1.0 - beta1 ** step)
    xp.multiply(tmp, -clr, tmp)
    xp.add(param, tmp, param)


def nadam_mu(t: int, beta1: float, momentum_decay: float) -> float:
    """NAdam's momentum schedule ``mu_t = b1 * (1 - 0.5 * 0.96^(t*psi))``."""
    return beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))


def nadam_update(param, grad, exp_avg, exp_avg_sq, tmp, tmp2, *, step: int, lr: float, beta1: float,
                 beta2: float, eps: float, momentum_decay: float, mu_product: float) -> float:
    """One NAdam step in place; returns the updated product of the ``mu``'s.

    Rule (t = ``step`` from 1; ``mu_product`` is ``prod_{i<t} mu_i`` on entry)::

        mu_t = b1*(1 - 0.5*0.96^(t*psi));  P_t = P_{t-1}*mu_t
        m = b1*m + (1 - b1)*g;  v = b2*v + (1 - b2)*g^2
        d = sqrt(v / (1 - b2^t)) + eps
        p = p - lr*(1 - mu_t)/(1 - P_t) * g/d - lr*mu_{t+1}/(1 - P_t*mu_{t+1}) * m/d
    """
    xp = get_array_module(param)
    mu = nadam_mu(step, beta1, momentum_decay)
    mu_next = nadam_mu(step + 1, beta1, momentum_decay)
    mu_product *= mu
    xp.multiply(exp_avg, beta1, exp_avg)
    xp.multiply(grad, 1.0 - beta1, tmp)
    xp.add(exp_avg, tmp, exp_avg)
    xp.multiply(exp_avg_sq, beta2, exp_avg_sq)
    xp.multiply(grad, grad, tmp)
    xp.multiply(tmp, 1.0 - beta2, tmp)
    xp.add(exp_avg_sq, tmp, exp_avg_sq)
    bc2 = 1.0 - beta2 ** step
    xp.multiply(exp_avg_sq, 1.0 / bc2, tmp)
    xp.sqrt(tmp, tmp)
    xp.add(tmp, eps, tmp)                                  # d
    xp.divide(grad, tmp, tmp2)
    c_grad = lr * (1.0 - mu) / (1.0 - mu_product)
    c_avg = lr * mu_next / (1.0 - mu_product * mu_next)
    xp.multiply(tmp2, -c_grad, tmp2)
    xp.add(param, tmp2, param)
    xp.divide(exp_avg, tmp, tmp2)
    xp.multiply(tmp2, -c_avg, tmp2)
    xp.add(param, tmp2, param)
    return mu_product


@dataclass(frozen=True)
class AdamConfig(OptimizerConfig):
    lr: Any = lr_field(1e-3)
    betas: tuple[float, float] = betas_field()
    eps: float = eps_field(1e-8)
    weight_decay: float = decay_field()
    amsgrad: bool = flag_field()
    _: KW_ONLY
    eps_mode: str = choice_field("corrected", EPS_MODES)
    clip_norm: float | None = clip_field()


@dataclass(frozen=True)
class AdamWConfig(AdamConfig):
    """AdamW's hyperparameters: Adam's, with PyTorch's default decay."""

    weight_decay: float = decay_field(1e-2)


class Adam(Optimizer):
    """Adam: momentum on the gradient divided by a running RMS, both bias-corrected.

    Parameters
    ----------
    params : iterable of Parameter or dict name -> Parameter
    lr : float or schedule
        Learning rate (default 1e-3 everywhere).
    betas : (float, float)
        Decay rates ``(b1, b2)`` of the first and second moments, each in [0, 1).
    eps : float
        Stabiliser in the denominator (PyTorch 1e-8; Keras and the book 1e-7).
    weight_decay : float
        Coupled L2 ``g + wd*p`` for parameters with ``decay=True`` (for the
        decoupled form use :class:`AdamW`).
    amsgrad : bool
        Divide by the running maximum of ``v`` (Reddi et al. 2018; PyTorch's
        form: the maximum of the raw ``v``, bias-corrected afterwards). Registry
        name ``"amsgrad"``.
    eps_mode : {"corrected", "hat"}
        Where eps goes: ``"corrected"`` (PyTorch) adds it to ``sqrt(v_hat)``
        after bias correction; ``"hat"`` (Keras, the book, DeZero) uses
        ``lr_t = lr*sqrt(1 - b2^t)/(1 - b1^t)`` and adds eps to ``sqrt(v)``.
    clip_norm : float or None
        Global-norm clipping before the step.

    Notes
    -----
    Rule: see :func:`adam_update`. ``Adam(params, eps=1e-7, eps_mode="hat")``
    is Keras's Adam and the book's (registry name ``"adam-keras"``).
    Reference: Kingma and Ba, "Adam: A Method for Stochastic Optimization"
    (2015), Algorithm 1 and the note before sec. 2.1; ``torch.optim.Adam``;
    Saito, *Deep Learning from Scratch*, sec. 6.1.6. Registry name ``"adam"``.
    """

    config_class = AdamConfig
    name = "adam"

    def _init_state(self, data):
        xp = get_array_module(data)
        state = {"exp_avg": xp.zeros_like(data), "exp_avg_sq": xp.zeros_like(data)}
        if self.config.amsgrad:
            state["max_exp_avg_sq"] = xp.zeros_like(data)
        return state

    def _update(self, p, g, state, scratch, lr):
        c = self.config
        adam_update(p.data, g, state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq"), scratch[0],
                    step=state["step"], lr=lr, beta1=c.betas[0], beta2=c.betas[1], eps=c.eps,
                    amsgrad=c.amsgrad, eps_hat=c.eps_mode == "hat")


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p *= 1 - lr*weight_decay`` before the Adam step.

    Parameters are those of :class:`Adam`; ``weight_decay`` defaults to 0.01
    (PyTorch) and is *not* added to the gradient.

    Notes
    -----
    Rule: ``p = p * (1 - lr*wd)`` for parameters with ``decay=True`` (PyTorch
    decays every parameter; trainlab follows the flag, so biases are left
    alone by default), then :func:`adam_update`. The decay uses the current,
    scheduled ``lr``, as PyTorch does; the paper (Loshchilov and Hutter,
    "Decoupled Weight Decay Regularization", 2019) multiplies ``wd`` by the
    schedule multiplier only. Reference: ``torch.optim.AdamW``. Registry name
    ``"adamw"``.
    """

    config_class = AdamWConfig
    name = "adamw"
    decoupled_weight_decay = True

    def _update(self, p, g, state, scratch, lr):
        wd = self.config.weight_decay
        if wd and p.decay:
            data = p.data
            get_array_module(data).multiply(data, 1.0 - lr * wd, data)
        super()._update(p, g, state, scratch, lr)


@dataclass(frozen=True)
class AdamaxConfig(OptimizerConfig):
    lr: Any = lr_field(2e-3)
    betas: tuple[float, float] = betas_field()
    eps: float = eps_field(1e-8)
    weight_decay: float = decay_field()
    _: KW_ONLY
    clip_norm: float | None = clip_field()


class Adamax(Optimizer):
    """Adamax: Adam with the infinity norm in place of the RMS.

    Parameters
    ----------
    params : iterable of Parameter or dict name -> Parameter
    lr : float or schedule
        Learning rate (PyTorch 2e-3, as the paper; Keras 1e-3).
    betas : (float, float)
        Decay of the mean and of the infinity norm, each in [0, 1).
    eps : float
        PyTorch adds it to ``|g|`` inside the maximum (default 1e-8); Keras
        adds it to ``u`` in the denominator (1e-7).
    weight_decay : float
        Coupled L2 for parameters with ``decay=True``.
    clip_norm : float or None
        Global-norm clipping before the step.

    Notes
    -----
    Rule: see :func:`adamax_update`. Reference: Kingma and Ba (2015), sec. 7.1;
    ``torch.optim.Adamax``. Registry name ``"adamax"``.
    """

    config_class = AdamaxConfig
    name = "adamax"

    def _init_state(self, data):
        xp = get_array_module(data)
        return {"exp_avg": xp.zeros_like(data), "exp_inf": xp.zeros_like(data)}

    def _update(self, p, g, state, scratch, lr):
        c = self.config
        adamax_update(p.data, g, state["exp_avg"], state["exp_inf"], scratch[0], step=state["step"], lr=lr,
                      beta1=c.betas[0], beta2=c.betas[1], eps=c.eps)


@dataclass(frozen=True)
class NAdamConfig(AdamaxConfig):
    """NAdam's hyperparameters: Adamax's (the same defaults) and the momentum schedule's ``psi``."""

    momentum_decay: float = real_field(4e-3, low=0.0)


class NAdam(Optimizer):
    """NAdam: Adam with Nesterov momentum and a warming-up momentum schedule.

    Parameters
    ----------
    params : iterable of Parameter or dict name -> Parameter
    lr : float or schedule
        Learning rate (PyTorch 2e-3; Keras 1e-3).
    betas : (float, float)
        ``b1`` scales the momentum schedule, ``b2`` decays ``v``; each in [0, 1).
    eps : float
        Added to ``sqrt(v_hat)`` (PyTorch 1e-8; Keras 1e-7).
    weight_decay : float
        Coupled L2 for parameters with ``decay=True``.
    momentum_decay : float
        ``psi`` in ``mu_t = b1*(1 - 0.5*0.96^(t*psi))`` (PyTorch 0.004).
    clip_norm : float or None
        Global-norm clipping before the step.

    Notes
    -----
    Rule: see :func:`nadam_update`. Keras 3's ``Nadam`` computes the same
    update with ``mu_t = b1*(1 - 0.5*0.96^t)``: it is this class with
    ``momentum_decay=1.0`` (and ``eps=1e-7, lr=1e-3``), registry name
    ``"nadam-keras"``. With PyTorch's ``psi = 0.004`` the momentum grows from
    ``b1/2`` towards ``b1`` over thousands of steps; with Keras's it gets there
    in about a hundred.
    Reference: Dozat, "Incorporating Nesterov Momentum into Adam" (2016);
    ``torch.optim.NAdam``; ``keras.optimizers.Nadam``. Registry name ``"nadam"``.
    """

    config_class = NAdamConfig
    name = "nadam"
    n_scratch = 2

    def _init_state(self, data):
        xp = get_array_module(data)
        return {"mu_product": 1.0, "exp_avg": xp.zeros_like(data), "exp_avg_sq": xp.zeros_like(data)}

    def _update(self, p, g, state, scratch, lr):
        c = self.config
        state["mu_product"] = nadam_update(
            p.data, g, state["exp_avg"], state["exp_avg_sq"], scratch[0], scratch[1], step=state["step"], lr=lr,
            beta1=c.betas[0], beta2=c.betas[1], eps=c.eps, momentum_decay=c.momentum_decay,
            mu_product=state["mu_product"])


register_optimizer("adam", Adam)
register_optimizer("amsgrad", functools.partial(Adam, amsgrad=True))
register_optimizer("adam-keras", functools.partial(Adam, eps=1e-7, eps_mode="hat"), aliases=("adam-book",))
register_optimizer("adamw", AdamW)
register_optimizer("adamax", Adamax)
register_optimizer("nadam", NAdam)
register_optimizer("nadam-keras", functools.partial(NAdam, lr=1e-3, eps=1e-7, momentum_decay=1.0))
