"""Vanishing gradients at initialisation: per-layer weight-gradient norms of deep sigmoid and ReLU nets.

Ten hidden layers of 100 units, one backward pass of the cross-entropy on a
batch of MNIST images, before any update. Compared, for sigmoid and for ReLU:
the book's initialisation (Xavier N(0, 1/n) for sigmoid, He N(0, 2/n) for
ReLU), the same with BatchNorm before every activation, and a fixed std of
0.01 without and with BatchNorm. Each net is drawn ``n_inits`` times; the
figure and claims use the geometric mean over the draws.

The quantity compared is the RMS of a layer's weight gradient, its Frobenius
norm divided by sqrt(number of weights): the first layer has 784 x 100
weights and the others 100 x 100, and the plain norm would grow with the
count alone (both are kept in the metrics).

Why sigmoid gradients vanish: sigmoid'(a) <= 0.25, and Xavier weights keep the
scale of the backward signal otherwise unchanged, so each layer multiplies it
by about 0.25 or less; nine layers give about 0.25^9 = 4e-6. He weights make
up for ReLU halving the signal, so ReLU gradients keep their size. BatchNorm
rescales every pre-activation to unit variance, which undoes both a too-small
weight scale and the sigmoid's shrinking. It does not make the already even
ReLU + He gradients more even: with BN they grow somewhat towards the input,
the gradient growth at initialisation that mean-field analyses of deep BN
nets predict (Yang et al., ICLR 2019).

Exploding gradients: the same ReLU net with every He weight multiplied by
``explode_gain`` (2: twice He's standard deviation). Each layer then
multiplies the back-propagated gradient by about the gain, so the gradient of
the loss with respect to each hidden layer's output (the signal the weights
pass back) grows by about gain^(depth - 1) = 512 from the last hidden layer to
the first, where He's keeps it level. The weight gradients grow too: all of
them by about gain^depth against He's, since the forward activations grow
with the same factor the backward signal does, and more where the scores saturate the softmax.

Reference: Saito, *Deep Learning from Scratch*, sec. 6.2 (initial weights and
activations) and 6.3 (BatchNorm); Glorot & Bengio, 2010; He et al., 2015;
Ioffe & Szegedy, 2015.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainlab.errors import ConfigError
from trainlab.experiments.base import BookValue, Claim, ClaimTable, ExperimentSpec, register
from trainlab.experiments.common import check_dataset, check_fractions, load_subset, settings
from trainlab.layers.linear import Linear
from trainlab.models.mlp import MultiLayerNet
from trainlab.plots.vanishing_gradients import plot_vanishing_gradients
from trainlab.validation import check_positive, check_real

NAME = "vanishing-gradients"
OWNER = f"experiment {NAME}"

#: The claims ``check`` decides: key -> source (seed statements of the ledger, book sections, papers).
CLAIMS = ClaimTable(NAME, {
    "sigmoid-vanishes": "seed 003 (S003-14), seed 004 (S004-01); book 6.2.2",
    "relu-he-holds": "seed 003 (S003-14); book 6.2.3",
    "bn-even": "seed 003 (S003-24); book 6.3",
    "bn-evens-uneven": "seed 003 (S003-24); book 6.3",
    "bn-scale-independent": "seed 000 (S000-20), seed 001 (S001-13), seed 004 (S004-13); book 6.3",
    "gradients-explode": "seed 004 (S004-02); He et al., 2015, sec. 2.2",
})

#: (label, activation, weight init, BatchNorm). The first of each activation is the book's pairing.
NETS = (
    ("sigmoid, Xavier", "sigmoid", "xavier", False),
    ("sigmoid, Xavier + BN", "sigmoid", "xavier", True),
    ("sigmoid, std 0.01", "sigmoid", 0.01, False),
    ("sigmoid, std 0.01 + BN", "sigmoid", 0.01, True),
    ("ReLU, He", "relu", "he", False),
    ("ReLU, He + BN", "relu", "he", True),
    ("ReLU, std 0.01", "relu", 0.01, False),
    ("ReLU, std 0.01 + BN", "relu", 0.01, True),
)
SIGMOID, RELU = "sigmoid, Xavier", "ReLU, He"


@dataclass(frozen=True)
class Config:
    dataset: str = "mnist"
    #: Images in the batch whose gradient is taken (the first ones of the training set).
    n_samples: int = 1000
    depth: int = 10
    width: int = 100
    #: Initial weights drawn per net; the norms are averaged (geometrically) over the draws.
    n_inits: int = 5
    #: Sigmoid's first-layer / last-hidden-layer RMS must be below this to count as vanishing
    #: (an order of magnitude; 0.25 per layer predicts far less).
    vanish_ratio: float = 0.1
    #: "Even" gradients: largest / smallest hidden-layer RMS at most this.
    even_spread: float = 10.0
    #: The exploding net: ReLU with He's weights times this (its std this many times He's).
    explode_gain: float = 2.0

    def __post_init__(self):
        check_dataset(OWNER, self.dataset)
        if self.depth < 2:
            raise ConfigError(f"{OWNER}: depth must be >= 2 (first and last hidden layer differ), got {self.depth}")
        check_positive(OWNER, **settings(self, "n_samples", "width", "n_inits"))
        check_fractions(OWNER, self, "vanish_ratio", include_one=False)
        check_real(OWNER, "even_spread", self.even_spread, low=1.0, low_open=True)
        check_real(OWNER, "explode_gain", self.explode_gain, low=1.0, low_open=True, high=10.0)


def weight_grad_norms(model: MultiLayerNet, x, t) -> tuple[list[float], list[int]]:
    """Frobenius norms of dL/dW of every Linear layer, input to output, after one backward pass; and weight counts."""
    model.gradient(x, t)
    linears = [layer for layer in model.modules() if isinstance(layer, Linear)]
    return [float(np.linalg.norm(layer.weight.grad)) for layer in linears], [layer.weight.size for layer in linears]


def signal_rms(model: MultiLayerNet, x, t) -> list[float]:
    """RMS of dL/d(input of every Linear after the first), input to output: the back-propagated gradient
    at each hidden layer's output, after one backward pass (its weight gradients are left in place)."""
    linears = [layer for layer in model.modules() if isinstance(layer, Linear)]
    found = {}

    def hook(path, layer, dout):
        if layer in linears[1:]:
            found[linears.index(layer)] = float(np.sqrt(np.mean(np.square(dout))))

    model.backward_hooks.append(hook)
    try:
        model.gradient(x, t)
    finally:
        model.backward_hooks.remove(hook)
    return [found[i] for i in range(1, len(linears))]


