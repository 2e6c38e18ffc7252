"""Random search for the learning rate and weight decay, then a second round inside the best range.

Round 1 is the book's search: 100 trials with lr = 10^U(-6, -2) and weight
decay = 10^U(-8, -4), each training a 784-100x6-10 ReLU net with SGD for 50
epochs on 400 of the first 500 MNIST training images and scoring it on the
other 100 (a validation split shuffled with the seed; the test set is never
touched). Round 2 narrows the ranges to the log-box spanned by the best
``refine_top`` trials and samples again inside it, as the book suggests
("narrow the range and repeat").

A trial is the search engine's: :class:`trainlab.search.objective.BookObjective`
trains it and :func:`trainlab.search.objective.load_split` makes the
validation split, the same for both rounds (seeded with the experiment's
seed). By default Optuna's random sampler draws the trials
(:func:`trainlab.search.run_search`); ``engine="loop"`` draws them with
:func:`sample_trials` instead and runs them one after another in
:func:`search`, so a different sampler can replace the random one without
touching the rest.

Reference: Saito, *Deep Learning from Scratch*, sec. 6.5.3 and figure 6-24
(ch06/hyperparameter_optimization.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from trainlab.errors import ConfigError, NonFiniteError
from trainlab.experiments.base import BookValue, Claim, ClaimTable, ExperimentSpec, register
from trainlab.experiments.common import check_dataset, check_fractions, per_dataset, settings
from trainlab.plots.hyperparameter_search import plot_hyperparameter_search
from trainlab.search.objective import BookObjective, ObjectiveConfig, load_split
from trainlab.validation import check_choice, check_positive

#: Search space of round 1: name -> (low, high) of log10 of the value (the book's ranges).
BOOK_RANGES = {"weight_decay": (-8.0, -4.0), "lr": (-6.0, -2.0)}

#: The learning-rate band the book reads off its best trials.
BOOK_LR_BAND = (1e-3, 1e-2)

#: The band the best trials must fall in, per data set (``Config.lr_band`` overrides it). MNIST: the book's.
#: Fashion-MNIST: the same band, declared before any run on it. What makes a learning rate too small here
#: is how far 50 epochs of 4 SGD steps move the weights, which depends on the net, the number of steps and
#: the size of the gradients; Fashion-MNIST has the same 784 inputs in [0, 1] and 10 classes, and nothing
#: in the book or the seeds gives it another band. Synthetic (tests only): the same.
LR_BAND = {"mnist": BOOK_LR_BAND, "fashion-mnist": BOOK_LR_BAND, "synthetic": BOOK_LR_BAND}

NAME = "hyperparameter-search"
OWNER = f"experiment {NAME}"

#: The claims ``check`` decides: key -> source (seed statements of the ledger, book sections, papers).
CLAIMS = ClaimTable(NAME, {
    "best-lr-band": "seed 000 (S000-05), seed 003 (S003-01), seed 004 (S004-06); book 6.5.3, figure 6-24",
    "narrowing-pays": "book 6.5.3 (narrow the range and search again)",
})


@dataclass(frozen=True)
class Config:
    dataset: str = "mnist"
    n_samples: int = 500
    val_fraction: float = 0.2
    hidden_size: int = 100
    hidden_layers: int = 6
    epochs: int = 50
    batch_size: int = 100
    n_trials: int = 100
    lr_range: tuple[float, float] = BOOK_RANGES["lr"]
    weight_decay_range: tuple[float, float] = BOOK_RANGES["weight_decay"]
    top_k: int = 20
    refine_top: int = 10
    n_refine_trials: int = 30
    #: "optuna": trials run by trainlab.search (Optuna's random sampler); "loop": a plain loop here.
    engine: str = "optuna"
    #: (low, high) learning rates the best trials must lie in; None: :data:`LR_BAND`'s for the data set.
    lr_band: tuple[float, float] | None = None

    def __post_init__(self):
        check_choice(OWNER, "engine", self.engine, ("optuna", "loop"))
        check_dataset(OWNER, self.dataset)
        check_positive(OWNER, **settings(self, "n_samples", "hidden_size", "hidden_layers", "epochs", "batch_size",
                                         "n_trials", "n_refine_trials"))
        check_fractions(OWNER, self, "val_fraction", include_one=False)
        n_val = int(round(self.n_samples * self.val_fraction))
        if n_val < 1 or n_val >= self.n_samples:
            raise ConfigError(f"val_fraction {self.val_fraction} of {self.n_samples} samples leaves an empty split")
        for name in ("lr_range", "weight_decay_range"):
            low, high = getattr(self, name)
            if not low < high:
                raise ConfigError(f"{name} is (low, high) of log10 with low < high, got {(low, high)}")
        if not 1 <= self.top_k <= self.n_trials:
            raise ConfigError(f"top_k must be in [1, n_trials={self.n_trials}], got {self.top_k}")
        if self.lr_band is not None and not (len(self.lr_band) == 2 and 0 < self.lr_band[0] < self.lr_band[1]):
            raise ConfigError(f"{OWNER}: lr_band is (low, high) with 0 < low < high, got {self.lr_band!r}")
        if not 2 <= self.refine_top <= self.n_trials:
            raise ConfigError(f"refine_top must be in [2, n_trials={self.n_trials}] (a range needs two "
                              f"trials), got {self.refine_top}")

    @property
    def band(self) -> tuple[float, float]:
        """The learning-rate band of the claim: the setting, or the data set's from :data:`LR_BAND`."""
        return tuple(per_dataset(OWNER, self, "lr_band", LR_BAND))

    @property
    def n_val(self) -> int:
        return int(round(self.n_samples * self.val_fraction))

    def objective_config(self) -> ObjectiveConfig:
        """The search engine's settings for one trial: the book's SGD-trained ReLU net."""
        return ObjectiveConfig(dataset=self.dataset, n_samples=self.n_samples, val_fraction=self.val_fraction,
                               hidden_size=self.hidden_size, hidden_layers=self.hidden_layers,
                               epochs=self.epochs, batch_size=self.batch_size)


