"""Receptive fields of convolution stacks: the analytic recursion against back-propagated footprints.

For every convolution and pooling layer of SimpleConvNet, DeepConvNet and a
few hand-built stacks (one 3x3, two and three stacked 3x3, one 5x5 and one
7x7 convolution, three strided 3x3 convolutions) the receptive field r and
the jump j (distance in input pixels between neighbouring output units) are
computed with r_out = r_in + (k - 1) * j_in and j_out = j_in * s, starting
from r = j = 1; the first unit's field starts at s_out = s_in - p * j_in.

The same numbers are then measured: the stack up to that layer is built from
trainlab's own layers with every weight a positive constant and zero bias, a
one-hot gradient is placed on the central output unit of channel 0, and the
bounding box of the non-zero input gradient is read off. Positive weights and
an all-ones input mean no two paths can cancel. Max pooling sends a window's
gradient to one input only, so its footprint depends on the data; the probe
uses average pooling of the same window and stride (the same geometry).

Everything here is deterministic (constant weights, no data): every seed
measures the same numbers.

Compared: analytic and empirical field size and position for every layer;
the weights of two (three) stacked 3x3 convolutions against one 5x5 (7x7)
convolution with the same field.

Reference: Saito, *Deep Learning from Scratch*, sec. 7.2-7.3 (padding, stride,
pooling) and 8.1 (the VGG-like DeepConvNet); Simonyan & Zisserman, 2015,
"Very Deep Convolutional Networks", sec. 2.3 (two 3x3 = one 5x5 with
18C^2 instead of 25C^2 weights); the VGG network in seed 001.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from trainlab.errors import ConfigError
from trainlab.experiments.base import BookValue, Claim, ClaimTable, ExperimentSpec, register
from trainlab.layers.activations import ReLU
from trainlab.layers.base import Layer, Sequential
from trainlab.layers.conv import Conv2d
from trainlab.layers.linear import Flatten
from trainlab.layers.pooling import AvgPool2d, MaxPool2d
from trainlab.models.cnn import DeepConvNet, SimpleConvNet
from trainlab.plots.receptive_field import plot_receptive_field
from trainlab.validation import check_int

NAME = "receptive-field"
OWNER = f"experiment {NAME}"

#: The claims ``check`` decides: key -> source (seed statements of the ledger, book sections, papers).
CLAIMS = ClaimTable(NAME, {
    "footprint-matches-recursion": "seed 003 (S003-21); book 7.2-7.3",
    "stacked-3x3-fewer-weights": "Simonyan & Zisserman, 2015, sec. 2.3; book 8.1 (DeepConvNet); "
        "the VGG network of seed 001",
    "pooling-widens-field": "seed 003 (S003-21); book 8.1",
})

#: Stacks drawn on the 28x28 picture: (stack, index of its spatial layer).
PICTURES = (("two 3x3", 1), ("three 3x3", 2), ("SimpleConvNet", 1), ("DeepConvNet", 2),
            ("DeepConvNet", 5), ("DeepConvNet", 8))


@dataclass(frozen=True)
class Config:
    #: Smallest side of the probe input; grown per stack until the central unit's field fits inside.
    canvas: int = 48
    #: Channels of the hand-built stacks (the weight counts are reported in units of C^2).
    channels: int = 4
    #: Side of the input on which the footprints are drawn (the models' own input size).
    picture_size: int = 28

    def __post_init__(self):
        check_int(OWNER, "canvas", self.canvas, low=8)
        check_int(OWNER, "channels", self.channels, low=1)
        if self.picture_size < 16:
            raise ConfigError(f"{OWNER}: picture_size must be >= 16 (DeepConvNet needs it), "
                              f"got {self.picture_size}")


def hand_stacks(C: int) -> dict[str, list[Layer]]:
    """The stacks the seeds and the VGG paper discuss, with C channels in and out."""
    rng = np.random.default_rng(0)  # the probe overwrites the weights; the seed only keeps runs identical

    def conv(k, s=1):
        return Conv2d(C, C, k, stride=s, bias=False, rng=rng)

    return {
        "one 3x3": [conv(3)],
        "two 3x3": [conv(3), ReLU(), conv(3)],
        "three 3x3": [conv(3), ReLU(), conv(3), ReLU(), conv(3)],
        "one 5x5": [conv(5)],
        "one 7x7": [conv(7)],
        "three 3x3 stride 2": [conv(3, 2), ReLU(), conv(3, 2), ReLU(), conv(3, 2)],
    }


def model_stacks() -> dict[str, list[Layer]]:
    """The spatial part (everything before Flatten) of the book's two CNNs, with input gradients on."""
    out = {}
    for name, cls in (("SimpleConvNet", SimpleConvNet), ("DeepConvNet", DeepConvNet)):
        layers = []
        for layer in cls(input_grad=True, seed=0).layers:
            if isinstance(layer, Flatten):
                break
            layers.append(layer)
        out[name] = layers
    return out