def _explode(config: Config, x, t, init_seeds) -> dict:
    """ReLU nets with He's weights and with them times ``explode_gain``: back-propagated and weight gradients."""
    out = {}
    for label, gain in (("ReLU, He", 1.0), (f"ReLU, {config.explode_gain:g} x He", config.explode_gain)):
        signals, weights = [], []
        for s in init_seeds:
            model = MultiLayerNet(784, [config.width] * config.depth, 10, activation="relu", weight_init="he",
                                  seed=int(s), dtype=np.float64)
            for layer in model.modules():
                if isinstance(layer, Linear):
                    layer.weight.data *= gain
            signals.append(signal_rms(model, x, t))
            weights.append([float(np.sqrt(np.mean(np.square(layer.weight.grad))))
                            for layer in model.modules() if isinstance(layer, Linear)])
        signal = np.exp(np.log(np.maximum(signals, 1e-300)).mean(axis=0))   # (depth,), geometric mean
        weight = np.exp(np.log(np.maximum(weights, 1e-300)).mean(axis=0))   # (depth + 1,)
        steps = signal[:-1] / signal[1:]  # layer l's over layer l + 1's
        out[label] = {"gain": gain, "signal_rms": signal.tolist(), "weight_rms": weight.tolist(),
                      "first_to_last": float(signal[0] / signal[-1]),
                      "smallest_step": float(steps.min()), "largest_step": float(steps.max())}
    return out


def run(config: Config, seed: int = 0) -> dict:
    """Weight-gradient norms per layer for every net in :data:`NETS`, over ``n_inits`` draws."""
    data = load_subset(config.dataset, config.n_samples, 1, seed=seed)
    # float64 so that the smallest norms (1e-16 and below for sigmoid with std 0.01) are not lost.
    x, t = data.x_train.astype(np.float64), data.t_train
    init_seeds = np.random.default_rng(seed).integers(0, 2**31, size=config.n_inits)
    nets = {}
    for label, activation, init, bn in NETS:
        norms = []
        for s in init_seeds:
            model = MultiLayerNet(784, [config.width] * config.depth, 10, activation=activation, weight_init=init,
                                  use_batchnorm=bn, seed=int(s), dtype=np.float64)
            layer_norms, sizes = weight_grad_norms(model, x, t)
            norms.append(layer_norms)
        norms = np.array(norms)                                    # (n_inits, depth + 1)
        # Geometric mean over the draws: the norms span many orders of magnitude.
        mean = np.exp(np.log(np.maximum(norms, 1e-300)).mean(axis=0))
        rms = mean / np.sqrt(sizes)
        hidden = rms[:config.depth]
        nets[label] = {"activation": activation, "init": init, "batchnorm": bn,
                       "norm": mean.tolist(), "rms": rms.tolist(), "norm_per_init": norms.tolist(),
                       "first_to_last_hidden": float(hidden[0] / hidden[-1]),
                       "spread": float(hidden.max() / hidden.min())}
    return {"dataset": data.name, "n_samples": len(t), "layers": list(range(1, config.depth + 2)),
            "nets": nets, "explode": _explode(config, x, t, init_seeds)}


