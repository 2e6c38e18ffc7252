"""Convolution filters: hand-made kernels on digits, and SimpleConvNet's first layer before and after training.

1. A 5x5 Gaussian blur (sigma 1, weights summing to 1) and the Sobel x and
   y kernels are written into the weight of one trainlab ``Conv2d`` (zero
   padding 2, so the maps stay 28x28) and applied to the first test digits.
   Compared: the image mean and total variation before and after the blur;
   the Sobel responses against NumPy's central differences
   (``np.gradient``), which also checks that Conv2d is a cross-correlation
   (no kernel flip), as in PyTorch and the book. The same digits with
   Gaussian noise of std ``noise_std`` added are blurred too: the noise left
   (blurred noisy minus blurred clean image) against the noise added, and the
   distance to the clean digit before and after the blur. A linear filter
   scales white noise's std by sqrt(sum of its squared weights), 0.29 for
   the 5x5 kernel with sigma 1.
2. SimpleConvNet (30 filters of 5x5) is trained briefly with Adam from the
   book's initial weights (std 0.01). Compared: the first-layer filters at
   initialisation and after training (the book's fig. 7-24), measured by the
   mean correlation between horizontally and vertically neighbouring weights
   of a filter (about 0 for independent noise, positive for smooth blobs and
   edge detectors), and the test accuracy against chance (0.1).

Reference: Saito, *Deep Learning from Scratch*, sec. 7.2 (convolution,
padding), 7.6.1 (first-layer weights, fig. 7-24) and ch07/visualize_filter.py;
seed 001 (convolution layers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from trainlab.errors import ConfigError
from trainlab.experiments.base import BookValue, Claim, ClaimTable, ExperimentSpec, register
from trainlab.experiments.common import (
    check_above_zero, check_dataset, check_fractions, curve_indices, load_subset, per_dataset, settings, split_seed,
)
from trainlab.layers.conv import Conv2d
from trainlab.models.cnn import SimpleConvNet
from trainlab.optim import create_optimizer
from trainlab.plots.conv_filters import plot_conv_filters
from trainlab.training import Trainer
from trainlab.validation import check_int, check_positive

NAME = "conv-filters"
OWNER = f"experiment {NAME}"

#: The claims ``check`` decides: key -> source (seed statements of the ledger, book sections, papers).
CLAIMS = ClaimTable(NAME, {
    "blur-keeps-mean": "seed 003 (S003-16); book 7.2",
    "blur-removes-noise": "seed 003 (S003-17)",
    "sobel-follows-gradient": "seed 003 (S003-18); book 7.2 (convolution as cross-correlation)",
    "sobel-finds-edges": "seed 003 (S003-18)",
    "filters-become-structured": "book 7.6.1, figure 7-24",
    "beats-chance": "book 7.5",
})

#: "Keeps the mean" per data set: the zero padding takes the share of the blurred ink that falls
#: outside the image. MNIST's digits keep 4 pixels clear of the edge, but some strokes come within 2
#: (up to 0.8% lost among the first 64 test digits): 2%. Fashion-MNIST's garments fill the frame to its
#: edges; a frame filled uniformly to the edge loses 5.0% with the 5x5, sigma 1 kernel (its edge pixels
#: 30% of their weight, the next ring 5%), and only an image brighter at its edges than inside loses
#: more: 5%. Synthetic images carry noise up to the border: 10%.
MEAN_TOLERANCE = {"mnist": 0.02, "fashion-mnist": 0.05, "synthetic": 0.1}

SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float64)  # right minus left: d/dx (width)


@dataclass(frozen=True)
class Config:
    dataset: str = "mnist"
    n_train: int = 20000
    n_test: int = 2000
    #: The first this many test images go through the hand-made kernels.
    n_digits: int = 64
    #: Of those, the first this many are drawn (their maps are stored in the metrics).
    show_digits: int = 2
    blur_size: int = 5
    blur_sigma: float = 1.0
    #: Standard deviation of the Gaussian noise added to the digits the blur is to clean.
    noise_std: float = 0.2
    epochs: int = 1
    batch_size: int = 100
    lr: float = 0.001
    #: The book's SimpleConvNet starts from N(0, 0.01^2) weights (ch07/simple_convnet.py).
    init_std: float = 0.01
    #: Trained feature maps of the first test digit kept for the figure (of 30).
    n_maps: int = 8
    curve_points: int = 200
    #: "Keeps the mean": relative change of each image's mean below this; None: :data:`MEAN_TOLERANCE`'s
    #: value for the data set.
    mean_tolerance: float | None = None
    #: Sobel response against np.gradient: correlation at least this.
    min_gradient_corr: float = 0.9
    #: The strongest 5% of Sobel-x (-y) responses: at least this fraction lie where |d/dx| > |d/dy| (or the
    #: reverse). Of all edge pixels of MNIST digits about 55% have |d/dx| > |d/dy|, 45% the reverse.
    min_edge_fraction: float = 0.75
    #: Neighbouring-weight correlation: |mean| below this at initialisation (30 filters of 40 pairs of
    #: independent weights: the mean's standard deviation is about 0.03) ...
    init_corr_max: float = 0.1
    #: ... and at least this after training.
    trained_corr_min: float = 0.3
    #: "Beats chance by far": test accuracy at least this (chance is 0.1).
    min_accuracy: float = 0.8

    def __post_init__(self):
        check_dataset(OWNER, self.dataset)
        check_positive(OWNER, **settings(self, "n_train", "n_test", "n_digits", "show_digits", "epochs",
                                         "batch_size", "n_maps"))
        if self.show_digits > self.n_digits or self.n_digits > self.n_test:
            raise ConfigError(f"{OWNER}: need show_digits <= n_digits <= n_test, got {self.show_digits}, "
                              f"{self.n_digits}, {self.n_test}")
        if self.n_maps > 30:
            raise ConfigError(f"{OWNER}: SimpleConvNet has 30 filters; n_maps must be <= 30, got {self.n_maps}")
        if self.blur_size < 3 or self.blur_size % 2 == 0 or self.blur_size > 7:
            raise ConfigError(f"{OWNER}: blur_size must be odd, 3 to 7, got {self.blur_size}")
        check_above_zero(OWNER, self, "blur_sigma", "lr", "init_std", "noise_std")
        if self.mean_tolerance is not None:
            check_above_zero(OWNER, self, "mean_tolerance")
        check_fractions(OWNER, self, "min_gradient_corr", "min_edge_fraction", "init_corr_max", "trained_corr_min",
                        "min_accuracy")
        check_int(OWNER, "curve_points", self.curve_points, low=2)


def gaussian_kernel(size: int, sigma: float) -> np.ndarray:
    """(size, size) Gaussian weights summing to 1."""
    r = np.arange(size) - size // 2
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def kernel_layer(size: int, sigma: float) -> Conv2d:
    """One Conv2d (1 -> 3 channels: blur, Sobel x, Sobel y) with 'same' zero padding."""
    conv = Conv2d(1, 3, size, padding=size // 2, bias=False, dtype=np.float64)
    W = np.zeros((3, 1, size, size))
    W[0, 0] = gaussian_kernel(size, sigma)
    c = size // 2
    W[1, 0, c - 1:c + 2, c - 1:c + 2] = SOBEL_X      # a 3x3 kernel centred in the larger window
    W[2, 0, c - 1:c + 2, c - 1:c + 2] = SOBEL_X.T    # bottom minus top: d/dy (height)
    conv.weight.data[...] = W
    return conv


def total_variation(img: np.ndarray) -> float:
    """Sum of absolute differences between horizontally and vertically adjacent pixels."""
    return float(np.abs(np.diff(img, axis=0)).sum() + np.abs(np.diff(img, axis=1)).sum())


def neighbour_correlation(W: np.ndarray) -> np.ndarray:
    """Per filter (FN,): Pearson correlation of all horizontally and vertically adjacent weight pairs."""
    W = np.asarray(W, np.float64)[:, 0]  # (FN, FH, FW), one input channel
    out = []
    for w in W:
        a = np.concatenate([w[:, :-1].ravel(), w[:-1, :].ravel()])
        b = np.concatenate([w[:, 1:].ravel(), w[1:, :].ravel()])
        out.append(np.corrcoef(a, b)[0, 1])
    return np.array(out)


def mean_tolerance(config: Config) -> float:
    """The setting, or the value :data:`MEAN_TOLERANCE` declares for the data set."""
    return per_dataset(OWNER, config, "mean_tolerance", MEAN_TOLERANCE)


def denoising(images: np.ndarray, config: Config, rng: np.random.Generator) -> dict:
    """The blur on images (N, 1, 28, 28) with Gaussian noise added: the noise before and after, and the
    distance to the clean image."""
    layer = kernel_layer(config.blur_size, config.blur_sigma)
    clean = images.astype(np.float64)
    noisy = clean + rng.normal(0.0, config.noise_std, size=clean.shape)
    blur_clean = np.asarray(layer.forward(clean, train=False))[:, 0]
    blur_noisy = np.asarray(layer.forward(noisy, train=False))[:, 0]
    rms = lambda a: float(np.sqrt(np.mean(np.square(a))))  # noqa: E731
    return {
        "noise_std": config.noise_std,
        "noise_before": rms(noisy[:, 0] - clean[:, 0]), "noise_after": rms(blur_noisy - blur_clean),
        # White noise through a linear filter: its std times sqrt(sum of the squared weights).
        "predicted_factor": float(np.sqrt(np.square(gaussian_kernel(config.blur_size, config.blur_sigma)).sum())),
        "error_before": rms(noisy[:, 0] - clean[:, 0]), "error_after": rms(blur_noisy - clean[:, 0]),
        "blur_of_clean_error": rms(blur_clean - clean[:, 0]),
        "shown": {"clean": clean[0, 0].round(2).tolist(), "noisy": noisy[0, 0].round(2).tolist(),
                  "blurred": blur_noisy[0].round(2).tolist()},
    }


def hand_kernels(images: np.ndarray, config: Config) -> dict:
    """Blur and Sobel maps of images (N, 1, 28, 28) and the statistics the claims use."""
    maps = np.asarray(kernel_layer(config.blur_size, config.blur_sigma)
                      .forward(images.astype(np.float64), train=False))  # (N, 3, 28, 28)
    img = images[:, 0].astype(np.float64)
    blur, sx, sy = maps[:, 0], maps[:, 1], maps[:, 2]
    gy_np, gx_np = np.gradient(img, axis=(1, 2))  # central differences along height and width
    top = int(np.ceil(0.05 * sx[0].size))
    edges = np.hypot(gx_np, gy_np) > 0.1

    def strongest_on(resp, along, across):
        # Per digit: of the strongest 5% of |resp|, the fraction where the change along the
        # kernel's axis is larger than across it (for Sobel x: a vertical edge).
        fr = []
        for r, a, c in zip(resp, along, across):
            idx = np.argsort(np.abs(r).ravel())[-top:]
            fr.append(float((np.abs(a).ravel()[idx] > np.abs(c).ravel()[idx]).mean()))
        return float(np.mean(fr))

    corr = lambda a, b: float(np.corrcoef(a.ravel(), b.ravel())[0, 1])  # noqa: E731
    mean_in, mean_out = img.mean(axis=(1, 2)), blur.mean(axis=(1, 2))
    return {
        "kernels": {"gaussian": gaussian_kernel(config.blur_size, config.blur_sigma).round(5).tolist(),
                    "sobel_x": SOBEL_X.tolist(), "sobel_y": SOBEL_X.T.tolist()},
        "mean_in": mean_in.tolist(), "mean_out": mean_out.tolist(),
        "mean_rel_change": float(np.max(np.abs(mean_out - mean_in) / mean_in)),
        "tv_in": [total_variation(i) for i in img], "tv_out": [total_variation(b) for b in blur],
        "corr_sobel_x_dx": corr(sx, gx_np), "corr_sobel_x_dy": corr(sx, gy_np),
        "corr_sobel_y_dy": corr(sy, gy_np), "corr_sobel_y_dx": corr(sy, gx_np),
        "edge_fraction_x": strongest_on(sx, gx_np, gy_np), "edge_fraction_y": strongest_on(sy, gy_np, gx_np),
        # The same fraction over all edge pixels (|gradient| > 0.1): what orientation alone would give.
        "edge_base_x": float((np.abs(gx_np) > np.abs(gy_np))[edges].mean()),
        "edge_base_y": float((np.abs(gy_np) > np.abs(gx_np))[edges].mean()),
        # Two decimals are plenty for a picture and keep metrics.json small.
        "shown": [{"image": i.round(2).tolist(), "blur": b.round(2).tolist(), "sobel_x": x.round(2).tolist(),
                   "sobel_y": y.round(2).tolist()} for i, b, x, y in zip(img[:config.show_digits], blur, sx, sy)],
    }


def run(config: Config, seed: int = 0) -> dict:
    """Hand-made kernels on the first test digits, then a short SimpleConvNet training run."""
    data = load_subset(config.dataset, config.n_train, config.n_test, seed=seed, flatten=False)
    out = {"dataset": data.name, "n_train": int(len(data.x_train)), "n_test": int(len(data.x_test)),
           "digit_labels": data.t_test[:config.n_digits].tolist()}
    out["hand"] = hand_kernels(data.x_test[:config.n_digits], config)
    init_seed, batch_seed, noise_seed = split_seed(seed, 3)
    out["noise"] = denoising(data.x_test[:config.n_digits], config, np.random.default_rng(noise_seed))

    model = SimpleConvNet(weight_init=config.init_std, seed=init_seed)
    conv = model.layers[0]
    before = conv.weight.data.copy()  # (30, 1, 5, 5)
    optimizer = create_optimizer("adam", model.named_parameters(), lr=config.lr)
    trainer = Trainer(model, optimizer, batch_size=config.batch_size, epochs=config.epochs, seed=batch_seed,
                      eval_sets={"test": (data.x_test, data.t_test)}, eval_train=False, progress=False)
    start = time.perf_counter()
    history = trainer.fit(data.x_train, data.t_train)
    seconds = time.perf_counter() - start
    after = conv.weight.data.copy()
    fmap = np.asarray(conv.forward(data.x_test[:1], train=False))[0, :config.n_maps]  # (n_maps, 24, 24)
    at = curve_indices(len(history.loss), config.curve_points)
    out["training"] = {
        "filters_before": before[:, 0].round(5).tolist(), "filters_after": after[:, 0].round(5).tolist(),
        "corr_before": neighbour_correlation(before).tolist(), "corr_after": neighbour_correlation(after).tolist(),
        "feature_maps": fmap.round(3).tolist(), "test_acc": history.last("test_acc"),
        "test_acc_curve": history.series("test_acc"), "eval_iterations": history.series("iteration"),
        "loss_iterations": at.tolist(), "loss": np.asarray(history.loss)[at].tolist(),
        "iterations": len(history.loss), "seconds": seconds,
    }
    return out


def check(metrics: dict, config: Config) -> list[Claim]:
    h, t, z = metrics["hand"], metrics["training"], metrics["noise"]
    tv = ", ".join(f"{a:.1f} -> {b:.1f}" for a, b in zip(h["tv_in"][:4], h["tv_out"][:4]))
    fewer_tv = all(b < a for a, b in zip(h["tv_in"], h["tv_out"]))
    tv_ratio = max(b / a for a, b in zip(h["tv_in"], h["tv_out"]))
    c0, c1 = float(np.mean(t["corr_before"])), float(np.mean(t["corr_after"]))
    n = len(h["tv_in"])
    tol = mean_tolerance(config)
    noise_ratio = z["noise_after"] / z["noise_before"]
    return [
        CLAIMS.claim("blur-keeps-mean",
                     f"The {config.blur_size}x{config.blur_size} Gaussian blur (weights sum to 1) keeps each "
                     f"image's mean (within {tol:.0%}) and lowers its total variation",
                     h["mean_rel_change"] <= tol and fewer_tv,
                     f"largest relative change of the mean over {n} images: {h['mean_rel_change']:.2e} (first "
                     f"{h['mean_in'][0]:.4f} -> {h['mean_out'][0]:.4f}); total variation {tv}"
                     + ("" if fewer_tv else " (not lower for every image)"),
                     values={"largest relative change of the mean": h["mean_rel_change"], "tolerance": tol,
                             "largest total variation after / before": tv_ratio}),
        CLAIMS.claim("blur-removes-noise",
                     f"The Gaussian blur removes noise: on {n} images with Gaussian noise (std "
                     f"{config.noise_std:g}) added it leaves at most half of the noise's std, and the blurred "
                     "noisy image is closer to the clean one than the noisy image is",
                     noise_ratio <= 0.5 and z["error_after"] < z["error_before"],
                     f"noise std {z['noise_before']:.4f} -> {z['noise_after']:.4f} (x{noise_ratio:.3f}; white noise "
                     f"through the kernel: x{z['predicted_factor']:.3f}); RMS distance to the clean image "
                     f"{z['error_before']:.4f} noisy, {z['error_after']:.4f} blurred (the blur of the clean image "
                     f"alone is {z['blur_of_clean_error']:.4f} from it)",
                     values={"noise std after / before": noise_ratio, "predicted": z["predicted_factor"],
                             "threshold": 0.5, "distance to clean, noisy": z["error_before"],
                             "distance to clean, blurred": z["error_after"]}),
        CLAIMS.claim("sobel-follows-gradient",
                     f"Sobel x and y through Conv2d follow NumPy's central differences along width and height "
                     f"(correlation >= {config.min_gradient_corr}), not across",
                     min(h["corr_sobel_x_dx"], h["corr_sobel_y_dy"]) >= config.min_gradient_corr,
                     f"corr(Sobel x, d/dx) {h['corr_sobel_x_dx']:.3f}, corr(Sobel y, d/dy) {h['corr_sobel_y_dy']:.3f}; "
                     f"across: corr(Sobel x, d/dy) {h['corr_sobel_x_dy']:.3f}, corr(Sobel y, d/dx) "
                     f"{h['corr_sobel_y_dx']:.3f} (a flipped kernel would give negative correlations)",
                     values={"corr(Sobel x, d/dx)": h["corr_sobel_x_dx"], "corr(Sobel y, d/dy)": h["corr_sobel_y_dy"],
                             "threshold": config.min_gradient_corr}),
        CLAIMS.claim("sobel-finds-edges",
                     "The strongest Sobel-x responses lie on vertical strokes' edges, the strongest Sobel-y on "
                     "horizontal ones",
                     min(h["edge_fraction_x"], h["edge_fraction_y"]) >= config.min_edge_fraction
                     and h["edge_fraction_x"] > h["edge_base_x"] and h["edge_fraction_y"] > h["edge_base_y"],
                     f"of each image's top 5% responses ({n} images), {h['edge_fraction_x']:.0%} (Sobel x) and "
                     f"{h['edge_fraction_y']:.0%} (Sobel y) lie where np.gradient changes more along the "
                     f"kernel's axis than across it (threshold {config.min_edge_fraction:.0%}); of all edge pixels "
                     f"{h['edge_base_x']:.0%} "
                     f"and {h['edge_base_y']:.0%} do",
                     values={"Sobel x: top responses on vertical edges": h["edge_fraction_x"],
                             "Sobel y: top responses on horizontal edges": h["edge_fraction_y"],
                             "all edge pixels, vertical": h["edge_base_x"],
                             "all edge pixels, horizontal": h["edge_base_y"], "threshold": config.min_edge_fraction}),
        CLAIMS.claim("filters-become-structured",
                     f"Training turns the random first-layer filters into smooth, structured ones: the mean "
                     f"correlation of neighbouring weights rises from about 0 (|r| < {config.init_corr_max}) to "
                     f">= {config.trained_corr_min}",
                     abs(c0) < config.init_corr_max and c1 >= config.trained_corr_min,
                     f"mean over 30 filters: {c0:+.3f} at initialisation (std {config.init_std}), {c1:+.3f} after "
                     f"{t['iterations']} Adam steps; filters above {config.trained_corr_min}: "
                     f"{sum(c >= config.trained_corr_min for c in t['corr_after'])} of 30 (before: "
                     f"{sum(c >= config.trained_corr_min for c in t['corr_before'])})",
                     values={"mean r at initialisation": c0, "mean r after training": c1,
                             "threshold at initialisation (|r|)": config.init_corr_max,
                             "threshold after training": config.trained_corr_min}),
        CLAIMS.claim("beats-chance",
                     f"The briefly trained SimpleConvNet beats chance (0.1) by far: test accuracy "
                     f">= {config.min_accuracy}",
                     t["test_acc"] >= config.min_accuracy,
                     f"test accuracy {t['test_acc']:.4f} on {metrics['n_test']} {metrics['dataset']} images after "
                     f"{config.epochs} epoch(s) on {metrics['n_train']} images ({t['seconds']:.1f} s)",
                     values={"test accuracy": t["test_acc"], "threshold": config.min_accuracy}),
    ]


def book(metrics: dict, config: Config) -> list[BookValue]:
    t = metrics["training"]
    return [
        BookValue("SimpleConvNet test accuracy", 0.989, round(t["test_acc"], 4),
                  f"book: after 20 epochs on 60,000 images (sec. 7.5); here {config.epochs} epoch(s) on "
                  f"{metrics['n_train']} images, only to give the filters structure"),
        BookValue("first-layer filters after training", "smooth blobs and edge detectors (fig. 7-24)",
                  f"mean neighbour correlation {np.mean(t['corr_after']):+.2f}",
                  "the book shows pictures, not a statistic"),
    ]


register(ExperimentSpec(
    name=NAME,
    title="Convolution filters: blur and Sobel kernels on digits, and SimpleConvNet's learned first layer",
    summary="Hand-made Gaussian and Sobel kernels through trainlab's Conv2d, then SimpleConvNet's 30 first-layer "
            "filters before and after a short training run (the book's fig. 7-24) and their feature maps.",
    config_cls=Config, run=run, check=check, plot=plot_conv_filters, book=book,
    quick={"n_train": 10000, "n_test": 500, "n_digits": 16},
    claims=CLAIMS,
    seeds=5,  # what make run gives it (see docs/experiments.md)
))
