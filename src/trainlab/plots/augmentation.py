"""Figures of the augmentation experiment: augmented digits, and accuracy with and without augmentation.

The experiment stores the digits it draws as hex strings (:func:`encode_images`),
which keeps metrics.json small; the figure decodes them (:func:`decode_images`).
"""

from __future__ import annotations

import numpy as np

from trainlab.plots.style import pyplot, save, seed_lines, seeds_note


def encode_images(images) -> list[list[str]]:
    """Images in [0, 1] as 28 hex strings each, two digits (0..255) per pixel.

    A row per string keeps metrics.json small (a list of numbers takes a line
    per pixel there); :func:`decode_images` reverses it.
    """
    pixels = np.clip(np.rint(np.asarray(images) * 255), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    return [[row.tobytes().hex() for row in image] for image in pixels]


def decode_images(encoded) -> np.ndarray:
    """(N, 28, 28) uint8 images from :func:`encode_images`' strings."""
    return np.array([[np.frombuffer(bytes.fromhex(row), np.uint8) for row in image] for image in encoded])


def _describe(pipeline: list[dict]) -> str:
    parts = []
    for t in pipeline:
        params = ", ".join(f"{k}={v}" for k, v in t.items() if k not in ("name", "interpolation", "fill"))
        parts.append(f"{t['name']}({params})")
    return " + ".join(parts)


def plot_augmentation(runs: list[dict], config, out_dir):
    metrics = runs[0]
    plt = pyplot()
    paths = []
    samples = metrics["samples"]
    rows, cols = len(samples["labels"]), 1 + config.n_variants
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.35 * rows + 0.6), squeeze=False)
    for r, label in enumerate(samples["labels"]):
        images = decode_images([samples["original"][r], *samples["augmented"][r]])   # (1 + V, 28, 28)
        for c, image in enumerate(images):
            ax = axes[r, c]
            ax.imshow(image, cmap="gray_r", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if r == 0:
                ax.set_title("original" if c == 0 else f"augmented {c}", fontsize=8)
        axes[r, 0].set_ylabel(f"digit {label}")
    fig.suptitle(f"Training images and random augmentations (first seed):\n{_describe(metrics['pipeline'])}",
                 fontsize=9)
    paths.append(save(fig, out_dir, "augmented-digits"))

    dataset = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}.get(metrics["dataset"], metrics["dataset"])
    epochs = np.asarray(metrics["epochs"])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.3))
    for key, color in (("without", "tab:red"), ("with", "tab:green")):
        per_seed = [m["runs"][key] for m in runs]
        test = np.mean([r["mean_test_acc"] for r in per_seed])
        gap = np.mean([r["mean_gap"] for r in per_seed])
        seed_lines(ax1, epochs, [r["train_acc"] for r in per_seed], color=color, style="--",
                   label=f"train, {key} augmentation")
        seed_lines(ax1, epochs, [r["test_acc"] for r in per_seed], color=color,
                   label=f"test, {key} augmentation (last {config.window} epochs: {test:.3f})")
        seed_lines(ax2, epochs, [np.asarray(r["train_acc"]) - np.asarray(r["test_acc"]) for r in per_seed],
                   color=color, label=f"{key} augmentation (last {config.window} epochs: {gap:.3f})")
    lows = [min(m["runs"][k]["test_acc"][len(epochs) // 5:]) for m in runs for k in ("without", "with")]
    ax1.set_ylim(max(0.0, min(lows) - 0.12), 1.005)  # room for the legend below the curves
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("accuracy")
    ax1.set_title(f"Accuracy: {metrics['n_train']} training images (unmodified), {metrics['n_test']} test images")
    ax1.legend(loc="lower right")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("train accuracy - test accuracy")
    ax2.set_title("Train-test gap without and with augmentation")
    ax2.legend(loc="center right")
    hidden = "-".join(str(h) for h in config.hidden_sizes)
    fig.suptitle(f"784-{hidden}-10 MLP on the first {metrics['n_train']} {dataset} images, "
                 f"with and without augmentation{seeds_note(runs)}")
    paths.append(save(fig, out_dir, "augmentation-accuracy"))
    return paths
