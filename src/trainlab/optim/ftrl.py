"""FTRL-Proximal ("Follow The Regularized Leader"), as Keras defines it."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any

from trainlab.backend import get_array_module
from trainlab.errors import ConfigError
from trainlab.optim.base import Optimizer, register_optimizer
from trainlab.optim.config import OptimizerConfig, clip_field, decay_field, lr_field, real_field


def _power(xp, x, power: float, out) -> None:
    """``out = x**power`` with fast paths for the common powers 0.5 and 0."""
    if power == 0.5:
        xp.sqrt(x, out)
    elif power == 0.0:
        out.fill(1.0)
    else:
        xp.power(x, power, out)


def ftrl_update(param, grad, accum, linear, tmp, tmp2, *, lr: float, lr_power: float, l1: float, l2: float,
                l2_shrinkage: float, beta: float) -> None:
    """One FTRL-Proximal step in place (Keras's rule; ``c = -lr_power``).

    Rule::

        n'  = n + g^2
        z   = z + (g + 2*l2_shrinkage*w) - (n'^c - n^c)/lr * w
        q   = n'^c/lr + 2*(l2 + beta/(2*lr))
        w   = (clip(z, -l1, l1) - z) / q        (0 where |z| <= l1; sign(z)*l1 - z otherwise)
        n   = n'
    """
    xp = get_array_module(param)
    c = -lr_power
    _power(xp, accum, c, tmp)                  # n^c
    xp.multiply(grad, grad, tmp2)
    xp.add(accum, tmp2, accum)                 # n'
    _power(xp, accum, c, tmp2)                 # n'^c
    xp.subtract(tmp2, tmp, tmp)
    xp.multiply(tmp, 1.0 / lr, tmp)
    xp.multiply(tmp, param, tmp)               # sigma * w
    xp.add(linear, grad, linear)
    xp.subtract(linear, tmp, linear)
    if l2_shrinkage:
        xp.multiply(param, 2.0 * l2_shrinkage, tmp)
        xp.add(linear, tmp, linear)
    xp.multiply(tmp2, 1.0 / lr, tmp2)
    l2_total = l2 + beta / (2.0 * lr)
    xp.add(tmp2, 2.0 * l2_total, tmp2)         # the quadratic term
    xp.clip(linear, -l1, l1, out=tmp)
    xp.subtract(tmp, linear, tmp)
    xp.divide(tmp, tmp2, param)


@dataclass(frozen=True)
class FTRLConfig(OptimizerConfig):
    lr: Any = lr_field(1e-3)
    learning_rate_power: float = real_field(-0.5, high=0.0)
    # A zero accumulator divides 0 by 0 for any weight whose gradient is still 0.
    initial_accumulator_value: float = real_field(0.1, low=0.0, low_open=True)
    l1_regularization_strength: float = real_field(0.0, low=0.0)
    l2_regularization_strength: float = real_field(0.0, low=0.0)
    l2_shrinkage_regularization_strength: float = real_field(0.0, low=0.0)
    beta: float = real_field(0.0, low=0.0)
    weight_decay: float = decay_field()
    _: KW_ONLY
    clip_norm: float | None = clip_field()


class FTRL(Optimizer):
    """FTRL-Proximal with L1, L2 and L2-shrinkage regularisation, as Keras's ``Ftrl``.

    Parameters
    ----------
    params : iterable of Parameter or dict name -> Parameter
    lr : float or schedule
        ``alpha`` of the paper (Keras default 1e-3).
    learning_rate_power : float
        ``-c`` with per-coordinate rate ``lr / n^c`` (<= 0; -0.5 is the paper's
        ``1/sqrt(n)``; 0 gives a fixed rate).
    initial_accumulator_value : float
        Starting value of ``n`` (>= 0; Keras 0.1).
    l1_regularization_strength, l2_regularization_strength : float
        ``lambda_1`` and ``lambda_2`` of the paper (>= 0). L1 sets coordinates
        with ``|z| <= lambda_1`` exactly to zero.
    l2_shrinkage_regularization_strength : float
        Magnitude penalty: adds ``2*s*w`` to the gradient that enters ``z``.
    beta : float
        ``beta`` of the paper, added to ``sqrt(n)`` in the denominator (>= 0).
    weight_decay : float
        Coupled L2 ``g + wd*p`` for parameters with ``decay=True`` (on top of FTRL's own terms).
    clip_norm : float or None
        Global-norm clipping before the step.

    Notes
    -----
    Rule: see :func:`ftrl_update`. The new weights depend on the old ones only
    through ``sigma*w`` in ``z``: FTRL solves for ``w`` in closed form each
    step, so it is suited to sparse linear models rather than deep networks.
    PyTorch has no FTRL. Reference: McMahan et al., "Ad Click Prediction: a
    View from the Trenches" (KDD 2013), Algorithm 1; ``keras.optimizers.Ftrl``.
    Registry name ``"ftrl"``.
    """

    config_class = FTRLConfig
    name = "ftrl"
    n_scratch = 2

    def _init_state(self, data):
        xp = get_array_module(data)
        return {"accumulator": xp.full_like(data, self.config.initial_accumulator_value),
                "linear": xp.zeros_like(data)}

    def _check_lr(self, lr: float) -> None:
        if lr <= 0:  # the rule divides by lr, so a warmup that starts at 0 cannot drive FTRL
            raise ConfigError(f"FTRL needs lr > 0 at every step; the schedule gave {lr} at step {self.step_count}")

    def _update(self, p, g, state, scratch, lr):
        c = self.config
        ftrl_update(p.data, g, state["accumulator"], state["linear"], scratch[0], scratch[1], lr=lr,
                    lr_power=c.learning_rate_power, l1=c.l1_regularization_strength,
                    l2=c.l2_regularization_strength, l2_shrinkage=c.l2_shrinkage_regularization_strength,
                    beta=c.beta)


register_optimizer("ftrl", FTRL)
