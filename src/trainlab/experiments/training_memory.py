"""Training memory: what back-propagation keeps from the forward pass, the optimizers' state, the parameter count.

Measured on ReLU networks with 784 inputs and 10 outputs (random inputs: the
sizes of the arrays do not depend on their values):

- the bytes of the arrays the layers hold after a training forward pass (the
  Linear layers' inputs, the ReLU masks, the loss layer's probabilities:
  what the backward pass reads), for several depths at one batch size and
  several batch sizes at one depth; arrays shared between layers are counted
  once, parameters and their gradients not at all;
- how many times each layer's forward runs in one gradient computation
  (forward, then backward from the stored results);
- the bytes of every optimizer's state arrays over the bytes of the parameters;
- the number of trainable parameters for hidden widths 100, 200, 300, 400.

Decided: the held bytes grow linearly with depth and in proportion to the
batch size (a straight-line fit with R^2 >= ``min_r2``, 0.999, and the bytes
per sample the same at every batch size within ``tolerance``); Momentum keeps
one array per parameter and Adam two (state / parameter bytes 1 and 2); the
parameter count is a quadratic in the width (equal positive second
differences over equally spaced widths).

Reference: Saito, *Deep Learning from Scratch*, ch. 5 (back-propagation
layers keep their inputs) and sec. 6.1 (the optimizers' ``v``, ``h``, ``m``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainlab.errors import ConfigError
from trainlab.experiments.base import Claim, ClaimTable, ExperimentSpec, register
from trainlab.experiments.common import check_above_zero, check_fractions, check_sizes
from trainlab.models.mlp import MultiLayerNet
from trainlab.optim import create_optimizer
from trainlab.plots.training_memory import plot_training_memory
from trainlab.validation import check_int

NAME = "training-memory"
OWNER = f"experiment {NAME}"

CLAIMS = ClaimTable(NAME, {
    "stored-grows-with-depth": "seed 003 (S003-15); book 5.4-5.6",
    "stored-grows-with-batch": "seed 003 (S003-15); book 5.4-5.6",
    "forward-runs-once": "seed 003 (S003-15); book 5.1",
    "optimizer-state-arrays": "seed 003 (S003-08); book 6.1.4-6.1.6",
    "params-grow-quadratically": "seed 003 (S003-13)",
})

#: The optimizers whose state is measured, with the number of arrays per parameter the seeds and book give.
STATE_ARRAYS = {"sgd": 0, "momentum": 1, "adagrad": 1, "rmsprop": 1, "adam": 2}


@dataclass(frozen=True)
class Config:
    width: int = 100
    depths: tuple[int, ...] = (1, 2, 4, 8, 16)
    batch: int = 100
    batches: tuple[int, ...] = (25, 50, 100, 200, 400)
    depth: int = 4
    widths: tuple[int, ...] = (100, 200, 300, 400)
    min_r2: float = 0.999
    tolerance: float = 0.05

    def __post_init__(self):
        check_int(OWNER, "width", self.width, low=1)
        check_int(OWNER, "batch", self.batch, low=1)
        check_int(OWNER, "depth", self.depth, low=1)
        for name in ("depths", "batches", "widths"):
            check_sizes(OWNER, name, getattr(self, name))
            if len(getattr(self, name)) < 3:
                raise ConfigError(f"{OWNER}: {name} needs at least 3 sizes for a line, got {getattr(self, name)!r}")
        steps = np.diff(self.widths)
        if (steps <= 0).any() or (steps != steps[0]).any():
            raise ConfigError(f"{OWNER}: widths must be increasing and equally spaced, got {self.widths!r}")
        check_fractions(OWNER, self, "min_r2", "tolerance", include_one=False)
        check_above_zero(OWNER, self, "tolerance")


def held_bytes(model) -> int:
    """Bytes of the arrays the layers hold, besides parameters and gradients; shared memory counted once."""
    params = {id(a) for p in model.parameters() for a in (p.data, p.grad) if a is not None}
    seen: dict[int, int] = {}
    layers = list(model.modules()) + [model.loss_layer]
    for layer in layers:
        for value in vars(layer).values():
            if isinstance(value, np.ndarray) and id(value) not in params:
                base = value if value.base is None else value.base
                seen[id(base)] = base.nbytes
    return int(sum(seen.values()))


def _model(depth: int, width: int, seed: int) -> MultiLayerNet:
    return MultiLayerNet(784, [width] * depth, 10, activation="relu", weight_init="he", seed=seed)


def _batch(n: int, rng: np.random.Generator):
    return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n)


def _held_after_forward(depth: int, width: int, batch: int, rng, seed: int) -> int:
    model = _model(depth, width, seed)
    x, t = _batch(batch, rng)
    model.loss(x, t, train=True)
    return held_bytes(model)


def _forward_calls(depth: int, width: int, batch: int, rng, seed: int) -> dict:
    """How often each layer's forward runs in one ``gradient`` call."""
    model = _model(depth, width, seed)
    counts = {}
    for i, layer in enumerate(model.layers):
        original = layer.forward

        def counted(x, *, train, _i=i, _f=original):
            counts[_i] = counts.get(_i, 0) + 1
            return _f(x, train=train)

        layer.forward = counted
    x, t = _batch(batch, rng)
    model.gradient(x, t)
    return {"layers": len(model.layers), "calls": [counts.get(i, 0) for i in range(len(model.layers))]}


def _fit(xs, ys) -> dict:
    x, y = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
    slope, intercept = np.polyfit(x, y, 1)
    pred = slope * x + intercept
    r2 = 1.0 - float(((y - pred) ** 2).sum()) / max(float(((y - y.mean()) ** 2).sum()), 1e-300)
    return {"slope": float(slope), "intercept": float(intercept), "r2": r2}


