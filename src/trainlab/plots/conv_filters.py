"""Figures of the conv-filters experiment."""

from __future__ import annotations

import numpy as np

from trainlab.plots.style import pyplot, save, seed_bars, seed_lines, seeds_note


def _show(ax, img, title, *, signed=False, fontsize=9):
    img = np.asarray(img)
    if signed:
        lim = float(np.abs(img).max()) or 1.0
        ax.imshow(img, cmap="RdBu_r", vmin=-lim, vmax=lim)
    else:
        ax.imshow(img, cmap="gray_r" if img.min() >= 0 else "gray")
    ax.set_title(title, fontsize=fontsize)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


def _filter_grid(fig, gs, col0, filters, corr, title):
    """30 filters in a 5 x 6 grid, each scaled to its own range (the book's fig. 7-24 does the same)."""
    head = fig.add_subplot(gs[0, col0:col0 + 6])
    head.axis("off")
    head.text(0.5, 0.2, title, ha="center", va="bottom", fontsize=10, transform=head.transAxes)
    for k, (w, c) in enumerate(zip(filters, corr)):
        ax = fig.add_subplot(gs[1 + k // 6, col0 + k % 6])
        ax.imshow(np.asarray(w), cmap="gray", interpolation="nearest")
        ax.set_xlabel(f"r={c:+.2f}", fontsize=7, labelpad=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)


def _denoising(plt, runs, config, out_dir):
    """The first seed's noisy image before and after the blur, and the noise std before and after per seed."""
    z = runs[0]["noise"]
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.9), gridspec_kw={"width_ratios": [1, 1, 1, 1.3]})
    for ax, key, title in ((axes[0], "clean", "clean image"),
                           (axes[1], "noisy", f"+ Gaussian noise, std {config.noise_std:g}"),
                           (axes[2], "blurred", f"blurred ({config.blur_size}x{config.blur_size}, "
                                                f"\u03c3={config.blur_sigma:g})")):
        _show(ax, z["shown"][key], title)
        ax.images[0].set_cmap("gray_r")
        ax.images[0].set_clim(0.0, 1.0)  # one grey scale for all three
    ax = axes[3]
    noise = [[m["noise"][k] for m in runs] for k in ("noise_before", "noise_after", "error_before", "error_after")]
    labels = ["noise std\nbefore", "noise std\nafter blur", "distance to clean\nnoisy",
              "distance to clean\nblurred"]
    bars, means = seed_bars(ax, np.arange(4), noise, colors=["tab:gray", "tab:green", "tab:gray", "tab:green"])
    ax.set_xticks(np.arange(4), labels, fontsize=8)
    ax.bar_label(bars, labels=[f"{m:.3f}" for m in means], fontsize=8)
    ax.axhline(config.noise_std * z["predicted_factor"], color="k", linestyle=":", linewidth=1,
               label=f"noise std x sqrt(sum of squared weights) = {config.noise_std * z['predicted_factor']:.3f}")
    ax.set_ylabel("RMS")
    ax.set_ylim(0, 1.35 * max(max(v) for v in noise))
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title("The blur removes most of the noise\n" + seeds_note(runs).replace("faint: each seed",
                                                                                   "whiskers: min-max").strip(),
                 fontsize=9)
    fig.suptitle(f"A Gaussian filter against noise, {len(runs[0]['hand']['tv_in'])} {runs[0]['dataset']} images "
                 "(images: first seed)")
    return save(fig, out_dir, "blur-denoising")


