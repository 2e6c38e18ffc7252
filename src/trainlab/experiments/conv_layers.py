"""What a convolution layer computes: C_in x C_out 2-D convolutions, output size against stride, pooling.

1. A Conv2d with C_in = 3 input and C_out = 4 output channels, random weights,
   bias and input (float64), against the same output assembled from
   C_in x C_out = 12 separate single-channel 2-D cross-correlations (a
   window view of the zero-padded channel times one 3x3 kernel, summed over
   the input channels, plus the bias): the layer is those 12 convolutions.
2. A 3x3 convolution (padding 1) with strides 1 to 4 on a 25x25 map: the
   output sides measured by running it, against (H + 2P - K) / S + 1.
3. A 2x2 max pool and a 2x2 average pool (stride 2) on a random 24x24 map:
   the output has a quarter of the pixels, and each output pixel is the
   largest (the mean) of its own 2x2 window, which the windows tile
   without overlap.
4. Multiply-adds (:func:`trainlab.models.cnn.count_macs`) of the book's
   SimpleConvNet and DeepConvNet against the same layers without their max
   pools (the first Linear layer widened to the larger flattened map):
   every layer after a pool works on a map a quarter of the size.

Only the first measurement draws random numbers (from the seed); the output
sizes and multiply-adds are the same for every seed.

Reference: Saito, *Deep Learning from Scratch*, sec. 7.2.3-7.2.7 (padding,
stride, channels, batches), 7.3 (pooling); seed 001 and seed 003 (convolution
and pooling layers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainlab.errors import ConfigError
from trainlab.experiments.base import BookValue, Claim, ClaimTable, ExperimentSpec, register
from trainlab.experiments.common import settings
from trainlab.layers.base import Sequential
from trainlab.layers.conv import Conv2d
from trainlab.layers.linear import Flatten, Linear
from trainlab.layers.pooling import AvgPool2d, MaxPool2d
from trainlab.models.cnn import DeepConvNet, SimpleConvNet, count_macs
from trainlab.plots.conv_layers import plot_conv_layers
from trainlab.validation import check_int, check_positive, check_real

NAME = "conv-layers"
OWNER = f"experiment {NAME}"

#: The claims ``check`` decides: key -> source (seed statements of the ledger, book sections, papers).
CLAIMS = ClaimTable(NAME, {
    "channel-pairs": "seed 003 (S003-19); book 7.2.6",
    "stride-shrinks-output": "seed 003 (S003-22); book 7.2.4",
    "pooling-shrinks-map": "seed 003 (S003-20); book 7.3",
    "pooling-cuts-macs": "seed 001 (S001-25); book 7.3",
})

#: The networks whose multiply-adds are counted with and without their pools.
NETS = {"SimpleConvNet": SimpleConvNet, "DeepConvNet": DeepConvNet}


@dataclass(frozen=True)
class Config:
    in_channels: int = 3
    out_channels: int = 4
    kernel_size: int = 3
    #: Side and batch of the random input of the channel check.
    size: int = 10
    batch: int = 2
    #: Largest |Conv2d - sum of single convolutions| allowed, relative to the largest |output| (float64).
    tolerance: float = 1e-12
    #: Side of the map the strides are tried on, and the strides (each must divide side + 2 * padding - kernel,
    #: here 25 + 2 - 3 = 24).
    stride_size: int = 25
    strides: tuple[int, ...] = (1, 2, 3, 4)
    #: Side of the map the pools run on (even), and the pool window.
    pool_size: int = 24
    pool: int = 2

    def __post_init__(self):
        check_positive(OWNER, **settings(self, "in_channels", "out_channels", "batch"))
        check_int(OWNER, "kernel_size", self.kernel_size, low=1)
        if self.kernel_size % 2 == 0:
            raise ConfigError(f"{OWNER}: kernel_size must be odd (padding kernel_size // 2 keeps the size), "
                              f"got {self.kernel_size}")
        check_int(OWNER, "size", self.size, low=self.kernel_size)
        check_real(OWNER, "tolerance", self.tolerance, low=0.0, low_open=True)
        check_int(OWNER, "stride_size", self.stride_size, low=3)
        if len(self.strides) < 2:
            raise ConfigError(f"{OWNER}: strides must list at least two strides to compare, got {self.strides!r}")
        span = self.stride_size + 2 * (self.kernel_size // 2) - self.kernel_size
        for i, s in enumerate(self.strides):
            check_int(OWNER, f"strides[{i}]", s, low=1)
            if span % s:
                # trainlab's Conv2d refuses an output size that is not a whole number.
                raise ConfigError(f"{OWNER}: strides[{i}]={s} does not divide stride_size + 2 * padding - "
                                  f"kernel_size = {span}")
        check_int(OWNER, "pool", self.pool, low=2)
        check_int(OWNER, "pool_size", self.pool_size, low=self.pool)


# ---- 1. C_in x C_out convolutions --------------------------------------------------------


def single_channel_conv(x: np.ndarray, kernel: np.ndarray, padding: int) -> np.ndarray:
    """2-D cross-correlation of one channel: x (N, H, W), kernel (K, K) -> (N, OH, OW), stride 1."""
    padded = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, kernel.shape, axis=(1, 2))  # (N, OH, OW, K, K)
    return np.einsum("nhwij,ij->nhw", windows, kernel)


def channel_pairs(config: Config, rng: np.random.Generator) -> dict:
    """A Conv2d's output against the sum over input channels of one 2-D convolution per (in, out) pair."""
    C, F, K = config.in_channels, config.out_channels, config.kernel_size
    pad = K // 2
    conv = Conv2d(C, F, K, padding=pad, dtype=np.float64, rng=rng)
    conv.weight.data[...] = rng.normal(size=conv.weight.data.shape)
    conv.bias.data[...] = rng.normal(size=conv.bias.data.shape)
    x = rng.normal(size=(config.batch, C, config.size, config.size))
    y = np.asarray(conv.forward(x, train=False))                              # (N, F, OH, OW)
    W, b = conv.weight.data, conv.bias.data
    # The 2-D convolution of every (input channel, output channel) pair, then the sum over input channels.
    pairs = np.stack([np.stack([single_channel_conv(x[:, c], W[f, c], pad) for c in range(C)])
                      for f in range(F)])                                     # (F, C, N, OH, OW)
    assembled = pairs.sum(axis=1).transpose(1, 0, 2, 3) + b[None, :, None, None]
    per_out = np.abs(y - assembled).max(axis=(0, 2, 3))
    # A sum of fewer pairs (one input channel left out) is far off: the check can tell them apart.
    missing = pairs[:, 1:].sum(axis=1).transpose(1, 0, 2, 3) + b[None, :, None, None]
    return {"in_channels": C, "out_channels": F, "pairs": int(pairs.shape[0] * pairs.shape[1]),
            "weight_shape": list(W.shape), "output_shape": list(y.shape),
            "max_abs_diff": float(per_out.max()), "max_abs_diff_per_output": per_out.tolist(),
            "max_abs_output": float(np.abs(y).max()),
            "max_abs_diff_one_channel_left_out": float(np.abs(y - missing).max()),
            "example": {"input": x[0].round(4).tolist(), "kernels": W.round(4).tolist(),
                        "pairs": pairs[:, :, 0].round(4).tolist(), "bias": b.tolist(),
                        "output": y[0].round(4).tolist()}}