def check(metrics: dict, config: Config) -> list[Claim]:
    nets = metrics["nets"]
    sig, relu = nets[SIGMOID], nets[RELU]
    d = config.depth
    claims = [CLAIMS.claim(
        "sigmoid-vanishes",
        f"Sigmoid with Xavier weights: gradients shrink towards the input (layer 1's weight-gradient RMS "
        f"< {config.vanish_ratio} x layer {d}'s)",
        sig["first_to_last_hidden"] < config.vanish_ratio,
        f"layer 1 / layer {d}: {sig['first_to_last_hidden']:.2g} (RMS {sig['rms'][0]:.2g} and "
        f"{sig['rms'][d - 1]:.2g}); sigmoid' <= 0.25 predicts about 0.25^{d - 1} = {0.25 ** (d - 1):.1g}",
        values={f"sigmoid + Xavier: layer 1 / layer {d} RMS": sig["first_to_last_hidden"],
                "threshold": config.vanish_ratio})]
    claims.append(CLAIMS.claim(
        "relu-he-holds",
        f"ReLU with He weights shrinks much less: layer 1 / layer {d} stays above {config.vanish_ratio}",
        relu["first_to_last_hidden"] >= config.vanish_ratio,
        f"ReLU + He {relu['first_to_last_hidden']:.2g} (largest / smallest hidden layer {relu['spread']:.2g}) "
        f"against sigmoid + Xavier {sig['first_to_last_hidden']:.2g}",
        values={f"ReLU + He: layer 1 / layer {d} RMS": relu["first_to_last_hidden"],
                "threshold": config.vanish_ratio}))
    with_bn = {k: r for k, r in nets.items() if r["batchnorm"]}
    claims.append(CLAIMS.claim(
        "bn-even",
        f"With BatchNorm every net's gradients are even across the hidden layers (largest / smallest "
        f"RMS <= {config.even_spread}), whatever the activation and initial scale",
        all(r["spread"] <= config.even_spread for r in with_bn.values()),
        "largest / smallest with BN: " + ", ".join(f"{k} {r['spread']:.3g}" for k, r in with_bn.items()),
        values={**{f"{k}: largest / smallest RMS": r["spread"] for k, r in with_bn.items()},
                "threshold": config.even_spread}))
    pairs = [(k, k + " + BN") for k, r in nets.items() if not r["batchnorm"] and k + " + BN" in nets]
    uneven = [(a, b) for a, b in pairs if nets[a]["spread"] > config.even_spread]
    rest = [(a, b) for a, b in pairs if (a, b) not in uneven]

    def change(a, b):
        return (f"{a} {nets[a]['spread']:.3g} -> {nets[b]['spread']:.3g} "
                f"(layer-1 RMS {nets[a]['rms'][0]:.2g} -> {nets[b]['rms'][0]:.2g})")

    claims.append(CLAIMS.claim(
        "bn-evens-uneven",
        f"BatchNorm evens out the nets whose gradients are uneven without it (largest / smallest > "
        f"{config.even_spread}): the same net with BN has a smaller spread",
        bool(uneven) and all(nets[b]["spread"] < nets[a]["spread"] for a, b in uneven),
        "largest / smallest without -> with BN: " + ("; ".join(change(a, b) for a, b in uneven) or "no uneven net")
        + ("; already even without BN: " + "; ".join(change(a, b) for a, b in rest) if rest else ""),
        values={**{f"{k}: largest / smallest RMS": nets[k]["spread"] for pair in pairs for k in pair},
                "uneven nets without BN": len(uneven)}))
    small = {a: nets[f"{a}, std 0.01"] for a in ("sigmoid", "ReLU")}
    usual = {"sigmoid": sig, "ReLU": relu}
    bn_small = {a: nets[f"{a}, std 0.01 + BN"] for a in ("sigmoid", "ReLU")}
    bn_usual = {a: nets[f"{k} + BN"] for a, k in (("sigmoid", SIGMOID), ("ReLU", RELU))}

    def factor(a_rms, b_rms):  # how many times apart, either way
        return max(a_rms, b_rms) / min(a_rms, b_rms)

    apart = {a: factor(small[a]["rms"][0], usual[a]["rms"][0]) for a in small}
    apart_bn = {a: factor(bn_small[a]["rms"][0], bn_usual[a]["rms"][0]) for a in small}
    claims.append(CLAIMS.claim(
        "bn-scale-independent",
        f"BatchNorm makes the gradients nearly independent of the initial weight scale: with BN, std 0.01 "
        f"and the book's initialisation give layer-1 gradients within {config.even_spread}x of each other; "
        f"without BN they are further apart",
        all(apart_bn[a] <= config.even_spread < apart[a] for a in apart),
        "; ".join(f"{a}: layer-1 RMS std 0.01 vs {'Xavier' if a == 'sigmoid' else 'He'}: without BN "
                  f"{small[a]['rms'][0]:.2g} vs {usual[a]['rms'][0]:.2g} ({apart[a]:.2g}x apart), with BN "
                  f"{bn_small[a]['rms'][0]:.2g} vs {bn_usual[a]['rms'][0]:.2g} ({apart_bn[a]:.2g}x)"
                  for a in apart),
        values={**{f"{a}: std 0.01 vs usual, times apart without BN": apart[a] for a in apart},
                **{f"{a}: std 0.01 vs usual, times apart with BN": apart_bn[a] for a in apart},
                "threshold": config.even_spread}))
    claims.append(_explode_claim(metrics, config))
    return claims


