"""Activation histograms of a deep net at initialisation: the book's figures 6-10 to 6-14.

A 1000 x 100 standard normal input goes through 5 layers of 100 nodes
(Linear without bias, then the activation). Compared: sigmoid, tanh and ReLU
under four weight distributions, N(0, 1), N(0, 0.01^2), Xavier N(0, 1/n) and
He N(0, 2/n) with n = 100 the fan-in. Every combination draws the same
standard normal weights (scaled), so the rows differ only by scale and
activation. Measured per layer: a histogram on fixed bins, the standard
deviation, and the fraction of outputs near the ends and near the middle of
the activation's range.

Gradients: a standard normal gradient (the same draw for every network) is
sent back from the last layer's outputs, and per layer the mean of the
activation's derivative at its outputs (for the sigmoid a(1 - a), at most
0.25) and the standard deviation of the gradient of its weights are
measured. The derivative is what the seeds say vanishes at outputs piled at
0 and 1; the weight gradient is what training moves by. Both are measured,
since the weights scale the back-propagated gradient too: with std 1 a layer
multiplies it by about sqrt(100) x 1 = 10, with std 0.01 by about 0.1.

Reference: Saito, *Deep Learning from Scratch*, sec. 6.2.2-6.2.3
(ch06/weight_init_activation_histogram.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainlab.errors import ConfigError
from trainlab.experiments.base import BookValue, Claim, ClaimTable, ExperimentSpec, register
from trainlab.experiments.common import check_above_zero, check_fractions, settings
from trainlab.layers import ACTIVATIONS, Linear, Sequential
from trainlab.plots.init_activations import plot_init_activations
from trainlab.validation import check_int, check_real

NAME = "init-activations"
OWNER = f"experiment {NAME}"

#: The claims ``check`` decides: key -> source (seed statements of the ledger, book sections, papers).
CLAIMS = ClaimTable(NAME, {
    "sigmoid-std1-saturates": "seed 000 (S000-11); book 6.2.2, figure 6-10",
    "sigmoid-std001-collapses": "seed 000 (S000-13); book 6.2.2, figure 6-11",
    "xavier-keeps-spread": "seed 000 (S000-15), seed 001 (S001-09), seed 004 (S004-10); book 6.2.2, figure 6-13",
    "he-keeps-spread-relu": "seed 000 (S000-17), seed 001 (S001-10), seed 004 (S004-11); book 6.2.3, figure 6-14",
    "xavier-relu-shrinks": "seed 000 (S000-17), seed 001 (S001-10), seed 004 (S004-11); book 6.2.3, figure 6-14",
    "sigmoid-std1-small-derivative": "seed 000 (S000-12); book 6.2.2, figure 6-10",
    "sigmoid-std1-gradient-shrinks": "seed 000 (S000-12); book 6.2.2, figure 6-10",
    "sigmoid-std001-full-derivative": "seed 000 (S000-14); book 6.2.2, figure 6-11",
    "sigmoid-std001-gradient-holds": "seed 000 (S000-14); book 6.2.2, figure 6-11",
})

#: (label, Linear weight_init)
INITS = (("std=1", 1.0), ("std=0.01", 0.01), ("Xavier", "xavier"), ("He", "he"))
ACTIVATION_NAMES = ("sigmoid", "tanh", "relu")


@dataclass(frozen=True)
class Config:
    n_samples: int = 1000
    n_nodes: int = 100
    n_layers: int = 5
    bins: int = 30
    #: Upper end of the ReLU histograms (outputs above it are counted, not drawn).
    relu_max: float = 3.0
    #: "Near an end": within this distance of 0 or 1 (sigmoid) or of -1 or 1 (tanh).
    edge: float = 0.1
    #: "Wide": a layer's std is at least this fraction of the std of f(z), z ~ N(0, 1).
    wide_fraction: float = 0.25
    #: "Holds its spread": the std shrinks by at most this factor per layer (geometric mean from layer 2 on).
    hold_ratio: float = 0.8
    #: "Small derivative": the mean of the sigmoid's derivative in a layer is below this fraction of its maximum 0.25.
    small_derivative: float = 0.5
    #: "Full derivative": the mean is at least this fraction of 0.25.
    full_derivative: float = 0.9
    #: "The gradient vanishes": the first layer's weight gradient (std) is below this fraction of the last layer's.
    vanish_ratio: float = 0.1

    def __post_init__(self):
        for name, value in settings(self, "n_samples", "n_nodes", "bins").items():
            check_int(OWNER, name, value, low=2)
        if self.n_layers < 3:
            raise ConfigError(f"{OWNER}: n_layers must be >= 3 (the trend with depth is measured from layer 2 "
                              f"on), got {self.n_layers}")
        check_above_zero(OWNER, self, "relu_max")
        check_real(OWNER, "edge", self.edge, low=0.0, low_open=True, high=0.5, high_open=True)
        check_fractions(OWNER, self, "wide_fraction", include_one=False)
        check_fractions(OWNER, self, "hold_ratio", "small_derivative", "full_derivative", "vanish_ratio")


def output_range(activation: str, config: Config) -> tuple[float, float]:
    """The histogram range: the activation's range; for ReLU (0, relu_max]."""
    return {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "relu": (0.0, config.relu_max)}[activation]