# ---- the search ------------------------------------------------------------------

def sample_trials(n: int, ranges: dict[str, tuple[float, float]], rng: np.random.Generator) -> list[dict]:
    """``n`` hyperparameter sets, each value 10^U(low, high) drawn independently (log-uniform).

    ``ranges`` maps a name to (low, high) of log10; names are drawn in the
    order given, one column at a time.
    """
    columns = {name: 10.0 ** rng.uniform(low, high, size=n) for name, (low, high) in ranges.items()}
    return [{name: float(col[i]) for name, col in columns.items()} for i in range(n)]


def _row(params: dict, val_curve, train_curve) -> dict:
    """One trial in this module's format; a trial without curves diverged (chance accuracy, not a crash)."""
    ok = len(val_curve) > 0
    return {**params, "val_acc": float(val_curve[-1]) if ok else 0.0,
            "train_acc": float(train_curve[-1]) if ok else 0.0,
            "val_curve": list(val_curve), "train_curve": list(train_curve), "diverged": not ok}


def train_trial(params: dict, train, val, config: Config, seed: int) -> dict:
    """Train one network with ``params`` (lr, weight_decay) by the search engine's objective; its curves."""
    try:
        _, history = BookObjective(config.objective_config()).train(params, seed, data=(train, val))
    except NonFiniteError:
        # Rare at lr <= 1e-2, but a diverged trial is a result (chance accuracy), not a crash.
        return _row(params, [], [])
    return _row(params, history.series("val_acc"), history.series("train_acc"))


def search(trials: list[dict], train, val, config: Config, rng: np.random.Generator,
           train_fn: Callable = train_trial) -> list[dict]:
    """Run every trial (the plain loop); each gets its own seed for weights and shuffling."""
    seeds = rng.integers(0, 2**31 - 1, size=len(trials))
    return [train_fn(params, train, val, config, int(s)) for params, s in zip(trials, seeds)]


def ranked(results: list[dict]) -> list[dict]:
    """Best first by final validation accuracy (the book's ranking); ties keep trial order."""
    order = sorted(range(len(results)), key=lambda i: -results[i]["val_acc"])
    return [results[i] for i in order]


def log_box(results: list[dict], names=("lr", "weight_decay")) -> dict[str, tuple[float, float]]:
    """Smallest (low, high) of log10 per hyperparameter that holds every given trial."""
    return {n: (float(np.log10(min(r[n] for r in results))), float(np.log10(max(r[n] for r in results))))
            for n in names}


def _ranks(values) -> np.ndarray:
    """Ranks 0..n-1 with tied values sharing their mean rank (accuracies on 100 images tie often)."""
    v = np.asarray(values, np.float64)
    ranks = np.empty(v.size)
    ranks[np.argsort(v, kind="stable")] = np.arange(v.size)
    for value in np.unique(v):
        tied = v == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def _spearman(a, b) -> float:
    """Spearman rank correlation of two sequences."""
    ra, rb = _ranks(a), _ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def _summary(results: list[dict]) -> dict:
    acc = np.array([r["val_acc"] for r in results])
    return {"n": len(results), "median_val_acc": float(np.median(acc)), "mean_val_acc": float(acc.mean()),
            "best_val_acc": float(acc.max()), "q25_val_acc": float(np.quantile(acc, 0.25)),
            "q75_val_acc": float(np.quantile(acc, 0.75)),
            "diverged": int(sum(r["diverged"] for r in results))}


