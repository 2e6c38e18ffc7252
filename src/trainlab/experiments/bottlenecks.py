"""Bottlenecks and auxiliary heads: what the 1x1 convolutions of Inception and DenseNet save, what GoogLeNet's heads add.

Three measurements, each on trainlab's own blocks:

- Inception with and without its 1x1 reductions. Every Inception block of
  trainlab's InceptionNet (a-d, at the map size they see in the network) and
  the paper's inception (3a) (192 channels in, 28x28) is built twice with the
  same output channels: as it is (1x1 reductions to ``c3r`` and ``c5r``
  channels before the 3x3 and 5x5 convolutions), and "naive" (the 3x3 and
  5x5 convolutions read all input channels; the 1x1 branch and the pool
  projection stay, so the outputs are the same). Counted: parameters and
  multiply-adds per image (:func:`trainlab.models.cnn.count_macs`). Measured:
  the receptive field of one output pixel, as the bounding box of the
  non-zero input gradient when every output channel of the central pixel
  gets gradient 1 (weights made positive and the input positive, so no two
  paths cancel and every ReLU passes; eval mode).
- GoogLeNet's auxiliary classifiers. InceptionNet (dropout off, so the two
  passes see the same network) with its seed's initial weights takes
  ``aux_batches`` batches of real images; on each, the gradient at the first
  convolution's weights is computed twice from the same forward pass: from
  the main loss alone, and from the main loss plus the two heads' weighted
  losses (what the Trainer back-propagates). Compared: the norms.
- DenseNet's bottleneck. A dense block of ``dense_layers`` layers, growth
  rate ``growth_rate``, starting from ``2 * growth_rate`` channels at
  ``dense_size`` x ``dense_size`` (DenseNet-BC's first block): the
  multiply-adds of each layer with the bottleneck (BN-ReLU-Conv1x1(4k)-
  BN-ReLU-Conv3x3(k)) and without (BN-ReLU-Conv3x3(k)), as the layer's input
  grows by k channels per layer. The growing part costs 4k multiply-adds
  per input channel and pixel with the bottleneck against 9k without; the
  constant 3x3 part (36 k^2) is paid back once a layer's input exceeds 7.2k
  channels, so a short block (trainlab's DenseNet has 4 layers per block)
  does not gain. Both are shown.

Reference: Szegedy et al., 2015, "Going Deeper with Convolutions", sec. 4-5 and table 1 (the
reductions, inception (3a), the auxiliary classifiers); Huang et al., 2017, "Densely Connected
Convolutional Networks", sec. 3 (bottleneck layers); seed 003.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainlab.experiments.base import Claim, ClaimTable, ExperimentSpec, register
from trainlab.experiments.common import check_dataset, load_subset, settings, split_seed
from trainlab.layers import AuxiliaryHead, BatchNorm2d, Concat, Conv2d, CrossEntropyLoss, InceptionBlock, MaxPool2d
from trainlab.layers import DenseBlock, Sequential
from trainlab.layers.blocks import conv_bn_relu
from trainlab.models.cnn import InceptionNet, count_macs
from trainlab.plots.bottlenecks import plot_bottlenecks
from trainlab.validation import check_int, check_positive

NAME = "bottlenecks"
OWNER = f"experiment {NAME}"

CLAIMS = ClaimTable(NAME, {
    "inception-fewer-parameters": "seed 003 (S003-26); Szegedy et al., 2015, sec. 4",
    "inception-fewer-macs": "seed 003 (S003-26); Szegedy et al., 2015, sec. 4",
    "inception-same-receptive-field": "seed 003 (S003-26)",
    "aux-heads-enlarge-early-gradient": "seed 003 (S003-27); Szegedy et al., 2015, sec. 5",
    "densenet-bottleneck-slows-growth": "seed 003 (S003-29); Huang et al., 2017, sec. 3",
    "densenet-bottleneck-cheaper-when-wide": "seed 003 (S003-29); Huang et al., 2017, sec. 3",
})

#: The paper's inception (3a) (table 1): 192 channels in at 28x28 -> 64 + 128 + 32 + 32 = 256.
PAPER_3A = (192, 64, 96, 128, 16, 32, 32)
#: Map size each block of InceptionNet sees (28x28 input: 14x14 after the first pool, 7x7 after the second).
INCEPTION_SIZES = {"a": 14, "b": 14, "c": 7, "d": 7}


@dataclass(frozen=True)
class Config:
    dataset: str = "mnist"
    #: Batches (of ``batch_size`` images) on which the first convolution's gradient is compared.
    aux_batches: int = 6
    batch_size: int = 32
    #: The dense block measured: its layers, growth rate k (input 2k channels) and map size.
    dense_layers: int = 16
    growth_rate: int = 12
    dense_size: int = 14

    def __post_init__(self):
        check_dataset(OWNER, self.dataset)
        check_positive(OWNER, **settings(self, "aux_batches", "batch_size", "growth_rate"))
        check_int(OWNER, "dense_layers", self.dense_layers, low=2)
        check_int(OWNER, "dense_size", self.dense_size, low=3)


# ---- Inception ---------------------------------------------------------------------------


def naive_inception(in_channels, c1, c3r, c3, c5r, c5, pool_proj, *, rng, dtype=None) -> Concat:
    """The Inception block of the same output channels without its 1x1 reductions (``c3r``, ``c5r`` unused)."""
    def unit(cin, cout, k):
        return conv_bn_relu(cin, cout, k, padding=k // 2, rng=rng, dtype=dtype)

    return Concat(unit(in_channels, c1, 1), unit(in_channels, c3, 3), unit(in_channels, c5, 5),
                  Sequential(MaxPool2d(3, stride=1, padding=1), *unit(in_channels, pool_proj, 1)))


def receptive_field(block, in_channels: int, size: int, rng) -> list[int]:
    """(height, width) of the input region that reaches the central output pixel of ``block``.

    Positive weights, BatchNorm left at its initial eval-mode identity, a positive input: every path
    is positive (no cancellation, every ReLU passes), so the non-zero input gradient is the whole field.
    """
    for m in block.modules():
        if isinstance(m, Conv2d):
            m.weight.data = np.abs(m.weight.data) + 0.01
    x = rng.uniform(0.5, 1.5, (1, in_channels, size, size))
    out = block.forward(x, train=False)
    dout = np.zeros_like(out)
    dout[:, :, size // 2, size // 2] = 1.0
    reached = np.abs(block.backward(dout))[0].sum(axis=0) > 0
    rows, cols = np.flatnonzero(reached.any(axis=1)), np.flatnonzero(reached.any(axis=0))
    return [int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)]


def inception_rows(seed: int) -> dict:
    """Parameters, multiply-adds and receptive field of each block with and without its reductions."""
    rng = np.random.default_rng(seed)
    blocks = {f"InceptionNet {k}": (v, INCEPTION_SIZES[k]) for k, v in InceptionNet.BLOCKS.items()}
    blocks["paper (3a)"] = (PAPER_3A, 28)
    rows = {}
    for label, (sizes, size) in blocks.items():
        row = {"in_channels": sizes[0], "size": size, "sizes": list(sizes)}
        for kind, make in (("reduced", InceptionBlock), ("naive", naive_inception)):
            block = make(*sizes, rng=rng, dtype=np.float64)
            shape = (sizes[0], size, size)
            row[kind] = {"parameters": block.num_parameters(), "macs": count_macs(block, shape),
                         "out_channels": int(block.forward(np.zeros((1, *shape)), train=False).shape[1]),
                         "receptive_field": receptive_field(block, sizes[0], size, rng)}
        rows[label] = row
    return rows


# ---- auxiliary heads -------------------------------------------------------------------------


def aux_gradients(config: Config, seed: int) -> dict:
    """Norm of the first convolution's weight gradient without and with the auxiliary losses, per batch."""
    init_seed, data_seed = split_seed(seed)
    n = config.aux_batches * config.batch_size
    data = load_subset(config.dataset, n, 0, seed=data_seed, flatten=False)
    model = InceptionNet(dropout=0.0, seed=init_seed)
    heads = [m for m in model.modules() if isinstance(m, AuxiliaryHead)]
    first = model.layers[0]
    loss = CrossEntropyLoss()
    main, total, main_loss, aux_loss = [], [], [], []
    for b in range(config.aux_batches):
        x = data.x_train[b * config.batch_size:(b + 1) * config.batch_size]
        t = data.t_train[b * config.batch_size:(b + 1) * config.batch_size]
        scores = model.forward(x, train=True)
        main_loss.append(float(loss.forward(scores, t)))
        dscores = loss.backward()
        model.backward(dscores)  # no auxiliary loss asked for: the heads add nothing
        main.append(float(np.linalg.norm(first.weight.grad)))
        aux_loss.append(float(sum(h.auxiliary_loss(t) for h in heads)))  # from the same forward pass
        model.backward(dscores)
        total.append(float(np.linalg.norm(first.weight.grad)))
    return {"dataset": data.name, "n_heads": len(heads), "head_weight": heads[0].loss_weight,
            "main_norm": main, "with_aux_norm": total, "ratio": [t / m for t, m in zip(total, main)],
            "main_loss": main_loss, "aux_loss": aux_loss}


