"""Optimizers, learning-rate schedules and gradient clipping.

>>> opt = create_optimizer("adam", model.named_parameters(), lr=1e-3)   # doctest: +SKIP
>>> opt.zero_grad(); model.backward(dout); opt.step()                   # doctest: +SKIP

Every optimizer takes ``(params, lr, <hyperparameters>, weight_decay, clip_norm)``,
declared once in its config dataclass (:mod:`trainlab.optim.config`); ``lr``
may be a schedule from :mod:`trainlab.optim.schedules`. See
``docs/optimizers.md`` for the rules and where PyTorch, Keras and the book differ.
"""

from trainlab.optim.adam import Adam, AdamW, Adamax, NAdam, adam_update, adamax_update, nadam_update
from trainlab.optim.adaptive import Adadelta, AdaGrad, RMSProp, adadelta_update, adagrad_update, rmsprop_update
from trainlab.optim.base import (
    OPTIMIZERS,
    Optimizer,
    create_optimizer,
    optimizer_class,
    optimizer_defaults,
    register_optimizer,
)
from trainlab.optim.clip import clip_grad_norm, global_norm
from trainlab.optim.config import OptimizerConfig
from trainlab.optim.ftrl import FTRL, ftrl_update
from trainlab.optim.schedules import (
    SCHEDULES,
    Chain,
    ConstantLR,
    CosineDecay,
    ExponentialDecay,
    InverseTimeDecay,
    LinearWarmup,
    Schedule,
    StepDecay,
    create_schedule,
    schedule_from_spec,
    schedule_to_spec,
)
from trainlab.optim.sgd import SGD, Momentum, momentum_update, sgd_update

#: PyTorch's spellings of the same classes.
Adagrad = AdaGrad
RMSprop = RMSProp

__all__ = [
    "OPTIMIZERS", "Optimizer", "OptimizerConfig", "create_optimizer", "optimizer_class", "optimizer_defaults",
    "register_optimizer",
    "SGD", "Momentum", "AdaGrad", "Adagrad", "RMSProp", "RMSprop", "Adadelta", "Adam", "AdamW", "Adamax", "NAdam",
    "FTRL",
    "sgd_update", "momentum_update", "adagrad_update", "rmsprop_update", "adadelta_update", "adam_update",
    "adamax_update", "nadam_update", "ftrl_update",
    "clip_grad_norm", "global_norm",
    "SCHEDULES", "Schedule", "ConstantLR", "StepDecay", "ExponentialDecay", "InverseTimeDecay", "CosineDecay",
    "LinearWarmup", "Chain", "create_schedule", "schedule_from_spec", "schedule_to_spec",
]