def _round_with_optuna(ranges, objective: BookObjective, seed: int, n: int) -> list[dict]:
    """One round of log-uniform random search run by :mod:`trainlab.search`; rows in this module's format.

    ``seed`` seeds the sampler and the trials; the split is the objective's.
    The study lives in a temporary journal file: the experiment keeps its
    numbers in metrics.json, and the journal avoids SQLite's per-trial overhead.
    """
    import tempfile

    from trainlab.search.engine import run_search

    space = {k: {"low": 10.0 ** lo, "high": 10.0 ** hi, "log": True} for k, (lo, hi) in ranges.items()}
    with tempfile.TemporaryDirectory() as tmp:
        found = run_search(space, objective=objective, sampler="random", n_trials=n, out_dir=tmp,
                           storage=str(Path(tmp) / "study.journal"), seed=seed, plots=False, retrain=False,
                           verbose=False)
    rows = []
    for r in sorted(found.trials, key=lambda r: r["number"]):
        ok = r["state"] == "COMPLETE"
        rows.append(_row(r["params"], r["curve"] if ok else [], r["train_curve"] if ok else []))
    return rows


def run(config: Config, seed: int = 0) -> dict:
    """Both rounds of the search: every trial's hyperparameters and accuracy curves, and summaries."""
    sample_rng, trial_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    objective = BookObjective(config.objective_config(), seed=seed)  # one split for both rounds
    train, val = load_split(objective.config, objective.seed)

    def one_round(ranges, n: int, round_seed: int) -> list[dict]:
        if config.engine == "optuna":
            return _round_with_optuna(ranges, objective, round_seed, n)
        return search(sample_trials(n, ranges, sample_rng), train, val, config, trial_rng)

    ranges1 = {"weight_decay": tuple(config.weight_decay_range), "lr": tuple(config.lr_range)}
    round1 = one_round(ranges1, config.n_trials, seed)
    best1 = ranked(round1)
    ranges2 = log_box(best1[:config.refine_top], names=("weight_decay", "lr"))
    round2 = one_round(ranges2, config.n_refine_trials, seed + 1)

    log_lr_all = np.log10([r["lr"] for r in round1])
    log_lr_top = np.log10([r["lr"] for r in best1[:config.top_k]])
    log_wd_top = np.log10([r["weight_decay"] for r in best1[:config.top_k]])
    low, high = config.band
    top = best1[:config.top_k]
    return {
        "dataset": config.dataset, "n_train": int(len(train[0])), "n_val": int(len(val[0])),
        "ranges": {"round1": {k: list(v) for k, v in ranges1.items()},
                   "round2": {k: list(v) for k, v in ranges2.items()}},
        "round1": round1, "round2": round2,
        "summary": {"round1": _summary(round1), "round2": _summary(round2)},
        "top": {
            "k": config.top_k,
            "val_acc": [r["val_acc"] for r in top],
            "log_lr_span": float(log_lr_top.max() - log_lr_top.min()),
            "log_lr_span_all": float(log_lr_all.max() - log_lr_all.min()),
            "log_lr_iqr": float(np.subtract(*np.quantile(log_lr_top, [0.75, 0.25]))),
            "log_lr_iqr_all": float(np.subtract(*np.quantile(log_lr_all, [0.75, 0.25]))),
            "lr_min": float(10 ** log_lr_top.min()), "lr_max": float(10 ** log_lr_top.max()),
            "lr_median": float(10 ** np.median(log_lr_top)),
            "weight_decay_min": float(10 ** log_wd_top.min()), "weight_decay_max": float(10 ** log_wd_top.max()),
            "lr_band": [low, high],
            "fraction_in_band": float(np.mean([low <= r["lr"] <= high for r in top])),
        },
        # How strongly the final accuracy follows each hyperparameter over round 1.
        "spearman": {"lr": _spearman([r["lr"] for r in round1], [r["val_acc"] for r in round1]),
                     "weight_decay": _spearman([r["weight_decay"] for r in round1],
                                               [r["val_acc"] for r in round1])},
    }


# ---- claims, book numbers, figures --------------------------------------------------

