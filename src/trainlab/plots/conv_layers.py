"""Figures of the conv-layers experiment: the channel sum, output size against stride, pooling and its MACs."""

from __future__ import annotations

import numpy as np

from trainlab.plots.style import pyplot, save, seed_bars, seeds_note


def _image(ax, img, title):
    img = np.asarray(img)
    lim = float(np.abs(img).max()) or 1.0
    ax.imshow(img, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


def _pairs_figure(plt, metrics, out_dir):
    """The first seed's (in, out) pairs: each kernel's convolution, and their sums against Conv2d's output."""
    c = metrics["channels"]
    ex = c["example"]
    C, F = c["in_channels"], c["out_channels"]
    fig, axes = plt.subplots(C + 2, F + 1, figsize=(2.0 * (F + 1), 1.9 * (C + 2)), squeeze=False)
    for i in range(C):
        _image(axes[i, 0], ex["input"][i], f"input channel {i}")
        for f in range(F):
            _image(axes[i, f + 1], ex["pairs"][f][i], f"in {i} * kernel ({f}, {i})")
    for f in range(F):
        assembled = np.sum(ex["pairs"][f], axis=0) + ex["bias"][f]
        _image(axes[C, f + 1], assembled, f"sum over inputs (+ bias): out {f}")
        _image(axes[C + 1, f + 1], ex["output"][f], f"Conv2d output channel {f}")
    for ax in (axes[C, 0], axes[C + 1, 0]):
        ax.axis("off")
    axes[C, 0].text(0.0, 0.5, f"{C} x {F} = {c['pairs']}\nsingle-channel\nconvolutions", fontsize=9,
                    transform=axes[C, 0].transAxes, va="center")
    axes[C + 1, 0].text(0.0, 0.5, f"max |difference|\n{c['max_abs_diff']:.1e}", fontsize=9,
                        transform=axes[C + 1, 0].transAxes, va="center")
    fig.suptitle(f"A Conv2d ({C} -> {F} channels, {c['weight_shape'][2]}x{c['weight_shape'][3]}) is "
                 f"{c['pairs']} 2-D convolutions summed over the input channels (first seed, first image)")
    return save(fig, out_dir, "channel-pairs")


def plot_conv_layers(runs: list[dict], config, out_dir):
    metrics = runs[0]
    plt = pyplot()
    paths = [_pairs_figure(plt, metrics, out_dir)]

    fig, axes = plt.subplots(1, 4, figsize=(20, 4.6), gridspec_kw={"width_ratios": [1.1, 1, 0.9, 1.2]})
    ax = axes[0]
    c = [m["channels"] for m in runs]
    F = c[0]["out_channels"]
    labels = [f"out {f}" for f in range(F)]
    seed_bars(ax, labels, [[r["max_abs_diff_per_output"][f] for r in c] for f in range(F)], colors="tab:blue")
    left_out = float(np.mean([r["max_abs_diff_one_channel_left_out"] for r in c]))
    ax.axhline(left_out, color="tab:red", linestyle="--", label=f"one input channel left out: {left_out:.2f}")
    ax.axhline(np.finfo(np.float64).eps, color="0.4", linestyle=":", label="float64 eps")
    ax.set_yscale("log")
    ax.set_ylabel("max |Conv2d - sum of pair convolutions|")
    note = seeds_note(runs).replace("; faint: each seed", ";\nwhiskers: min-max")
    ax.set_title(f"Conv2d against the sum of its {c[0]['pairs']} pair convolutions{note}")
    ax.legend(loc="center right", fontsize=7)

    ax = axes[1]
    s = metrics["stride"]
    ax.plot(s["strides"], s["formula"], "-", color="0.5", label="(H + 2P - K) / S + 1")
    ax.plot(s["strides"], s["measured"], "o", color="tab:blue", markersize=8, label="measured (Conv2d forward)")
    for st, side in zip(s["strides"], s["measured"]):
        ax.annotate(f"{side}x{side}", (st, side), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_xticks(s["strides"])
    ax.set_xlabel("stride S")
    ax.set_ylabel("output side")
    ax.set_title(f"{s['kernel']}x{s['kernel']} conv, padding {s['padding']}, on {s['input']}x{s['input']}\n"
                 "(the same for every seed)")
    ax.legend()

    ax = axes[2]
    p = metrics["pooling"]
    ex = p["example"]
    n = len(ex["input"])
    ax.imshow(np.asarray(ex["input"]), cmap="RdBu_r", interpolation="nearest", extent=(0, n, n, 0))
    P = p["pool"]
    for (i, j), v in np.ndenumerate(np.asarray(ex["output"])):
        ax.add_patch(plt.Rectangle((j * P, i * P), P, P, fill=False, edgecolor="k", linewidth=1.2))
        ax.text(j * P + P / 2, i * P + P / 2, f"{v:.2f}", ha="center", va="center", fontsize=8,
                bbox={"facecolor": "w", "alpha": 0.7, "pad": 1, "edgecolor": "none"})
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    ax.set_title(f"{P}x{P} max pool: each window's maximum (first seed)\n{p['input_shape'][2]}x"
                 f"{p['input_shape'][3]} -> {p['max']['output_shape'][2]}x{p['max']['output_shape'][3]}, "
                 f"{p['input_pixels'] // p['output_pixels']}x fewer pixels")

    ax = axes[3]
    m = metrics["macs"]
    nets = list(m)
    x = np.arange(len(nets))
    for k, (kind, color) in enumerate((("with pooling", "tab:green"), ("without pooling", "tab:gray"))):
        values = [m[n][kind]["total"] / 1e6 for n in nets]
        bars = ax.bar(x + (k - 0.5) * 0.38, values, width=0.38, color=color, label=kind)
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_xticks(x, [f"{n}\n({m[n]['ratio']:.1f}x more without)" for n in nets])
    ax.set_yscale("log")
    ax.set_ylabel("million multiply-adds per image")
    ax.set_title("Pooling cuts the computation of every later layer\n(the same for every seed)")
    ax.legend()
    fig.suptitle("What a convolution layer computes: channel sums, output size against stride, pooling")
    paths.append(save(fig, out_dir, "conv-layers"))
    return paths
