"""All-zero and constant initial weights: the units of a layer stay identical (book sec. 6.2.1).

A 784-100-100-10 ReLU network is trained with plain SGD on the same batches
from five starts:

- ``He``: random He weights, the control;
- ``zeros``: every weight 0 (biases start at 0 in every run). Each hidden
  pre-activation is then 0, ReLU gives 0 and passes no gradient back, and the
  output weights get the gradient h^T dout = 0: nothing learns but the output
  bias, so every image gets the same scores;
- ``constant``: every weight the same value (0.01). The units of a hidden
  layer have the same incoming weights, give the same outputs and receive the
  same gradients (their outgoing weights are equal too), so they stay equal:
  the layer behaves as a single unit;
- ``width 1 (He)`` and ``width 1 (constant)``: the network with one unit per
  hidden layer (784-1-1-10), started both ways, trained the same way: what a
  layer of identical units can at best be compared with.

Measured after training, for every hidden layer: the spread of its units'
incoming weight vectors (the largest distance between two of them over their
mean norm; 0 when all are equal) and the spread of its outputs on the test
images (the second singular value of the (N, units) output matrix over the
first: 0 when every unit gives the same output, i.e. the outputs have rank 1);
for the zero start, the largest weight left anywhere and how many distinct
classes the net predicts; and every run's test accuracy.

Reference: Saito, *Deep Learning from Scratch*, sec. 6.2.1 (weights must not
start at 0, nor all equal: "symmetry" has to be broken).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainlab.experiments.base import Claim, ClaimTable, ExperimentSpec, register
from trainlab.experiments.common import (
    check_above_zero, check_dataset, check_sizes, fmt, load_subset, settings, split_seed,
)
from trainlab.layers import Linear
from trainlab.models.mlp import MultiLayerNet
from trainlab.optim import create_optimizer
from trainlab.plots.init_symmetry import plot_init_symmetry
from trainlab.training import Trainer
from trainlab.validation import check_int, check_positive, check_real

NAME = "init-symmetry"
OWNER = f"experiment {NAME}"

#: The claims ``check`` decides: key -> source (seed statements of the ledger, book sections, papers).
CLAIMS = ClaimTable(NAME, {
    "zeros-learn-only-output-bias": "seed 001 (S001-05), seed 004 (S004-09); book 6.2.1",
    "constant-units-stay-identical": "seed 004 (S004-09); book 6.2.1",
    "constant-no-better-than-width-1": "seed 004 (S004-09); book 6.2.1",
    "random-start-learns-more": "seed 001 (S001-05), seed 004 (S004-09); book 6.2.1",
})

#: The runs, in the order of the figures.
RUNS = ("He", "zeros", "constant", "width 1 (He)", "width 1 (constant)")


@dataclass(frozen=True)
class Config:
    dataset: str = "mnist"
    n_train: int = 10000
    n_test: int = 10000
    hidden: tuple[int, ...] = (100, 100)
    #: The value every weight starts at in the "constant" runs.
    constant: float = 0.01
    lr: float = 0.1
    batch_size: int = 100
    iterations: int = 3000
    #: "Identical": a layer's spread (weights and outputs) is at most this. The units compute the same
    #: sums in float32, whose rounding differs in the last bits from one column to the next, so the
    #: spread of equal units is of order 1e-7 to 1e-5, not exactly 0; random units differ by order 1.
    identical_tol: float = 1e-3
    #: The He control must have units this far apart (spread of its weights) in every hidden layer.
    distinct_min: float = 0.1
    #: "No better than width 1": the constant start's test accuracy exceeds the better width-1 run's by at most this.
    width1_margin: float = 0.05
    #: "Learns more": the He start's test accuracy exceeds the zero and constant starts' by at least this.
    learn_margin: float = 0.2

    def __post_init__(self):
        check_dataset(OWNER, self.dataset)
        check_positive(OWNER, **settings(self, "n_train", "n_test", "batch_size"))
        check_int(OWNER, "iterations", self.iterations, low=1)
        check_sizes(OWNER, "hidden", self.hidden)
        check_above_zero(OWNER, self, "constant", "lr", "identical_tol", "distinct_min")
        check_real(OWNER, "width1_margin", self.width1_margin, low=0.0)
        check_real(OWNER, "learn_margin", self.learn_margin, low=0.0)


def _weight_spread(W: np.ndarray) -> float:
    """Largest distance between two units' incoming weight vectors (columns of W) over their mean norm."""
    W = np.asarray(W, np.float64)  # (in, units)
    sq = (W * W).sum(axis=0)
    dist2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (W.T @ W), 0.0)  # (units, units)
    norm = float(np.sqrt(sq).mean())
    return float(np.sqrt(dist2.max()) / norm) if norm > 0 else 0.0


