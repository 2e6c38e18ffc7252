"""Figures of the receptive-field experiment."""

from __future__ import annotations

import numpy as np

from trainlab.plots.style import pyplot, save


def plot_receptive_field(runs: list[dict], config, out_dir):
    metrics = runs[0]
    plt = pyplot()
    paths = []
    stacks = metrics["stacks"]
    models = [n for n in stacks if n in ("SimpleConvNet", "DeepConvNet")]
    others = [n for n in stacks if n not in models]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 5.5), gridspec_kw={"width_ratios": [3, 2]})
    for ax, names in ((ax1, models), (ax2, others)):
        for k, name in enumerate(names):
            rows = stacks[name]
            # A small sideways shift keeps stacks with equal fields (one, two, three 3x3) apart.
            depth = np.arange(1, len(rows) + 1) + 0.06 * (k - (len(names) - 1) / 2)
            line, = ax.plot(depth, [r["r"] for r in rows], ".-", linewidth=1.5,
                            label=f"{name}: analytic (final r = {rows[-1]['r']}, jump {rows[-1]['j']})")
            ax.plot(depth, [r["empirical"]["height"] for r in rows], "o", color=line.get_color(), markersize=7,
                    markerfacecolor="none", label=f"{name}: measured")
        ax.set_xlabel("convolution / pooling layer (1 = first)")
        ax.set_ylabel("receptive field (input pixels per side)")
        ax.legend(fontsize=7)
    ax1.axhline(metrics["picture_size"], color="0.4", linestyle=":", label=f"image side ({metrics['picture_size']} px)")
    for r, x in zip(stacks["DeepConvNet"], range(1, len(stacks["DeepConvNet"]) + 1)):
        ax1.annotate(r["layer"].replace(" stride 2", ""), (x, r["r"]), textcoords="offset points", xytext=(4, -10),
                     fontsize=6, color="0.3")
    ax1.legend(fontsize=7)
    ax1.set_title("The book's CNNs: every 2x2 pool doubles the jump, so later 3x3 convs add more")
    ax2.set_title("Stacks: two 3x3 = one 5x5, three 3x3 = one 7x7")
    fig.suptitle("Receptive field per layer: r = r_in + (k-1) j_in (lines) against the back-propagated "
                 "footprint of one output unit (circles); deterministic, the same for every seed")
    paths.append(save(fig, out_dir, "receptive-field-by-layer"))

    pics = metrics["pictures"]
    P = metrics["picture_size"]
    fig, axes = plt.subplots(1, len(pics), figsize=(2.9 * len(pics), 3.4), squeeze=False)
    for ax, p in zip(axes.flat, pics):
        grad = np.array(p["footprint"])
        ax.imshow(grad, cmap="viridis", vmin=0, vmax=1)
        lo, hi = max(p["first"], 0), min(p["first"] + p["r"], P)
        # The analytic field, clipped to the image (its own border when it is larger).
        ax.add_patch(plt.Rectangle((lo - 0.5, lo - 0.5), hi - lo, hi - lo, fill=False, edgecolor="tab:red",
                                   linewidth=1.2, linestyle="--"))
        ax.set_title(f"{p['stack']}\nlayer {p['position']} ({p['layer']}): r = {p['r']}", fontsize=9)
        ax.set_xlabel("input column")
        ax.set_ylabel("input row")
        ax.grid(False)
    fig.suptitle(f"|d unit / d input| of the central output unit on a {P}x{P} input (constant positive weights, "
                 "max pools probed as average pools; "
                 "dashed: analytic field; the same for every seed)")
    paths.append(save(fig, out_dir, "footprints"))
    return paths