# ---- 2. stride ----------------------------------------------------------------------------


def stride_sizes(config: Config, rng: np.random.Generator) -> dict:
    """Output side of a K x K convolution (padding K // 2) for each stride: measured and by the formula."""
    K, H = config.kernel_size, config.stride_size
    pad = K // 2
    x = rng.normal(size=(1, 1, H, H))
    measured, formula = [], []
    for s in config.strides:
        conv = Conv2d(1, 1, K, stride=s, padding=pad, dtype=np.float64, rng=rng)
        measured.append(int(np.asarray(conv.forward(x, train=False)).shape[-1]))
        formula.append((H + 2 * pad - K) / s + 1)
    return {"input": H, "kernel": K, "padding": pad, "strides": list(config.strides), "measured": measured,
            "formula": formula}


# ---- 3. pooling -------------------------------------------------------------------------------


def pooling(config: Config, rng: np.random.Generator) -> dict:
    """Max and average pools (window = stride) against the max and mean of each window, found by reshaping."""
    P, H = config.pool, config.pool_size
    x = rng.normal(size=(2, 3, H, H))
    n = H // P
    tiles = x[:, :, :n * P, :n * P].reshape(2, 3, n, P, n, P)                  # each window on axes 3, 5
    out = {"input_shape": list(x.shape), "pool": P}
    for name, layer, reduce in (("max", MaxPool2d(P), np.max), ("average", AvgPool2d(P), np.mean)):
        y = np.asarray(layer.forward(x, train=False))
        out[name] = {"output_shape": list(y.shape), "max_abs_diff": float(np.abs(y - reduce(tiles, axis=(3, 5))).max())}
    out["input_pixels"] = H * H
    out["output_pixels"] = int(np.prod(out["max"]["output_shape"][2:]))
    out["example"] = {"input": x[0, 0, :8, :8].round(3).tolist(),
                      "output": np.asarray(MaxPool2d(P).forward(x[:1, :1, :8, :8], train=False))[0, 0]
                      .round(3).tolist()}
    return out