# ---- DenseNet ---------------------------------------------------------------------------------


def dense_rows(config: Config, seed: int) -> dict:
    """Multiply-adds of each layer of a dense block with and without the bottleneck."""
    rng = np.random.default_rng(seed)
    k, size = config.growth_rate, config.dense_size
    c0 = 2 * k
    out = {"in_channels": [c0 + i * k for i in range(config.dense_layers)]}
    for kind, bottleneck in (("bottleneck", True), ("plain", False)):
        block = DenseBlock(c0, k, config.dense_layers, bottleneck=bottleneck, rng=rng)
        out[kind] = [count_macs(layer, (cin, size, size))
                     for layer, cin in zip(block._children.values(), out["in_channels"])]
        out[f"{kind}_parameters"] = block.num_parameters()
    return out


def run(config: Config, seed: int = 0) -> dict:
    aux = aux_gradients(config, seed)
    return {"dataset": aux.pop("dataset"), "inception": inception_rows(seed), "aux": aux,
            "dense": dense_rows(config, seed)}


def _slope(xs, ys) -> float:
    """Least-squares slope of ys against xs."""
    return float(np.polyfit(np.asarray(xs, np.float64), np.asarray(ys, np.float64), 1)[0])


def check(metrics: dict, config: Config) -> list[Claim]:
    rows = metrics["inception"]
    p_ratio = {k: r["reduced"]["parameters"] / r["naive"]["parameters"] for k, r in rows.items()}
    m_ratio = {k: r["reduced"]["macs"] / r["naive"]["macs"] for k, r in rows.items()}
    same_out = all(r["reduced"]["out_channels"] == r["naive"]["out_channels"] for r in rows.values())
    fields = {k: (r["reduced"]["receptive_field"], r["naive"]["receptive_field"]) for k, r in rows.items()}
    aux = metrics["aux"]
    ratios = aux["ratio"]
    dense = metrics["dense"]
    cin = dense["in_channels"]
    slope_b, slope_p = _slope(cin, dense["bottleneck"]), _slope(cin, dense["plain"])
    last_b, last_p = dense["bottleneck"][-1], dense["plain"][-1]
    cheaper_from = next((c for c, b, p in zip(cin, dense["bottleneck"], dense["plain"]) if b < p), None)
    worst_p, worst_m = max(p_ratio, key=p_ratio.get), max(m_ratio, key=m_ratio.get)
    return [
        CLAIMS.claim("inception-fewer-parameters",
                     "Inception's 1x1 reductions cut the parameters of every block (same output channels)",
                     same_out and all(v < 1 for v in p_ratio.values()),
                     "parameters with / without the reductions: " + ", ".join(
                         f"{k} {r['reduced']['parameters']:,} / {r['naive']['parameters']:,} ({p_ratio[k]:.0%})"
                         for k, r in rows.items()),
                     values={"largest parameter ratio": p_ratio[worst_p],
                             "paper (3a) parameter ratio": p_ratio["paper (3a)"], "threshold": 1.0}),
        CLAIMS.claim("inception-fewer-macs",
                     "They also cut the multiply-adds of every block",
                     same_out and all(v < 1 for v in m_ratio.values()),
                     "multiply-adds per image with / without: " + ", ".join(
                         f"{k} {r['reduced']['macs'] / 1e6:.2f}M / {r['naive']['macs'] / 1e6:.2f}M ({m_ratio[k]:.0%})"
                         for k, r in rows.items()),
                     values={"largest multiply-add ratio": m_ratio[worst_m],
                             "paper (3a) multiply-add ratio": m_ratio["paper (3a)"], "threshold": 1.0}),
        CLAIMS.claim("inception-same-receptive-field",
                     "With or without the reductions an output pixel sees the same input region",
                     all(a == b for a, b in fields.values()),
                     "receptive field (rows x columns of the input gradient of the central output pixel), "
                     "with / without: " + ", ".join(f"{k} {a[0]}x{a[1]} / {b[0]}x{b[1]}"
                                                    for k, (a, b) in fields.items()),
                     values={"fields that differ": sum(a != b for a, b in fields.values()),
                             "field with reductions (paper 3a)": fields["paper (3a)"][0][0],
                             "field without (paper 3a)": fields["paper (3a)"][1][0]}),
        CLAIMS.claim("aux-heads-enlarge-early-gradient",
                     f"GoogLeNet's {aux['n_heads']} auxiliary classifiers (weight {aux['head_weight']:g} each) "
                     f"enlarge the gradient that reaches the first convolution, on every one of "
                     f"{len(ratios)} batches",
                     all(r > 1 for r in ratios),
                     f"InceptionNet at its initial weights, {config.batch_size} {metrics['dataset']} images per "
                     f"batch: first-convolution gradient norm with / without the heads' losses: ratio "
                     f"{min(ratios):.3f}-{max(ratios):.3f} (mean {np.mean(ratios):.3f}); norm without "
                     f"{np.mean(aux['main_norm']):.4f}, with {np.mean(aux['with_aux_norm']):.4f}; main loss "
                     f"{np.mean(aux['main_loss']):.3f}, weighted auxiliary losses {np.mean(aux['aux_loss']):.3f}",
                     values={"smallest gradient ratio": min(ratios), "mean gradient ratio": float(np.mean(ratios)),
                             "threshold": 1.0}),
        CLAIMS.claim("densenet-bottleneck-slows-growth",
                     "DenseNet's 1x1 bottleneck slows the growth of a layer's multiply-adds with the concatenated "
                     "input width",
                     slope_b < slope_p,
                     f"dense block of {len(cin)} layers, k = {config.growth_rate}, input {cin[0]} -> {cin[-1]} "
                     f"channels at {config.dense_size}x{config.dense_size}: each added input channel costs "
                     f"{slope_b:,.0f} multiply-adds per image with the bottleneck, {slope_p:,.0f} without "
                     f"({slope_b / slope_p:.2f}x)",
                     values={"slope with bottleneck": slope_b, "slope without": slope_p,
                             "slope ratio": slope_b / slope_p, "threshold": 1.0}),
        CLAIMS.claim("densenet-bottleneck-cheaper-when-wide",
                     f"In a {len(cin)}-layer block the widest layer costs less with the bottleneck than without",
                     last_b < last_p,
                     f"last layer ({cin[-1]} input channels): {last_b / 1e6:.2f}M multiply-adds with, "
                     f"{last_p / 1e6:.2f}M without; the bottleneck is cheaper from "
                     + (f"{cheaper_from} input channels on" if cheaper_from else "no layer of this block")
                     + f" (first layer, {cin[0]} channels: {dense['bottleneck'][0] / 1e6:.2f}M with, "
                     f"{dense['plain'][0] / 1e6:.2f}M without); whole block {sum(dense['bottleneck']) / 1e6:.1f}M "
                     f"with, {sum(dense['plain']) / 1e6:.1f}M without",
                     values={"last layer with bottleneck": last_b, "last layer without": last_p,
                             "block with bottleneck": sum(dense["bottleneck"]), "block without": sum(dense["plain"])}),
    ]


register(ExperimentSpec(
    name=NAME,
    title="Bottlenecks and auxiliary classifiers: Inception's and DenseNet's 1x1 convolutions, GoogLeNet's extra heads",
    summary="Inception blocks with and without their 1x1 reductions (parameters, multiply-adds, receptive field), "
            "the first convolution's gradient with and without the auxiliary losses, and a dense block's "
            "multiply-adds per layer with and without the bottleneck.",
    config_cls=Config, run=run, check=check, plot=plot_bottlenecks,
    quick={"aux_batches": 2, "batch_size": 8, "dense_layers": 8},
    claims=CLAIMS,
    seeds=5,
))