def reference_std(activation: str) -> float:
    """std of f(z) for z ~ N(0, 1): the spread of a layer whose pre-activation has unit variance.

    Computed by quadrature on a fine grid, so it is exact to many digits and needs no randomness.
    """
    z = np.linspace(-10, 10, 200001)
    w = np.exp(-0.5 * z * z)
    w /= w.sum()
    f = ACTIVATIONS.get(activation)().forward(z, train=False)
    mean = (w * f).sum()
    return float(np.sqrt((w * (f - mean) ** 2).sum()))


def layer_stats(a: np.ndarray, activation: str, edges: np.ndarray, config: Config) -> dict:
    """Histogram counts and spread of one layer's outputs (N, nodes)."""
    lo, hi = output_range(activation, config)
    values = a.ravel()
    out = {"mean": float(values.mean()), "std": float(values.std())}
    if activation == "relu":
        # Half the outputs are exactly 0: as a bar it would dwarf the rest, so it is kept as a number.
        positive = values[values > 0]
        out["counts"] = np.histogram(positive, bins=edges)[0].tolist()
        out["zero_fraction"] = float((values == 0).mean())
        out["above_range"] = float((values > hi).mean())
    else:
        out["counts"] = np.histogram(values, bins=edges)[0].tolist()
        out["low_fraction"] = float((values <= lo + config.edge).mean())
        out["high_fraction"] = float((values >= hi - config.edge).mean())
        middle = (lo + hi) / 2
        out["middle_fraction"] = float((np.abs(values - middle) <= config.edge).mean())
    return out


#: The derivative of each activation written with its output a.
DERIVATIVE = {"sigmoid": lambda a: a * (1 - a), "tanh": lambda a: 1 - a * a, "relu": lambda a: (a > 0) * 1.0}
#: The sigmoid's largest derivative (at z = 0, output 0.5).
SIGMOID_MAX_DERIVATIVE = 0.25