# ---- 4. multiply-adds with and without pooling -----------------------------------------------


def without_pooling(model) -> Sequential:
    """The model's layers without its max pools; the first Linear after Flatten widened to the larger map."""
    layers = [layer for layer in model.layers if not isinstance(layer, MaxPool2d)]
    at = next(i for i, layer in enumerate(layers) if isinstance(layer, Flatten))
    probe = Sequential(*layers[:at + 1]).forward(np.zeros((1, 1, 28, 28), np.float32), train=False)
    old = layers[at + 1]
    layers[at + 1] = Linear(int(probe.shape[1]), old.out_features, rng=np.random.default_rng(0))
    return Sequential(*layers)


def macs(model, shape=(1, 28, 28)) -> dict:
    """Multiply-adds of one image (convolutions and Linear layers) and the number of max pools."""
    return {"total": int(count_macs(model, shape)), "pools": sum(isinstance(m, MaxPool2d) for m in model.modules())}


def pooling_macs() -> dict:
    out = {}
    for name, cls in NETS.items():
        model = cls(seed=0)
        out[name] = {"with pooling": macs(model), "without pooling": macs(without_pooling(model))}
        out[name]["ratio"] = out[name]["without pooling"]["total"] / out[name]["with pooling"]["total"]
    return out


def run(config: Config, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"channels": channel_pairs(config, rng), "stride": stride_sizes(config, rng),
            "pooling": pooling(config, rng), "macs": pooling_macs()}


