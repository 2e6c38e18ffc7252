"""AdaGrad's step shrinks over a long run; RMSProp's exponential average keeps it.

AdaGrad divides each coordinate's step by the root of the sum of all its
squared gradients so far, a sum that only grows; RMSProp divides by the root
of an exponential average, which forgets old gradients. Both train the same
784-100-10 ReLU network (He weights, same initial weights and batches) for a
long run of 3000 iterations (30 epochs of 10000 images), each at its usual
rate (AdaGrad 0.01, the book's; RMSProp 0.001, Keras's), and every
``probe_every`` iterations the effective step size of every weight element,
``lr / (sqrt(h) + eps)`` (h the optimizer's accumulator: AdaGrad's sum,
RMSProp's average; the median over the elements that have had a gradient),
and the ratio |update| / |gradient| of that step are
recorded.

Decided, with thresholds declared before any run:

- AdaGrad's median effective step at the end is at most ``shrink_ratio``
  (0.5) times its value at ``early_fraction`` (10 %) of the run: it at
  least halves over the last 90 % (with gradients of a steady size it would
  fall as 1/sqrt(t), to 0.32);
- RMSProp's is at least ``hold_ratio`` (0.5) times its early value: it stays
  within a factor 2.

The early point is 10 % of the run (iteration 300) because RMSProp's
average starts at 0 and has no bias correction: only after about
3 / (1 - alpha) = 300 steps has it forgotten that start (before, its step
is inflated, by about 1.9 at iteration 30).
- over the second half of the run AdaGrad's loss improves by a smaller factor
  than RMSProp's (mean batch loss over 40-50 % of the run divided by the mean
  over the last 10 %).

Reference: Saito, *Deep Learning from Scratch*, sec. 6.1.5 (AdaGrad and the
note on RMSProp); Duchi et al. (2011); Tieleman and Hinton (2012).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainlab.data.batching import BatchIterator
from trainlab.experiments.base import Claim, ClaimTable, ExperimentSpec, register
from trainlab.experiments.common import (
    check_above_zero, check_dataset, check_fractions, check_sizes, load_subset, settings, split_seed,
)
from trainlab.models.mlp import MultiLayerNet
from trainlab.optim import create_optimizer
from trainlab.plots.adaptive_rates import plot_adaptive_rates
from trainlab.validation import check_int, check_positive

NAME = "adaptive-rates"
OWNER = f"experiment {NAME}"

CLAIMS = ClaimTable(NAME, {
    "adagrad-step-shrinks": "seed 002 (S002-08), seed 003 (S003-10); book 6.1.5",
    "rmsprop-step-holds": "seed 003 (S003-11); book 6.1.5",
    "adagrad-learns-less-late": "seed 003 (S003-10, S003-11); book 6.1.5",
})

#: (label, registry name, accumulator state key) of the two optimizers compared.
OPTIMIZERS = (("AdaGrad", "adagrad", "sum"), ("RMSProp", "rmsprop", "square_avg"))


@dataclass(frozen=True)
class Config:
    dataset: str = "mnist"
    n_train: int = 10000
    hidden: tuple[int, ...] = (100,)
    batch_size: int = 100
    iterations: int = 3000
    adagrad_lr: float = 0.01
    rmsprop_lr: float = 0.001
    probe_every: int = 25
    #: The "early" reference point, as a fraction of the run (after RMSProp's average has warmed up).
    early_fraction: float = 0.1
    #: AdaGrad's step "shrinks toward zero": end / early at most this.
    shrink_ratio: float = 0.5
    #: RMSProp's step "holds": end / early at least this.
    hold_ratio: float = 0.5

    def __post_init__(self):
        check_dataset(OWNER, self.dataset)
        check_positive(OWNER, **settings(self, "n_train", "batch_size", "probe_every"))
        check_int(OWNER, "iterations", self.iterations, low=20)
        check_sizes(OWNER, "hidden", self.hidden)
        check_above_zero(OWNER, self, "adagrad_lr", "rmsprop_lr", "hold_ratio")
        check_fractions(OWNER, self, "early_fraction", "shrink_ratio", include_one=False)


def _batches(data, batch_size: int, seed: int):
    """Shuffled full batches, epoch after epoch, without end (the Trainer's order; the loop probes each step)."""
    epochs = BatchIterator(data.x_train, data.t_train, batch_size, shuffle=True, seed=seed, drop_last=True)
    while True:
        yield from epochs


def _train(label: str, name: str, key: str, lr: float, data, config: Config, init_seed: int, batch_seed: int):
    model = MultiLayerNet(data.x_train.shape[1], config.hidden, 10, activation="relu", weight_init="he",
                          seed=init_seed)
    params = model.named_parameters()
    optimizer = create_optimizer(name, params, lr=lr)
    # The weights' elements (biases left out: few, and their gradients are of another scale).
    weights = [i for i, (n, _) in enumerate(model.named_parameters()) if n.endswith("weight")]
    eps = optimizer.config.eps
    losses, probes = [], {"iteration": [], "median_step": [], "update_over_grad": []}
    for it, (x, t) in zip(range(config.iterations), _batches(data, config.batch_size, batch_seed)):
        losses.append(float(model.gradient(x, t)))
        probe = it % config.probe_every == 0 or it == config.iterations - 1
        if probe:
            before = [optimizer.params[i].data.copy() for i in weights]
            grad_norm = np.sqrt(sum(float(np.sum(np.square(optimizer.params[i].grad, dtype=np.float64)))
                                    for i in weights))
        optimizer.step()
        if probe:
            moved = np.sqrt(sum(float(np.sum(np.square(optimizer.params[i].data - b, dtype=np.float64)))
                                for i, b in zip(weights, before)))
            h = np.concatenate([np.asarray(optimizer.state[i][key], np.float64).ravel() for i in weights])
            probes["iteration"].append(it)
            # Over the elements that have had a gradient: one that never had (h = 0, an input blank in
            # every image) has taken no step at all, and its lr / eps is no step size.
            probes["median_step"].append(float(np.median(lr / (np.sqrt(h[h > 0]) + eps))))
            probes["update_over_grad"].append(moved / max(grad_norm, 1e-300))
    # Weights whose gradient was 0 at every step (inputs that are 0 in every image): h = 0, step lr / eps.
    never = float(np.mean(h == 0))
    return {"never_updated": never, "lr": lr, "loss": losses[:: max(1, len(losses) // 300)], "loss_every": max(1, len(losses) // 300),
            **probes, **_summary(losses, probes, config)}


def _summary(losses: list[float], probes: dict, config: Config) -> dict:
    T = len(losses)
    loss = np.asarray(losses, np.float64)
    mid = float(loss[int(0.4 * T):int(0.5 * T)].mean())
    end = float(loss[int(0.9 * T):].mean())
    its = np.asarray(probes["iteration"])
    early = int(np.argmin(np.abs(its - config.early_fraction * T)))
    return {"loss_mid": mid, "loss_end": end, "late_improvement": mid / end,
            "early_iteration": int(its[early]), "early_step": probes["median_step"][early],
            "end_step": probes["median_step"][-1],
            "step_ratio": probes["median_step"][-1] / probes["median_step"][early]}


def run(config: Config, seed: int = 0) -> dict:
    data = load_subset(config.dataset, config.n_train, 0, seed=seed)
    init_seed, batch_seed = split_seed(seed)
    lrs = {"AdaGrad": config.adagrad_lr, "RMSProp": config.rmsprop_lr}
    return {"dataset": data.name, "n_train": int(len(data.x_train)),
            "runs": {label: _train(label, name, key, lrs[label], data, config, init_seed, batch_seed)
                     for label, name, key in OPTIMIZERS}}


def check(metrics: dict, config: Config) -> list[Claim]:
    ada, rms = metrics["runs"]["AdaGrad"], metrics["runs"]["RMSProp"]
    claims = [CLAIMS.claim(
        "adagrad-step-shrinks",
        f"AdaGrad's effective step lr / (sqrt(h) + eps) shrinks toward zero over a long run: at the end it is "
        f"at most {config.shrink_ratio:g} of its early value",
        ada["step_ratio"] <= config.shrink_ratio,
        f"median over the weights that had a gradient: {ada['early_step']:.3g} at iteration "
        f"{ada['early_iteration']}, {ada['end_step']:.3g} at iteration {config.iterations - 1} (ratio {ada['step_ratio']:.3f}, threshold "
        f"{config.shrink_ratio:g}); |update| / |gradient| {ada['update_over_grad'][0]:.3g} -> "
        f"{ada['update_over_grad'][-1]:.3g} (it gets smaller but never 0); {ada['never_updated']:.1%} of the "
        "weights never had a gradient (inputs blank in every image: h = 0) and are left out",
        values={"AdaGrad end / early step": ada["step_ratio"], "threshold": config.shrink_ratio,
                "AdaGrad early step": ada["early_step"], "AdaGrad end step": ada["end_step"]})]
    claims.append(CLAIMS.claim(
        "rmsprop-step-holds",
        f"RMSProp's exponential average keeps its effective step: at the end it is at least {config.hold_ratio:g} "
        "of its early value",
        rms["step_ratio"] >= config.hold_ratio,
        f"median over the weights that had a gradient: {rms['early_step']:.3g} at iteration {rms['early_iteration']}, "
        f"{rms['end_step']:.3g} at the end (ratio {rms['step_ratio']:.3f}, threshold {config.hold_ratio:g}); "
        f"AdaGrad's ratio {ada['step_ratio']:.3f}",
        values={"RMSProp end / early step": rms["step_ratio"], "threshold": config.hold_ratio}))
    claims.append(CLAIMS.claim(
        "adagrad-learns-less-late",
        "Over the second half of a long run AdaGrad's loss improves by a smaller factor than RMSProp's",
        ada["late_improvement"] < rms["late_improvement"],
        f"mean batch loss at 40-50 % of the run / over the last 10 %: AdaGrad {ada['loss_mid']:.4f} / "
        f"{ada['loss_end']:.4f} = {ada['late_improvement']:.2f}, RMSProp {rms['loss_mid']:.4f} / "
        f"{rms['loss_end']:.4f} = {rms['late_improvement']:.2f}",
        values={"AdaGrad late improvement": ada["late_improvement"],
                "RMSProp late improvement": rms["late_improvement"],
                "AdaGrad final loss": ada["loss_end"], "RMSProp final loss": rms["loss_end"]}))
    return claims


register(ExperimentSpec(
    name=NAME,
    title="AdaGrad's step shrinks over a long run; RMSProp's keeps it",
    summary="A 784-100-10 network trained 3000 iterations with AdaGrad and with RMSProp: the effective step "
            "lr / (sqrt(h) + eps) of every weight over the run, and the loss it still gains late.",
    config_cls=Config, run=run, check=check, plot=plot_adaptive_rates,
    quick={"n_train": 2000, "iterations": 300, "probe_every": 10},
    claims=CLAIMS,
    seeds=5,  # what make run gives it (see docs/experiments.md)
))