def plot_conv_filters(runs: list[dict], config, out_dir):
    metrics = runs[0]
    plt = pyplot()
    paths = []
    h, t = metrics["hand"], metrics["training"]
    labels = metrics["digit_labels"]

    shown = h["shown"]
    cols = ("image", "blur", "sobel_x", "sobel_y", "magnitude")
    names = {"image": "input", "blur": f"Gaussian {config.blur_size}x{config.blur_size}, \u03c3={config.blur_sigma:g}",
             "sobel_x": "Sobel x (d/dx: vertical edges)", "sobel_y": "Sobel y (d/dy: horizontal edges)",
             "magnitude": "edge magnitude \u221a(x\u00b2 + y\u00b2)"}
    fig, axes = plt.subplots(len(shown) + 1, len(cols), figsize=(3.0 * len(cols), 2.9 * (len(shown) + 1)))
    kernels = {"blur": h["kernels"]["gaussian"], "sobel_x": h["kernels"]["sobel_x"], "sobel_y": h["kernels"]["sobel_y"]}
    for ax, col in zip(axes[0], cols):
        if col in kernels:
            k = np.array(kernels[col])
            _show(ax, k, f"kernel: {names[col]}", signed=col != "blur", fontsize=8)
            for (i, j), v in np.ndenumerate(k):
                ax.text(j, i, f"{v:.2f}" if col == "blur" else f"{v:g}", ha="center", va="center", fontsize=6,
                        color="k" if col != "blur" or v < k.max() / 2 else "w")
        else:
            ax.axis("off")
    axes[0, 0].text(0, 0.5, f"Conv2d weight (3, 1, {config.blur_size}, {config.blur_size}):\nblur, Sobel x, Sobel y\n"
                    f"corr with np.gradient:\nx {h['corr_sobel_x_dx']:.3f}, y {h['corr_sobel_y_dy']:.3f}",
                    transform=axes[0, 0].transAxes, fontsize=9, va="center")
    for r, maps in enumerate(shown, start=1):
        for ax, col in zip(axes[r], cols):
            extra = ""
            if col == "image":
                extra = f" (label {labels[r - 1]}), mean {h['mean_in'][r - 1]:.4f}, TV {h['tv_in'][r - 1]:.0f}"
            elif col == "blur":
                extra = f"\nmean {h['mean_out'][r - 1]:.4f}, TV {h['tv_out'][r - 1]:.0f}"
            img = np.hypot(maps["sobel_x"], maps["sobel_y"]) if col == "magnitude" else maps[col]
            _show(ax, img, f"{'input' if col == 'image' else names[col]}{extra}",
                  signed=col in ("sobel_x", "sobel_y"), fontsize=8)
    fig.suptitle(f"Hand-made kernels through trainlab's Conv2d on {metrics['dataset']} test images "
                 "(red: positive, blue: negative response; first seed)")
    paths.append(save(fig, out_dir, "hand-kernels"))
    paths.append(_denoising(plt, runs, config, out_dir))

    fig = plt.figure(figsize=(15, 6.4))
    # Columns: 6 filters, a narrow gap, 6 filters; row 0 holds the block titles.
    gs = fig.add_gridspec(6, 13, width_ratios=[1] * 6 + [0.3] + [1] * 6, height_ratios=[0.3] + [1] * 5)
    _filter_grid(fig, gs, 0, t["filters_before"], t["corr_before"],
                 f"Before training: N(0, {config.init_std:g}\u00b2) noise, mean r = {np.mean(t['corr_before']):+.2f}")
    _filter_grid(fig, gs, 7, t["filters_after"], t["corr_after"],
                 f"After {t['iterations']} Adam steps: mean r = {np.mean(t['corr_after']):+.2f}")
    fig.suptitle(f"SimpleConvNet's first-layer filters (30 of 5x5) before and after training on "
                 f"{metrics['dataset']} (the book's fig. 7-24; first seed)\neach filter scaled to its own range; "
                 "r: correlation "
                 "of neighbouring weights")
    paths.append(save(fig, out_dir, "filters-before-after"))

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.3))
    bins = np.linspace(-1, 1, 21)
    ax1.hist(t["corr_before"], bins=bins, alpha=0.6, label="initialisation")
    ax1.hist(t["corr_after"], bins=bins, alpha=0.6, label="after training")
    ax1.axvline(config.trained_corr_min, color="0.3", linestyle=":",
                label=f"claim threshold {config.trained_corr_min:g}")
    ax1.set_xlabel("correlation of neighbouring weights in a filter (r)")
    ax1.set_ylabel("filters (of 30)")
    after = [float(np.mean(m["training"]["corr_after"])) for m in runs]
    ax1.set_title("Smoothness of the first-layer filters: initialisation vs trained (first seed)"
                  + (f"\nmean r after training per seed: {', '.join(f'{a:+.2f}' for a in after)}"
                     if len(runs) > 1 else ""))
    ax1.legend()
    seed_lines(ax2, t["loss_iterations"], [m["training"]["loss"] for m in runs], color="tab:blue",
               linewidth=0.8, label="training batch loss")
    accs = [m["training"]["test_acc"] for m in runs]
    ax2.set_xlabel("iteration")
    ax2.set_ylabel("training batch loss")
    ax2.set_title(f"Training run: test accuracy {np.mean(accs):.3f} on {metrics['n_test']} images"
                  + ("" if len(runs) < 2 else f" (seeds {min(accs):.3f} to {max(accs):.3f})") + seeds_note(runs))
    ax2.legend()
    paths.append(save(fig, out_dir, "filter-smoothness"))

    maps = t["feature_maps"]
    n = len(maps)
    fig, axes = plt.subplots(2, n + 1, figsize=(1.9 * (n + 1), 4.3))
    _show(axes[0, 0], shown[0]["image"], f"input (label {labels[0]})", fontsize=8)
    axes[1, 0].axis("off")
    for k in range(n):
        _show(axes[0, k + 1], t["filters_after"][k], f"filter {k}", signed=True, fontsize=8)
        _show(axes[1, k + 1], maps[k], f"map {k}", signed=True, fontsize=8)
    fig.suptitle(f"Trained filters (top) and their feature maps on one image (bottom, 24x24, before ReLU); "
                 f"first {n} of 30, first seed")
    paths.append(save(fig, out_dir, "feature-maps"))
    return paths