def describe(layer: Layer) -> str:
    (k, _), (s, _), (p, _) = layer.kernel_size, layer.stride, layer.padding
    kind = "conv" if isinstance(layer, Conv2d) else "max pool" if isinstance(layer, MaxPool2d) else "avg pool"
    return f"{kind} {k}x{k}" + (f" stride {s}" if s != 1 else "") + (f" pad {p}" if p else "")


def analytic(layers: list[Layer]) -> list[dict]:
    """r, j and the first unit's start after every conv/pool layer (square kernels)."""
    r, j, start = 1, 1, 0
    rows = []
    for i, layer in enumerate(layers):
        if not hasattr(layer, "kernel_size"):
            continue  # ReLU, Dropout: element-wise, the field is unchanged
        (k, _), (s, _), (p, _) = layer.kernel_size, layer.stride, layer.padding
        start -= p * j
        r += (k - 1) * j
        j *= s
        rows.append({"index": i, "layer": describe(layer), "kernel": k, "stride": s, "padding": p,
                     "r": r, "j": j, "start": start})
    return rows


def spatial_sizes(layers: list[Layer], size: int) -> list[int] | None:
    """Output side after each layer for a size x size input, or None when a layer does not fit."""
    sizes = []
    for layer in layers:
        if hasattr(layer, "kernel_size"):
            (k, _), (s, _), (p, _) = layer.kernel_size, layer.stride, layer.padding
            span = size + 2 * p - k
            if span < 0 or (isinstance(layer, Conv2d) and span % s):
                return None  # trainlab's Conv2d refuses fractional output sizes
            size = span // s + 1
        sizes.append(size)
    return sizes


def probe_copy(layers: list[Layer]) -> Sequential:
    """A copy with constant positive weights, zero biases and average instead of max pooling."""
    out = []
    for layer in layers:
        if isinstance(layer, MaxPool2d):
            out.append(AvgPool2d(layer.kernel_size, layer.stride, layer.padding))
            continue
        layer = copy.deepcopy(layer)
        if isinstance(layer, Conv2d):
            layer.input_grad = True
            FN, C, FH, FW = layer.weight.data.shape
            # 1 / fan-in keeps an all-ones input at about one through any depth.
            layer.weight.data[...] = 1.0 / (C * FH * FW)
            if layer.bias is not None:
                layer.bias.data[...] = 0.0
        out.append(layer)
    return Sequential(*out)


def footprint(layers: list[Layer], size: int) -> tuple[np.ndarray, int]:
    """|d out[0, 0, o, o] / d x| summed over input channels (size, size), for the central unit o."""
    net = probe_copy(layers)
    C = next(lay.in_channels for lay in layers if isinstance(lay, Conv2d))
    x = np.ones((1, C, size, size), np.float32)
    out = net.forward(x, train=True)
    o = out.shape[2] // 2
    dout = np.zeros(out.shape, np.float32)
    dout[0, 0, o, o] = 1.0
    dx = net.backward(dout)
    return np.abs(np.asarray(dx, np.float64)).sum(axis=(0, 1)), o


def extent(grad: np.ndarray) -> dict:
    """Bounding box of the non-zero entries of a 2-D array."""
    rows = np.flatnonzero((grad != 0).any(axis=1))
    cols = np.flatnonzero((grad != 0).any(axis=0))
    if rows.size == 0:
        return {"height": 0, "width": 0, "row": None, "col": None}
    return {"height": int(rows[-1] - rows[0] + 1), "width": int(cols[-1] - cols[0] + 1),
            "row": int(rows[0]), "col": int(cols[0])}


