"""Folding BatchNorm into the Linear layer before it: same outputs, less inference work.

A 784-100x4-10 ReLU MLP with BatchNorm after every hidden Linear is trained
briefly on MNIST; :func:`trainlab.folding.fold_batchnorm` then merges each
eval-mode BatchNorm (y = x * s + c per feature) into its Linear
(W' = W * s, b' = b * s + c). Compared on the test set: the scores (largest
absolute difference, also against a float64 copy of the original as the exact
reference), the predicted classes and accuracy, and the time of an eval forward
pass over the test set (each batch's fastest of several interleaved repeats,
summed, so that other work on the machine does not decide the comparison).

Reference: seed 003 (at inference BatchNorm reduces to one multiply and one
add); Jacob et al., 2018, sec. 3.2 (folding BatchNorm into the weights);
Saito, *Deep Learning from Scratch*, sec. 6.3 (BatchNorm).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np

from trainlab.experiments.base import BookValue, Claim, ClaimTable, ExperimentSpec, register
from trainlab.experiments.common import check_above_zero, check_dataset, check_sizes, load_subset, settings
from trainlab.plots.bn_folding import plot_bn_folding
from trainlab.validation import check_positive

NAME = "bn-folding"
OWNER = f"experiment {NAME}"

#: The claims ``check`` decides: key -> source (seed statements of the ledger, book sections, papers).
CLAIMS = ClaimTable(NAME, {
    "same-outputs": "seed 003 (S003-25); Jacob et al., 2018, sec. 3.2",
    "same-predictions": "seed 003 (S003-25); Jacob et al., 2018, sec. 3.2",
    "faster-inference": "seed 003 on batch normalisation at inference (one multiply and one add; "
        "it gives no timing); Jacob et al., 2018, sec. 3.2",
})

#: log10 bin edges of the |score difference| histogram; exact zeros are counted apart.
DIFF_BINS = tuple(float(e) for e in np.arange(-10.0, -2.0 + 0.25, 0.25))


@dataclass(frozen=True)
class Config:
    dataset: str = "mnist"
    n_train: int = 20000
    n_test: int = 10000
    hidden_sizes: tuple[int, ...] = (100, 100, 100, 100)
    epochs: int = 2
    batch_size: int = 100
    lr: float = 1e-3
    timing_batch_sizes: tuple[int, ...] = (10000, 100)
    repeats: int = 10
    tolerance: float = 1e-5
    scatter_points: int = 3000

    def __post_init__(self):
        check_dataset(OWNER, self.dataset)
        check_positive(OWNER, **settings(self, "n_train", "n_test", "epochs", "batch_size", "repeats",
                                         "scatter_points"))
        check_sizes(OWNER, "hidden_sizes", self.hidden_sizes)
        check_sizes(OWNER, "timing_batch_sizes", self.timing_batch_sizes)
        check_above_zero(OWNER, self, "lr", "tolerance")


def forward_all(model, x: np.ndarray, batch_size: int) -> np.ndarray:
    """Eval-mode scores of ``x`` in batches: (N, D) -> (N, classes)."""
    return np.concatenate([model.forward(x[i:i + batch_size], train=False) for i in range(0, len(x), batch_size)])


def time_inference(models: dict, x: np.ndarray, batch_size: int, repeats: int) -> dict[str, np.ndarray]:
    """Seconds of every eval forward batch: name -> (repeats, n_batches).

    The models take turns on each batch, in alternating order from one repeat
    to the next, so that a busy machine slows both alike.
    """
    starts = range(0, len(x), batch_size)
    for model in models.values():
        forward_all(model, x, batch_size)  # warm-up: first-touch allocations, caches
    times = {name: np.zeros((repeats, len(starts))) for name in models}
    order = list(models)
    for r in range(repeats):
        for i, start in enumerate(starts):
            xb = x[start:start + batch_size]
            for name in order if r % 2 == 0 else order[::-1]:
                t0 = time.perf_counter()
                models[name].forward(xb, train=False)
                times[name][r, i] = time.perf_counter() - t0
    return times


def best_time(times: np.ndarray) -> float:
    """The fastest run of each batch over the repeats, summed: the pass on an undisturbed machine."""
    return float(times.min(axis=0).sum())


def _count(model, kind: str) -> int:
    return sum(type(m).__name__.startswith(kind) for m in model.modules())


def run(config: Config, seed: int = 0) -> dict:
    """Train the BN net, fold it, and measure output differences, agreement and inference time."""
    from trainlab.folding import fold_batchnorm
    from trainlab.models.mlp import MultiLayerNet
    from trainlab.optim import create_optimizer
    from trainlab.training import Trainer

    data = load_subset(config.dataset, config.n_train, config.n_test, seed=seed)
    init_seq, shuffle_seq, pick_seq = np.random.SeedSequence(seed).spawn(3)
    net = MultiLayerNet(data.x_train.shape[1], list(config.hidden_sizes), 10, activation="relu",
                        weight_init="he", use_batchnorm=True, seed=np.random.default_rng(init_seq))
    trainer = Trainer(net, create_optimizer("adam", net, lr=config.lr), batch_size=config.batch_size,
                      epochs=config.epochs, seed=int(shuffle_seq.generate_state(1)[0]),
                      eval_sets={"test": (data.x_test, data.t_test)}, eval_train=False, progress=False)
    history = trainer.fit(data.x_train, data.t_train)
    folded = fold_batchnorm(net)

    x, t = data.x_test, data.t_test
    eval_batch = max(config.timing_batch_sizes)
    s_orig = forward_all(net, x, eval_batch)
    s_fold = forward_all(folded, x, eval_batch)
    # The exact answer, to tell folding's rounding from float32's own.
    s_ref = forward_all(copy.deepcopy(net).astype(np.float64), x.astype(np.float64), eval_batch)
    diff = np.abs(s_orig.astype(np.float64) - s_fold)
    p_orig, p_fold = s_orig.argmax(axis=1), s_fold.argmax(axis=1)
    nonzero = diff[diff > 0]
    counts, _ = np.histogram(np.log10(nonzero), bins=np.asarray(DIFF_BINS))
    pick = np.random.default_rng(pick_seq).choice(diff.size, size=min(config.scatter_points, diff.size),
                                                  replace=False)

    timings = {}
    for bs in config.timing_batch_sizes:
        times = time_inference({"original": net, "folded": folded}, x, bs, config.repeats)
        best = {name: best_time(t) for name, t in times.items()}
        timings[str(bs)] = {"original": times["original"].sum(axis=1).tolist(),  # per repeat, whole pass
                            "folded": times["folded"].sum(axis=1).tolist(),
                            "best_original": best["original"], "best_folded": best["folded"],
                            "speedup": best["original"] / best["folded"]}
    return {
        "dataset": data.name, "n_train": int(len(data.x_train)), "n_test": int(len(x)),
        "dtype": str(s_orig.dtype),
        "test_acc_curve": history.series("test_acc"),
        "layers": {"original": {"Linear": _count(net, "Linear"), "BatchNorm": _count(net, "BatchNorm"),
                                "parameters": net.num_parameters()},
                   "folded": {"Linear": _count(folded, "Linear"), "BatchNorm": _count(folded, "BatchNorm"),
                              "parameters": folded.num_parameters()}},
        "max_abs_diff": float(diff.max()),
        "mean_abs_diff": float(diff.mean()),
        "max_abs_score": float(np.abs(s_orig).max()),
        "exact_fraction": float((diff == 0).mean()),
        "max_abs_error_original": float(np.abs(s_orig - s_ref).max()),
        "max_abs_error_folded": float(np.abs(s_fold - s_ref).max()),
        "agreement": float((p_orig == p_fold).mean()),
        "n_disagree": int((p_orig != p_fold).sum()),
        "test_acc_original": float((p_orig == t).mean()),
        "test_acc_folded": float((p_fold == t).mean()),
        "diff_histogram": {"log10_edges": list(DIFF_BINS), "counts": counts.tolist(),
                           "zeros": int((diff == 0).sum()), "below": int((nonzero < 10 ** DIFF_BINS[0]).sum()),
                           "above": int((nonzero >= 10 ** DIFF_BINS[-1]).sum())},
        "scatter": {"score": s_orig.ravel()[pick].astype(float).tolist(), "diff": diff.ravel()[pick].tolist()},
        "timing": timings,
    }


def check(metrics: dict, config: Config) -> list[Claim]:
    lay = metrics["layers"]
    claims = [CLAIMS.claim(
        "same-outputs",
        f"Folding BatchNorm into the Linear layers keeps the eval-mode outputs: max |score difference| "
        f"<= {config.tolerance:g} x max(1, max |score|) ({metrics['dtype']})",
        # Relative to the scores' size: float32 rounding grows with the magnitude of what is rounded.
        metrics["max_abs_diff"] <= config.tolerance * max(1.0, metrics["max_abs_score"])
        and lay["folded"]["BatchNorm"] == 0,
        f"max |difference| {metrics['max_abs_diff']:.2e} (mean {metrics['mean_abs_diff']:.1e}, scores up to "
        f"{metrics['max_abs_score']:.1f}, {metrics['exact_fraction']:.0%} bit-identical) over "
        f"{metrics['n_test']} test images; against a float64 reference the original is off by "
        f"{metrics['max_abs_error_original']:.1e} and the folded by {metrics['max_abs_error_folded']:.1e}; "
        f"BatchNorm layers {lay['original']['BatchNorm']} -> {lay['folded']['BatchNorm']}, parameters "
        f"{lay['original']['parameters']} -> {lay['folded']['parameters']}",
        values={"max |score difference|": metrics["max_abs_diff"],
                "allowed": config.tolerance * max(1.0, metrics["max_abs_score"]),
                "BatchNorm layers left": lay["folded"]["BatchNorm"]})]
    claims.append(CLAIMS.claim(
        "same-predictions",
        "The folded network predicts the same class for every test image (same test accuracy)",
        metrics["n_disagree"] == 0 and metrics["test_acc_original"] == metrics["test_acc_folded"],
        f"agreement {metrics['agreement']:.4%} ({metrics['n_disagree']} of {metrics['n_test']} differ); "
        f"test accuracy {metrics['test_acc_original']:.4f} original, {metrics['test_acc_folded']:.4f} folded",
        values={"test images predicted differently": metrics["n_disagree"],
                "test accuracy, original": metrics["test_acc_original"],
                "test accuracy, folded": metrics["test_acc_folded"]}))
    timing = metrics["timing"]
    parts = [f"batch {bs}: {r['best_original'] * 1e3:.1f} ms -> {r['best_folded'] * 1e3:.1f} ms "
             f"(x{r['speedup']:.2f})" for bs, r in timing.items()]
    claims.append(CLAIMS.claim(
        "faster-inference",
        "Folded inference is faster: the same forward pass over the test set takes less time at every "
        "timed batch size",
        all(r["speedup"] > 1.0 for r in timing.values()),
        f"each batch's fastest of {config.repeats} interleaved repeats, summed over {metrics['n_test']} "
        f"images; " + "; ".join(parts),
        values={f"speedup, batch {bs}": r["speedup"] for bs, r in timing.items()}))
    return claims


def book(metrics: dict, config: Config) -> list[BookValue]:
    rows = [BookValue("test accuracy, original -> folded", None,
                      f"{metrics['test_acc_original']:.4f} -> {metrics['test_acc_folded']:.4f}",
                      f"after {config.epochs} epochs on {metrics['n_train']} images; no published number")]
    for bs, r in metrics["timing"].items():
        rows.append(BookValue(f"inference speedup from folding (batch {bs})", None, round(r["speedup"], 3),
                              "seed 003 says BatchNorm reduces to one multiply and one add at inference; "
                              "it gives no timing"))
    return rows


register(ExperimentSpec(
    name=NAME,
    title="Folding BatchNorm into the preceding Linear layers for inference",
    summary="A 784-100x4-10 BatchNorm MLP trained briefly on MNIST, folded with fold_batchnorm: output "
            "differences, prediction agreement, test accuracy and inference time before and after.",
    config_cls=Config, run=run, check=check, plot=plot_bn_folding, book=book,
    quick={"n_train": 2000, "n_test": 2000, "epochs": 1, "timing_batch_sizes": (2000, 100), "repeats": 3},
    claims=CLAIMS,
    seeds=5,  # what make run gives it (see docs/experiments.md)
))