def run(config: Config, seed: int = 0) -> dict:
    """Forward the same Gaussian input through each (activation, initialisation) network once, and back."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((config.n_samples, config.n_nodes))  # (N, nodes)
    weight_seed = int(rng.integers(0, 2**31 - 1))
    upstream = rng.standard_normal((config.n_samples, config.n_nodes))  # (N, nodes): the gradient sent back
    out: dict = {"reference_std": {}, "edges": {}, "runs": {}}
    for activation in ACTIVATION_NAMES:
        lo, hi = output_range(activation, config)
        edges = np.linspace(lo, hi, config.bins + 1)
        out["edges"][activation] = edges.tolist()
        out["reference_std"][activation] = reference_std(activation)
        out["runs"][activation] = {}
        for label, init in INITS:
            # The same generator state for every combination: the weights differ only by their scale.
            weights = np.random.default_rng(weight_seed)
            layers = []
            for _ in range(config.n_layers):
                layers.append(Linear(config.n_nodes, config.n_nodes, bias=False, weight_init=init, rng=weights,
                                     dtype=np.float64))
                layers.append(ACTIVATIONS.get(activation)())
            net = Sequential(*layers)
            outputs: list[np.ndarray] = []

            def keep_activation(path, layer, y, outputs=outputs):
                if not isinstance(layer, Linear):
                    outputs.append(y)  # (N, nodes)

            net.forward_hooks.append(keep_activation)
            net.forward(x, train=True)
            net.backward(upstream)
            linears = [layer for layer in layers if isinstance(layer, Linear)]
            stds = [float(a.std()) for a in outputs]
            out["runs"][activation][label] = {
                "weight_init": init,
                "layers": [layer_stats(a, activation, edges, config) for a in outputs],
                # Geometric-mean factor by which the std changes from one layer to the next, from layer 2
                # on: layer 1 sees the raw zero-mean input, the others see activations (a sigmoid's have
                # mean 0.5), so the first step mixes a change of input with the effect of depth.
                "std_ratio_per_layer": float((stds[-1] / stds[1]) ** (1 / (len(stds) - 2)))
                if stds[1] > 0 else 0.0,
                "mean_derivative": [float(DERIVATIVE[activation](a).mean()) for a in outputs],
                "weight_grad_std": [float(layer.weight.grad.std()) for layer in linears],
            }
    return out


def _stds(r: dict) -> str:
    return " ".join(f"{layer['std']:.3g}" for layer in r["layers"])


def _wide_and_held(metrics: dict, activation: str, label: str, config: Config) -> tuple[bool, str, dict]:
    r = metrics["runs"][activation][label]
    floor = config.wide_fraction * metrics["reference_std"][activation]
    smallest = min(layer["std"] for layer in r["layers"])
    ok = smallest >= floor and r["std_ratio_per_layer"] >= config.hold_ratio
    values = {f"{activation}/{label}: smallest layer std": smallest, f"{activation}: 'wide' floor": floor,
              f"{activation}/{label}: std ratio per layer": r["std_ratio_per_layer"]}
    return ok, (f"{activation}/{label}: std by layer {_stds(r)} (smallest {smallest:.3g} vs floor {floor:.3g}), "
                f"per-layer ratio from layer 2 on {r['std_ratio_per_layer']:.3f}"), values


def _grad_ratio(r: dict) -> float:
    """The first layer's weight-gradient std over the last layer's."""
    grads = r["weight_grad_std"]
    return grads[0] / grads[-1] if grads[-1] > 0 else 0.0


def _grads(r: dict) -> str:
    return " ".join(f"{g:.3g}" for g in r["weight_grad_std"])


def _derivatives(r: dict) -> str:
    return " ".join(f"{d:.3f}" for d in r["mean_derivative"])


def check(metrics: dict, config: Config) -> list[Claim]:
    runs = metrics["runs"]
    claims = []
    big = runs["sigmoid"]["std=1"]["layers"]
    lows = [layer["low_fraction"] for layer in big]
    highs = [layer["high_fraction"] for layer in big]
    claims.append(CLAIMS.claim(
        "sigmoid-std1-saturates",
        f"Sigmoid with std 1 piles the outputs at 0 and 1: in every layer more than half lie within "
        f"{config.edge} of an end, and each end holds at least 20%",
        all(lo + hi > 0.5 and lo >= 0.2 and hi >= 0.2 for lo, hi in zip(lows, highs)),
        "fraction near 0 / near 1 by layer: "
        + ", ".join(f"{lo:.2f}/{hi:.2f}" for lo, hi in zip(lows, highs)),
        values={"smallest fraction near an end": min(lo + hi for lo, hi in zip(lows, highs)),
                "smallest fraction near 0": min(lows), "smallest fraction near 1": min(highs)}))

    small = runs["sigmoid"]["std=0.01"]
    floor = config.wide_fraction * metrics["reference_std"]["sigmoid"]
    mids = [layer["middle_fraction"] for layer in small["layers"]]
    claims.append(CLAIMS.claim(
        "sigmoid-std001-collapses",
        f"Sigmoid with std 0.01 collapses near 0.5: in every layer the std is below {config.wide_fraction:g} x "
        f"std(sigmoid(z)) and at least 99% of outputs lie within {config.edge} of 0.5",
        all(layer["std"] < floor for layer in small["layers"]) and min(mids) >= 0.99,
        f"std by layer {_stds(small)} (limit {floor:.3g}); fraction within {config.edge} of 0.5: "
        + " ".join(f"{m:.3f}" for m in mids),
        values={"largest layer std": max(layer["std"] for layer in small["layers"]), "limit": floor,
                "smallest fraction near 0.5": min(mids)}))

    oks, texts, found = zip(*(_wide_and_held(metrics, act, "Xavier", config) for act in ("sigmoid", "tanh")))
    rule = (f"every layer's std at least {config.wide_fraction:g} x std(f(z)) for z ~ N(0, 1), and from layer 2 "
            f"on shrinking by at most a factor {config.hold_ratio:g} per layer")
    claims.append(CLAIMS.claim("xavier-keeps-spread",
                               f"Xavier keeps a wide spread in every layer with sigmoid and tanh ({rule})",
                               all(oks), "; ".join(texts), values={**found[0], **found[1]}))

    ok, text, values = _wide_and_held(metrics, "relu", "He", config)
    claims.append(CLAIMS.claim("he-keeps-spread-relu",
                               f"He keeps a wide spread in every layer with ReLU ({rule})", ok, text, values=values))

    xr = runs["relu"]["Xavier"]
    claims.append(CLAIMS.claim(
        "xavier-relu-shrinks",
        f"With ReLU, Xavier's spread shrinks with depth (by more than a factor {config.hold_ratio:g} per layer; "
        "each layer halves the variance)",
        xr["std_ratio_per_layer"] < config.hold_ratio,
        f"relu/Xavier: std by layer {_stds(xr)}, per-layer ratio from layer 2 on {xr['std_ratio_per_layer']:.3f} "
        f"(1/sqrt(2) = 0.707 in theory); relu/He: {runs['relu']['He']['std_ratio_per_layer']:.3f}",
        values={"relu/Xavier: std ratio per layer": xr["std_ratio_per_layer"],
                "relu/He: std ratio per layer": runs["relu"]["He"]["std_ratio_per_layer"],
                "limit": config.hold_ratio}))
    claims.extend(_gradient_claims(runs, config))
    return claims


def _gradient_claims(runs: dict, config: Config) -> list[Claim]:
    """The sigmoid's derivative and the back-propagated weight gradients, for std 1 and std 0.01."""
    big, small = runs["sigmoid"]["std=1"], runs["sigmoid"]["std=0.01"]
    small_limit = config.small_derivative * SIGMOID_MAX_DERIVATIVE
    full_limit = config.full_derivative * SIGMOID_MAX_DERIVATIVE
    big_ratio, small_ratio = _grad_ratio(big), _grad_ratio(small)
    gradients = ("std of each layer's weight gradient, first to last layer, for a standard normal gradient sent "
                 "back from the last layer's outputs")
    return [
        CLAIMS.claim(
            "sigmoid-std1-small-derivative",
            f"With std 1 the sigmoid's derivative a(1 - a) is small where the outputs pile at 0 and 1: its mean is "
            f"below {config.small_derivative:g} x 0.25 (its maximum) in every layer",
            max(big["mean_derivative"]) < small_limit,
            f"sigmoid/std=1: mean derivative by layer {_derivatives(big)} (limit {small_limit:.3f})",
            values={"largest mean derivative": max(big["mean_derivative"]), "limit": small_limit}),
        CLAIMS.claim(
            "sigmoid-std1-gradient-shrinks",
            f"With std 1 the gradient vanishes on its way back: the first layer's weight gradient is below "
            f"{config.vanish_ratio:g} x the last layer's",
            big_ratio < config.vanish_ratio,
            f"sigmoid/std=1: {gradients}: {_grads(big)} (first / last {big_ratio:.3g}); the weights of std 1 "
            f"multiply the back-propagated gradient by about sqrt({config.n_nodes}) per layer, which makes up for "
            f"the small derivative",
            values={"first / last layer weight gradient": big_ratio, "limit": config.vanish_ratio}),
        CLAIMS.claim(
            "sigmoid-std001-full-derivative",
            f"With std 0.01 the sigmoid's derivative does not vanish: its mean is at least {config.full_derivative:g} "
            f"x 0.25 in every layer (the outputs sit at 0.5, where it is largest)",
            min(small["mean_derivative"]) >= full_limit,
            f"sigmoid/std=0.01: mean derivative by layer {_derivatives(small)} (limit {full_limit:.3f})",
            values={"smallest mean derivative": min(small["mean_derivative"]), "limit": full_limit}),
        CLAIMS.claim(
            "sigmoid-std001-gradient-holds",
            f"With std 0.01 the gradient does not vanish on its way back: the first layer's weight gradient is at "
            f"least {config.vanish_ratio:g} x the last layer's",
            small_ratio >= config.vanish_ratio,
            f"sigmoid/std=0.01: {gradients}: {_grads(small)} (first / last {small_ratio:.3g}); each layer's "
            f"weights of std 0.01 multiply the back-propagated gradient by about 0.01 x sqrt({config.n_nodes}) "
            f"x 0.25",
            values={"first / last layer weight gradient": small_ratio, "limit": config.vanish_ratio}),
    ]