def probe_size(layers: list[Layer], row: dict, smallest: int) -> int:
    """The smallest input side >= ``smallest`` that every layer accepts and that holds the central field."""
    for size in range(smallest, smallest + 512):
        sizes = spatial_sizes(layers[:row["index"] + 1], size)
        if sizes is None or sizes[-1] < 1:
            continue
        first = row["start"] + (sizes[-1] // 2) * row["j"]
        if first >= 0 and first + row["r"] <= size:
            return size
    raise ConfigError(f"no probe input between {smallest} and {smallest + 511} pixels fits {row['layer']}")


def measure_stack(layers: list[Layer], config: Config) -> list[dict]:
    rows = analytic(layers)
    for row in rows:
        size = probe_size(layers, row, config.canvas)
        grad, o = footprint(layers[:row["index"] + 1], size)
        box = extent(grad)
        expected = row["start"] + o * row["j"]
        row.update(probe_size=size, unit=o, expected_first=expected, empirical=box)
    return rows


def run(config: Config, seed: int = 0) -> dict:
    """Analytic and measured fields of every stack; deterministic (constant weights, no data)."""
    stacks = {**model_stacks(), **hand_stacks(config.channels)}
    out: dict = {"stacks": {}, "pictures": [], "weights": {}}
    for name, layers in stacks.items():
        out["stacks"][name] = measure_stack(layers, config)
    for name, k in (("one 3x3", 3), ("two 3x3", 3), ("three 3x3", 3), ("one 5x5", 5), ("one 7x7", 7)):
        convs = [lay for lay in stacks[name] if isinstance(lay, Conv2d)]
        n = sum(c.weight.data.size for c in convs)
        out["weights"][name] = {"weights": int(n), "per_C2": n / config.channels ** 2,
                                "field": out["stacks"][name][-1]["empirical"]["height"]}
    P = config.picture_size
    for name, index in PICTURES:
        layers = stacks[name]
        spatial = [i for i, lay in enumerate(layers) if hasattr(lay, "kernel_size")]
        upto = spatial[min(index, len(spatial) - 1)]
        grad, o = footprint(layers[:upto + 1], P)
        row = next(r for r in out["stacks"][name] if r["index"] == upto)
        first = row["start"] + o * row["j"]
        out["pictures"].append({
            "stack": name, "layer": row["layer"], "position": spatial.index(upto) + 1, "r": row["r"],
            "unit": o, "first": first, "covered": int((grad > 0).sum()),
            "footprint": np.round(grad / grad.max(), 4).tolist()})
    out["picture_size"] = P
    return out


def matches(row: dict) -> bool:
    """Whether the measured footprint has the analytic size and starts where the analytic field does."""
    box = row["empirical"]
    return box["height"] == box["width"] == row["r"] and box["row"] == box["col"] == row["expected_first"]


def check(metrics: dict, config: Config) -> list[Claim]:
    stacks = metrics["stacks"]
    rows = [(name, r) for name, rs in stacks.items() for r in rs]
    bad = [(name, r) for name, r in rows if not matches(r)]
    finals = "; ".join(f"{n}: r = {rs[-1]['r']}, j = {rs[-1]['j']}" for n, rs in stacks.items())
    claims = [CLAIMS.claim(
        "footprint-matches-recursion",
        "The back-propagated footprint equals the analytic field r = r_in + (k-1) j_in (size and position) "
        "for every convolution and pooling layer",
        not bad and bool(rows),
        f"{len(rows) - len(bad)} of {len(rows)} layers in {len(stacks)} stacks match; final fields: {finals}"
        + ("" if not bad else "; mismatched: " + ", ".join(
            f"{n} {r['layer']} (analytic {r['r']} at {r['expected_first']}, measured "
            f"{r['empirical']['height']}x{r['empirical']['width']} at {r['empirical']['row']})" for n, r in bad)),
        values={"layers matching the recursion": len(rows) - len(bad), "layers": len(rows),
                **{f"{n}: final field": stacks[n][-1]["r"] for n in ("SimpleConvNet", "DeepConvNet")},
                **{f"{n}: final field measured": stacks[n][-1]["empirical"]["height"]
                   for n in ("SimpleConvNet", "DeepConvNet")}})]
    w = metrics["weights"]
    two, five, three, seven = w["two 3x3"], w["one 5x5"], w["three 3x3"], w["one 7x7"]
    claims.append(CLAIMS.claim(
        "stacked-3x3-fewer-weights",
        "Two stacked 3x3 convolutions see a 5x5 field with 18C\u00b2 weights instead of 25C\u00b2; "
        "three see 7x7 with 27C\u00b2 instead of 49C\u00b2",
        two["field"] == five["field"] == 5 and three["field"] == seven["field"] == 7
        and two["weights"] < five["weights"] and three["weights"] < seven["weights"],
        f"measured fields: two 3x3 {two['field']}, one 5x5 {five['field']}, three 3x3 {three['field']}, "
        f"one 7x7 {seven['field']}; weights with C = {config.channels}: {two['per_C2']:g}C\u00b2 vs "
        f"{five['per_C2']:g}C\u00b2 and {three['per_C2']:g}C\u00b2 vs {seven['per_C2']:g}C\u00b2",
        values={"two 3x3: field": two["field"], "one 5x5: field": five["field"], "three 3x3: field": three["field"],
                "one 7x7: field": seven["field"], "two 3x3: weights / C^2": two["per_C2"],
                "one 5x5: weights / C^2": five["per_C2"], "three 3x3: weights / C^2": three["per_C2"],
                "one 7x7: weights / C^2": seven["per_C2"]}))
    pics = {(p["stack"], p["position"]): p for p in metrics["pictures"]}
    simple = pics[("SimpleConvNet", 2)]
    deep = max((p for p in metrics["pictures"] if p["stack"] == "DeepConvNet"), key=lambda p: p["position"])
    P = metrics["picture_size"]
    claims.append(CLAIMS.claim(
        "pooling-widens-field",
        "Pooling doubles the jump, so DeepConvNet's last pooled units see the whole image, "
        "while SimpleConvNet's pooled units see a small patch",
        deep["covered"] == P * P and simple["covered"] < P * P / 4,
        f"on a {P}x{P} input: DeepConvNet after its last pool has r = {deep['r']} (jump "
        f"{stacks['DeepConvNet'][-1]['j']}) and its central unit depends on {deep['covered']} of {P * P} pixels; "
        f"SimpleConvNet after its pool has r = {simple['r']} and depends on {simple['covered']} pixels",
        values={"DeepConvNet: pixels seen by a last pooled unit": deep["covered"],
                "SimpleConvNet: pixels seen by a pooled unit": simple["covered"], "image pixels": P * P}))
    return claims


def book(metrics: dict, config: Config) -> list[BookValue]:
    s, w = metrics["stacks"], metrics["weights"]
    return [
        BookValue("field of two stacked 3x3 convolutions", 5, w["two 3x3"]["field"],
                  "VGG paper sec. 2.3 (the book's DeepConvNet, sec. 8.1, stacks 3x3 convolutions for this reason)"),
        BookValue("field of three stacked 3x3 convolutions", 7, w["three 3x3"]["field"], "VGG paper sec. 2.3"),
        BookValue("weights of three 3x3 vs one 7x7 (units of C\u00b2)", "27 vs 49",
                  f"{w['three 3x3']['per_C2']:g} vs {w['one 7x7']['per_C2']:g}", "VGG paper sec. 2.3"),
        BookValue("DeepConvNet: field of the last pooled units", None, s["DeepConvNet"][-1]["r"],
                  "the book gives the architecture (fig. 8-1), not its receptive field"),
    ]


register(ExperimentSpec(
    name=NAME,
    title="Receptive fields: the recursion r = r + (k-1) j against back-propagated footprints",
    summary="Receptive field and jump of every layer of SimpleConvNet, DeepConvNet and stacked 3x3 convolutions, "
            "computed analytically and measured by back-propagating one output unit through trainlab's layers.",
    config_cls=Config, run=run, check=check, plot=plot_receptive_field, book=book,
    quick={},
    claims=CLAIMS,
))