def _output_spread(h: np.ndarray) -> float:
    """Second singular value of a layer's outputs (N, units) over the first; 0 for one unit or no output."""
    if h.shape[1] < 2:
        return 0.0
    s = np.linalg.svd(np.asarray(h, np.float64), compute_uv=False)
    return float(s[1] / s[0]) if s[0] > 0 else 0.0


def _build(config: Config, label: str, n_in: int, init_seed: int) -> MultiLayerNet:
    hidden = [1] * len(config.hidden) if label.startswith("width 1") else list(config.hidden)
    init = "zeros" if label == "zeros" else "he"
    model = MultiLayerNet(n_in, hidden, 10, activation="relu", weight_init=init, seed=init_seed)
    if "constant" in label:
        for layer in model.modules():
            if isinstance(layer, Linear):
                layer.weight.data[...] = config.constant
    return model


def _hidden_outputs(model: MultiLayerNet, x: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The outputs of each hidden layer's activation for ``x``, and the scores (eval mode)."""
    outputs: list[np.ndarray] = []
    acts = [layer for layer in model if not isinstance(layer, Linear)]

    def keep(path, layer, y):
        if any(layer is a for a in acts):
            outputs.append(y)

    model.forward_hooks.append(keep)
    try:
        scores = model.forward(x, train=False)
    finally:
        model.forward_hooks.remove(keep)
    return outputs, scores


def run(config: Config, seed: int = 0) -> dict:
    """Train the five networks from the same data, on the same batches; measure their units' spread."""
    data = load_subset(config.dataset, config.n_train, config.n_test, seed=seed)
    init_seed, batch_seed = split_seed(seed)
    counts = np.bincount(data.t_test, minlength=10)
    runs = {}
    for label in RUNS:
        model = _build(config, label, data.x_train.shape[1], init_seed)
        linears = [layer for layer in model if isinstance(layer, Linear)]
        bias_before = np.array(linears[-1].bias.data, copy=True)
        optimizer = create_optimizer("sgd", model.named_parameters(), lr=config.lr)
        trainer = Trainer(model, optimizer, batch_size=config.batch_size, iterations=config.iterations,
                          seed=batch_seed, eval_sets={"test": (data.x_test, data.t_test)}, eval_train=False,
                          progress=False)
        history = trainer.fit(data.x_train, data.t_train)
        hidden_out, scores = _hidden_outputs(model, data.x_test)
        predicted = scores.argmax(axis=1)
        runs[label] = {
            "hidden": [int(layer.out_features) for layer in linears[:-1]],
            "test_acc": float(history.last("test_acc")),
            "test_acc_curve": history.series("test_acc"),
            "eval_iterations": history.series("iteration"),
            "final_loss": float(np.mean(history.loss[-max(1, len(history.loss) // 10):])),
            "weight_spread": [_weight_spread(layer.weight.data) for layer in linears[:-1]],
            "output_spread": [_output_spread(h) for h in hidden_out],
            # Outputs above 0 (ReLU units not dead for that image): a layer that outputs 0 everywhere has no spread.
            "active_fraction": [float((h > 0).mean()) for h in hidden_out],
            "max_abs_weight": float(max(np.abs(layer.weight.data).max() for layer in linears)),
            "output_bias_change": float(np.abs(linears[-1].bias.data - bias_before).max()),
            "distinct_predictions": int(len(np.unique(predicted))),
            # The share of the test images of the class predicted most often: a constant guess scores it.
            "top_class_share": float(counts[np.bincount(predicted, minlength=10).argmax()] / counts.sum()),
        }
    return {"dataset": data.name, "n_train": int(len(data.x_train)), "n_test": int(len(data.x_test)),
            "largest_class_share": float(counts.max() / counts.sum()), "runs": runs}


def _spreads(values) -> str:
    return "/".join(f"{v:.2g}" for v in values)


def check(metrics: dict, config: Config) -> list[Claim]:
    runs = metrics["runs"]
    he, zeros, const = runs["He"], runs["zeros"], runs["constant"]
    w1 = {k: runs[k] for k in ("width 1 (He)", "width 1 (constant)")}
    best_w1 = max(w1, key=lambda k: w1[k]["test_acc"])
    claims = [CLAIMS.claim(
        "zeros-learn-only-output-bias",
        "From all-zero weights (ReLU net) nothing learns but the output bias: every weight is still exactly 0 "
        "after training and the net gives every test image the same class",
        zeros["max_abs_weight"] == 0.0 and zeros["distinct_predictions"] == 1,
        f"zeros: largest |weight| after {config.iterations} steps {zeros['max_abs_weight']:.3g}, output bias moved "
        f"by up to {zeros['output_bias_change']:.3g}, distinct predicted classes {zeros['distinct_predictions']}, "
        f"test accuracy {fmt(zeros['test_acc'], 4)} (share of the predicted class {fmt(zeros['top_class_share'], 4)})",
        values={"zeros: largest |weight|": zeros["max_abs_weight"],
                "zeros: distinct predicted classes": zeros["distinct_predictions"],
                "zeros: test accuracy": zeros["test_acc"]})]

    worst_const = max(max(const["weight_spread"]), max(const["output_spread"]))
    least_he = min(he["weight_spread"])
    claims.append(CLAIMS.claim(
        "constant-units-stay-identical",
        f"From all-equal weights ({config.constant:g}) the units of each hidden layer stay identical through "
        f"training: their weight vectors and their outputs differ by at most {config.identical_tol:g} (relative), "
        f"while the He start's units differ by at least {config.distinct_min:g}",
        worst_const <= config.identical_tol and least_he >= config.distinct_min,
        f"spread by hidden layer, weights / outputs (2nd over 1st singular value): constant "
        f"{_spreads(const['weight_spread'])} / {_spreads(const['output_spread'])}; He "
        f"{_spreads(he['weight_spread'])} / {_spreads(he['output_spread'])}; fraction of positive outputs: "
        f"constant {_spreads(const['active_fraction'])}, He {_spreads(he['active_fraction'])}",
        values={"constant: largest spread": worst_const, "He: smallest weight spread": least_he,
                "tolerance": config.identical_tol}))

    excess = const["test_acc"] - w1[best_w1]["test_acc"]
    claims.append(CLAIMS.claim(
        "constant-no-better-than-width-1",
        f"The all-equal start learns no more than a net of one unit per hidden layer: its test accuracy exceeds "
        f"the better width-1 run's by at most {config.width1_margin}",
        excess <= config.width1_margin,
        f"test accuracy: constant {fmt(const['test_acc'], 4)}, "
        + ", ".join(f"{k} {fmt(r['test_acc'], 4)}" for k, r in w1.items())
        + f" (difference to {best_w1}: {excess:+.4f})",
        values={"constant: test accuracy": const["test_acc"], "best width 1: test accuracy": w1[best_w1]["test_acc"],
                "margin": config.width1_margin}))

    lead = he["test_acc"] - max(zeros["test_acc"], const["test_acc"])
    claims.append(CLAIMS.claim(
        "random-start-learns-more",
        f"Random (He) weights learn far more: the He start's test accuracy exceeds the zero and constant starts' "
        f"by at least {config.learn_margin}",
        lead >= config.learn_margin,
        f"test accuracy: He {fmt(he['test_acc'], 4)}, zeros {fmt(zeros['test_acc'], 4)}, constant "
        f"{fmt(const['test_acc'], 4)}; final loss: He {fmt(he['final_loss'])}, zeros {fmt(zeros['final_loss'])}, "
        f"constant {fmt(const['final_loss'])}",
        values={"He: test accuracy": he["test_acc"], "zeros: test accuracy": zeros["test_acc"],
                "constant: test accuracy": const["test_acc"], "margin": config.learn_margin}))
    return claims


register(ExperimentSpec(
    name=NAME,
    title="All-zero and all-equal initial weights: the units of a layer stay identical",
    summary="A 784-100-100-10 ReLU network trained with SGD from He, all-zero and all-equal (0.01) weights, "
            "and a net of one unit per hidden layer: from zeros nothing but the output bias learns; from equal "
            "weights each layer's units stay identical and the net learns no more than the width-1 net.",
    config_cls=Config, run=run, check=check, plot=plot_init_symmetry,
    quick={"n_train": 2000, "n_test": 2000, "iterations": 400},
    claims=CLAIMS,
    seeds=3,  # what make run gives it (see docs/experiments.md)
))