def book(metrics: dict, config: Config) -> list[BookValue]:
    runs = metrics["runs"]
    last = config.n_layers - 1
    note = "the book shows histograms only (figs. 6-10 to 6-14); measured: std of the last layer's outputs"
    return [
        BookValue("sigmoid, std=1: outputs at 0 and 1 (fig. 6-10)", "U-shaped histogram",
                  round(runs["sigmoid"]["std=1"]["layers"][last]["std"], 4), note),
        BookValue("sigmoid, std=0.01: outputs near 0.5 (fig. 6-11)", "narrow peak at 0.5",
                  round(runs["sigmoid"]["std=0.01"]["layers"][last]["std"], 4), note),
        BookValue("sigmoid, Xavier: spread out (fig. 6-13)", "wide, bell-shaped",
                  round(runs["sigmoid"]["Xavier"]["layers"][last]["std"], 4), note),
        BookValue("tanh, Xavier: spread out, centred at 0 (fig. 6-13)", "wide, bell-shaped",
                  round(runs["tanh"]["Xavier"]["layers"][last]["std"], 4), note),
        BookValue("ReLU, Xavier: concentrates at 0 with depth (fig. 6-14)", "narrowing with depth",
                  round(runs["relu"]["Xavier"]["layers"][last]["std"], 4), note),
        BookValue("ReLU, He: same spread in every layer (fig. 6-14)", "even across layers",
                  round(runs["relu"]["He"]["layers"][last]["std"], 4), note),
    ]


register(ExperimentSpec(
    name=NAME,
    title="Activation histograms at initialisation: weight std 1, 0.01, Xavier and He",
    summary="A Gaussian input through 5 layers of 100 nodes with sigmoid, tanh and ReLU under four weight "
            "scales: std 1 saturates the sigmoid, std 0.01 collapses it, Xavier (sigmoid, tanh) and He (ReLU) "
            "keep the spread, as in the book's figures 6-10 to 6-14.",
    config_cls=Config, run=run, check=check, plot=plot_init_activations, book=book,
    quick={},
    claims=CLAIMS,
    seeds=5,  # what make run gives it (see docs/experiments.md)
))