def run(config: Config, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    by_depth = [_held_after_forward(d, config.width, config.batch, rng, seed) for d in config.depths]
    by_batch = [_held_after_forward(config.depth, config.width, b, rng, seed) for b in config.batches]
    model = _model(config.depth, config.width, seed)
    param_bytes = int(sum(p.data.nbytes for p in model.parameters()))
    state = {}
    for name in STATE_ARRAYS:
        opt = create_optimizer(name, model.named_parameters())
        state[name] = int(sum(v.nbytes for s in opt.state for v in s.values() if isinstance(v, np.ndarray)))
    counts = [_model(config.depth, w, seed).num_parameters() for w in config.widths]
    return {
        "depths": list(config.depths), "held_by_depth": by_depth, "depth_fit": _fit(config.depths, by_depth),
        "batches": list(config.batches), "held_by_batch": by_batch, "batch_fit": _fit(config.batches, by_batch),
        "forward": _forward_calls(config.depth, config.width, config.batch, rng, seed),
        "param_bytes": param_bytes, "state_bytes": state,
        "widths": list(config.widths), "param_counts": [int(c) for c in counts],
    }


def check(metrics: dict, config: Config) -> list[Claim]:
    df, bf = metrics["depth_fit"], metrics["batch_fit"]
    per_sample = np.asarray(metrics["held_by_batch"], np.float64) / np.asarray(metrics["batches"])
    spread = float(per_sample.max() / per_sample.min() - 1.0)
    mb = 1 / 2**20
    claims = [CLAIMS.claim(
        "stored-grows-with-depth",
        "The arrays back-propagation keeps after the forward pass grow linearly with the depth",
        df["r2"] >= config.min_r2 and df["slope"] > 0,
        "held after a forward pass of batch " f"{config.batch}: " + ", ".join(
            f"{d} layers {b * mb:.2f} MiB" for d, b in zip(metrics["depths"], metrics["held_by_depth"]))
        + f"; line: {df['slope'] * mb:.3f} MiB per hidden layer, R\u00b2 {df['r2']:.5f} (needed {config.min_r2})",
        values={"R2": df["r2"], "bytes per layer": df["slope"], "threshold R2": config.min_r2})]
    claims.append(CLAIMS.claim(
        "stored-grows-with-batch",
        "The arrays kept grow in proportion to the batch size: the same bytes per sample at every batch size",
        bf["r2"] >= config.min_r2 and spread <= config.tolerance,
        f"held at depth {config.depth}: " + ", ".join(
            f"batch {b} {h * mb:.2f} MiB" for b, h in zip(metrics["batches"], metrics["held_by_batch"]))
        + f"; bytes per sample {per_sample.min():.0f} to {per_sample.max():.0f} (spread {spread:.2%}, tolerance "
        f"{config.tolerance:.0%}); R\u00b2 {bf['r2']:.5f}",
        values={"R2": bf["r2"], "bytes per sample spread": spread, "tolerance": config.tolerance,
                "bytes per sample": float(per_sample.mean())}))
    calls = metrics["forward"]["calls"]
    claims.append(CLAIMS.claim(
        "forward-runs-once",
        "One gradient computation runs each layer's forward once: the backward pass reuses the stored results "
        "instead of computing them again",
        all(c == 1 for c in calls),
        f"forward calls per layer in one gradient of a {metrics['forward']['layers']}-layer network: {calls}",
        values={"most forward calls of a layer": max(calls), "fewest": min(calls)}))
    ratios = {name: b / metrics["param_bytes"] for name, b in metrics["state_bytes"].items()}
    claims.append(CLAIMS.claim(
        "optimizer-state-arrays",
        "Momentum keeps one extra array per parameter (twice the memory of plain gradient descent's "
        "parameters) and Adam two",
        all(abs(ratios[n] - k) < 1e-9 for n, k in STATE_ARRAYS.items()),
        f"state bytes / parameter bytes ({metrics['param_bytes'] * mb:.2f} MiB of parameters): "
        + ", ".join(f"{n} {r:g} (expected {STATE_ARRAYS[n]})" for n, r in ratios.items()),
        values={f"{n} state / parameters": r for n, r in ratios.items()}))
    counts = np.asarray(metrics["param_counts"], np.int64)
    second = np.diff(counts, 2)
    claims.append(CLAIMS.claim(
        "params-grow-quadratically",
        "The number of trainable parameters grows with the square of the layer size: a quadratic in the width",
        bool((second > 0).all() and (second == second[0]).all()),
        f"parameters of {config.depth} hidden layers of width " + ", ".join(
            f"{w}: {c}" for w, c in zip(metrics["widths"], counts)) + f"; second differences {second.tolist()} "
        f"(equal and positive for a quadratic: 2 x {config.depth - 1} hidden-to-hidden weight matrices x "
        f"{int(np.diff(metrics['widths'])[0])}\u00b2 = {2 * (config.depth - 1) * int(np.diff(metrics['widths'])[0]) ** 2})",
        values={"second difference": float(second[0]), "second differences equal": float((second == second[0]).all()),
                f"parameters at width {metrics['widths'][-1]}": float(counts[-1])}))
    return claims


register(ExperimentSpec(
    name=NAME,
    title="Training memory: stored forward results, optimizer state, parameter count",
    summary="The bytes the layers keep for back-propagation after a forward pass over depths and batch sizes, "
            "the optimizers' state per parameter, and the parameter count over widths.",
    config_cls=Config, run=run, check=check, plot=plot_training_memory,
    quick={"depths": (1, 2, 4), "batches": (25, 50, 100), "widths": (50, 100, 150, 200)},
    claims=CLAIMS,
    seeds=5,
))