def check(metrics: dict, config: Config) -> list[Claim]:
    top = metrics["top"]
    k = top["k"]
    low, high = top["lr_band"]
    narrow = top["log_lr_span"] <= 0.5 * top["log_lr_span_all"]
    in_band = top["fraction_in_band"] >= 0.8
    claims = [CLAIMS.claim(
        "best-lr-band",
        f"The best {k} trials concentrate in a narrow learning-rate band, roughly {low:g} to {high:g} "
        f"(their log10(lr) spans at most half of what all trials span, and >= 80% of them lie in the band)",
        narrow and in_band,
        f"top-{k} lr from {top['lr_min']:.2g} to {top['lr_max']:.2g} (median {top['lr_median']:.2g}): "
        f"{top['log_lr_span']:.2f} decades vs {top['log_lr_span_all']:.2f} over all "
        f"{metrics['summary']['round1']['n']} trials; {top['fraction_in_band']:.0%} in [{low:g}, {high:g}]; "
        f"their weight decay spans {top['weight_decay_min']:.1e} to {top['weight_decay_max']:.1e}; "
        f"rank correlation of val acc with lr {metrics['spearman']['lr']:.2f}, with weight decay "
        f"{metrics['spearman']['weight_decay']:.2f}",
        values={f"top {k}: decades of lr": top["log_lr_span"], "all trials: decades of lr": top["log_lr_span_all"],
                f"top {k}: fraction in the band": top["fraction_in_band"], "fraction threshold": 0.8,
                f"top {k}: median lr": top["lr_median"]})]
    s1, s2 = metrics["summary"]["round1"], metrics["summary"]["round2"]
    r2 = metrics["ranges"]["round2"]
    claims.append(CLAIMS.claim(
        "narrowing-pays",
        "Narrowing the ranges to the best trials' region pays: the second round's median validation "
        "accuracy beats the first round's",
        s2["median_val_acc"] > s1["median_val_acc"],
        f"median val acc: round 1 {s1['median_val_acc']:.3f} ({s1['n']} trials), round 2 "
        f"{s2['median_val_acc']:.3f} ({s2['n']} trials in lr 10^[{r2['lr'][0]:.2f}, {r2['lr'][1]:.2f}], "
        f"weight decay 10^[{r2['weight_decay'][0]:.2f}, {r2['weight_decay'][1]:.2f}]); "
        f"best: {s1['best_val_acc']:.3f} vs {s2['best_val_acc']:.3f}",
        values={"round 1: median val acc": s1["median_val_acc"], "round 2: median val acc": s2["median_val_acc"],
                "round 1: best val acc": s1["best_val_acc"], "round 2: best val acc": s2["best_val_acc"]}))
    return claims


def book(metrics: dict, config: Config) -> list[BookValue]:
    top = metrics["top"]
    k = top["k"]
    accs = top["val_acc"]
    return [
        BookValue(f"learning rate of the best trials (top {k})", "0.001 ~ 0.01",
                  f"{top['lr_min']:.2g} ~ {top['lr_max']:.2g}", "book: read from its best 5 (sec. 6.5.3)"),
        BookValue(f"weight decay of the best trials (top {k})", "1e-8 ~ 1e-6",
                  f"{top['weight_decay_min']:.1e} ~ {top['weight_decay_max']:.1e}",
                  f"rank correlation of val acc with weight decay over round 1: "
                  f"{metrics['spearman']['weight_decay']:.2f} (with lr: {metrics['spearman']['lr']:.2f})"),
        BookValue("best validation accuracy (Best-1)", 0.83, round(accs[0], 3),
                  "approximate: one run printed in the book; 100 validation images, so steps of 0.01"),
        BookValue("validation accuracy of Best-5", 0.77, round(accs[min(4, len(accs) - 1)], 3),
                  "approximate, read from the book's listing for figure 6-24"),
        BookValue("median validation accuracy, round 1 -> round 2", None,
                  f"{metrics['summary']['round1']['median_val_acc']:.3f} -> "
                  f"{metrics['summary']['round2']['median_val_acc']:.3f}",
                  "the book describes narrowing the range but runs no second round"),
    ]


register(ExperimentSpec(
    name=NAME,
    title="Random search for learning rate and weight decay, then a narrowed second round",
    summary="The book's 100 log-uniform trials (lr 1e-6..1e-2, weight decay 1e-8..1e-4) of a 784-100x6-10 "
            "net on 500 MNIST images, the best 20 curves as in figure 6-24, and a second round sampled "
            "inside the best trials' range.",
    config_cls=Config, run=run, check=check, plot=plot_hyperparameter_search, book=book,
    quick={"n_trials": 20, "epochs": 30, "hidden_layers": 2, "hidden_size": 50, "top_k": 5, "refine_top": 5,
           "n_refine_trials": 10},
    claims=CLAIMS,
))