def check(metrics: dict, config: Config) -> list[Claim]:
    c, s, p, m = metrics["channels"], metrics["stride"], metrics["pooling"], metrics["macs"]
    limit = config.tolerance * max(1.0, c["max_abs_output"])
    claims = [CLAIMS.claim(
        "channel-pairs",
        f"A convolution layer with C_in = {c['in_channels']} and C_out = {c['out_channels']} performs "
        f"C_in x C_out = {c['in_channels'] * c['out_channels']} 2-D convolutions: its output equals, channel "
        f"by channel, the sum over the input channels of one single-channel convolution per (in, out) pair, "
        f"plus the bias (max |difference| <= {config.tolerance:g} x max(1, max |output|))",
        c["pairs"] == c["in_channels"] * c["out_channels"] and c["max_abs_diff"] <= limit,
        f"{c['pairs']} single-channel convolutions of weight {c['weight_shape']} assembled into "
        f"{c['output_shape']}: max |Conv2d - assembled| {c['max_abs_diff']:.2e} (per output channel "
        + ", ".join(f"{d:.1e}" for d in c["max_abs_diff_per_output"])
        + f"; outputs up to {c['max_abs_output']:.1f}); leaving one input channel out of the sum gives "
        f"{c['max_abs_diff_one_channel_left_out']:.2f}",
        values={"max |Conv2d - sum of pair convolutions|": c["max_abs_diff"], "allowed": limit,
                "with one input channel left out": c["max_abs_diff_one_channel_left_out"],
                "pair convolutions": c["pairs"]})]
    shrinking = all(b < a for a, b in zip(s["measured"], s["measured"][1:]))
    as_formula = all(a == b for a, b in zip(s["measured"], s["formula"]))
    claims.append(CLAIMS.claim(
        "stride-shrinks-output",
        f"A larger stride gives a smaller output: a {s['kernel']}x{s['kernel']} convolution (padding "
        f"{s['padding']}) on a {s['input']}x{s['input']} map, strides {', '.join(map(str, s['strides']))}, gives "
        f"strictly smaller sides, (H + 2P - K) / S + 1 each",
        shrinking and as_formula,
        "output side by stride: " + ", ".join(f"{st}: {a} (formula {b:g})"
                                              for st, a, b in zip(s["strides"], s["measured"], s["formula"])),
        values={f"output side, stride {st}": a for st, a in zip(s["strides"], s["measured"])}))
    P = p["pool"]
    ratio = p["input_pixels"] / p["output_pixels"]
    claims.append(CLAIMS.claim(
        "pooling-shrinks-map",
        f"A {P}x{P} pooling layer (stride {P}) shrinks the feature map {P * P}-fold, merging each {P}x{P} "
        f"window of pixels into one: its maximum (max pool) or mean (average pool)",
        ratio == P * P and p["max"]["max_abs_diff"] == 0.0 and p["average"]["max_abs_diff"] <= 1e-12,
        f"{p['input_shape']} -> {p['max']['output_shape']} ({p['input_pixels']} -> {p['output_pixels']} pixels "
        f"per channel, {ratio:g}x fewer); max |max pool - window maximum| {p['max']['max_abs_diff']:.1e}, "
        f"max |average pool - window mean| {p['average']['max_abs_diff']:.1e}",
        values={"pixels in / pixels out": ratio, "max |max pool - window max|": p["max"]["max_abs_diff"],
                "max |average pool - window mean|": p["average"]["max_abs_diff"]}))
    claims.append(CLAIMS.claim(
        "pooling-cuts-macs",
        "Pooling reduces a CNN's computation: SimpleConvNet and DeepConvNet need fewer multiply-adds per image "
        "with their max pools than the same layers without them",
        all(r["with pooling"]["total"] < r["without pooling"]["total"] for r in m.values()),
        "; ".join(f"{n}: {r['with pooling']['total']:,} MACs with {r['with pooling']['pools']} pool(s), "
                  f"{r['without pooling']['total']:,} without ({r['ratio']:.2f}x)" for n, r in m.items()),
        values={**{f"{n}: MACs with pooling": r["with pooling"]["total"] for n, r in m.items()},
                **{f"{n}: MACs without pooling": r["without pooling"]["total"] for n, r in m.items()}}))
    return claims


def book(metrics: dict, config: Config) -> list[BookValue]:
    s = metrics["stride"]
    i = s["strides"].index(2) if 2 in s["strides"] else None
    rows = []
    if i is not None:
        rows.append(BookValue(f"output side of a {s['kernel']}x{s['kernel']} conv, stride 2, padding "
                              f"{s['padding']}, on {s['input']}x{s['input']}", s["formula"][i], s["measured"][i],
                              "book 7.2.4: OH = (H + 2P - FH) / S + 1"))
    p = metrics["pooling"]
    rows.append(BookValue(f"{p['pool']}x{p['pool']} max pool, stride {p['pool']}: pixels in per pixel out", 4,
                          p["input_pixels"] / p["output_pixels"], "book 7.3, figure 7-14 (a 4x4 map to 2x2)"))
    return rows


register(ExperimentSpec(
    name=NAME,
    title="What a convolution layer computes: C_in x C_out convolutions, stride and pooling",
    summary="A Conv2d against the sum of its single-channel convolutions, output sides for strides 1 to 4, "
            "max and average pooling against window maxima and means, and the multiply-adds pooling saves "
            "in the book's two CNNs.",
    config_cls=Config, run=run, check=check, plot=plot_conv_layers, book=book,
    quick={}, claims=CLAIMS, seeds=5,
))