def _explode_claim(metrics: dict, config: Config) -> Claim:
    he, big = metrics["explode"].values()
    d, g = config.depth, config.explode_gain
    growth = 1.0 / config.vanish_ratio
    weight_factor = big["weight_rms"][0] / he["weight_rms"][0]
    return CLAIMS.claim(
        "gradients-explode",
        f"Gradients explode when the weights are too large: with {g:g} x He's standard deviation the "
        f"back-propagated gradient of a ReLU net grows at every layer towards the input, by more than "
        f"{growth:g}x from layer {d} to layer 1, where He's weights keep it within {config.even_spread:g}x "
        f"(at initialisation, one backward pass)",
        big["smallest_step"] > 1.0 and big["first_to_last"] > growth
        and 1.0 / config.even_spread <= he["first_to_last"] <= config.even_spread,
        f"RMS of dL/d(output of hidden layer) layer 1 / layer {d}: {g:g} x He {big['first_to_last']:.3g} "
        f"(each layer's over the next one's {big['smallest_step']:.2f} to {big['largest_step']:.2f}; "
        f"{g:g}^{d - 1} = {g ** (d - 1):.3g}), He {he['first_to_last']:.3g} ({he['smallest_step']:.2f} to "
        f"{he['largest_step']:.2f}); layer-1 weight-gradient RMS {big['weight_rms'][0]:.2g} against He's "
        f"{he['weight_rms'][0]:.2g} ({weight_factor:.3g}x)",
        values={f"{g:g} x He: layer 1 / layer {d} gradient": big["first_to_last"],
                f"{g:g} x He: smallest growth per layer": big["smallest_step"],
                f"He: layer 1 / layer {d} gradient": he["first_to_last"],
                f"{g:g} x He / He: layer-1 weight gradient": weight_factor,
                "threshold": growth})


def book(metrics: dict, config: Config) -> list[BookValue]:
    nets = metrics["nets"]
    note = "the book shows activation histograms (figs. 6-10 to 6-14), not gradient norms"
    return [BookValue(f"{k}: layer 1 / layer {config.depth} weight-gradient RMS", None,
                      float(f"{r['first_to_last_hidden']:.3g}"), note) for k, r in nets.items()]


register(ExperimentSpec(
    name=NAME,
    title="Vanishing gradients: per-layer gradient norms of deep sigmoid and ReLU nets at initialisation",
    summary="Weight-gradient norm of every layer of 10-hidden-layer nets on a batch of MNIST, before training: "
            "sigmoid (Xavier) against ReLU (He), with and without BatchNorm, and with std 0.01 weights.",
    config_cls=Config, run=run, check=check, plot=plot_vanishing_gradients, book=book,
    quick={"n_samples": 300, "n_inits": 2},
    claims=CLAIMS,
    seeds=5,  # what make run gives it (see docs/experiments.md)
))
