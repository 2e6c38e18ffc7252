"""A shallow sigmoid network on ten 2-D Gaussian clusters: decision regions, curves, saved files.

The classic example: ten centres uniform in [-8, 8]^2, 100 points around each
(standard deviation 1), a Linear(2, 128) -> Sigmoid -> Linear(128, 10) network
(softmax in the loss) trained with Adam at Keras's defaults (lr 0.001, eps 1e-7
in the "epsilon hat" form, Glorot-uniform weights, zero biases), batch 32,
reshuffled each epoch, for the example's 1000 epochs. The data come from
:func:`trainlab.data.make_clusters` with the run's seed; ``legacy=True`` draws
them exactly as the example did (with seed 0, its very points).

The clusters overlap, so no classifier gets every training point right. The
yardstick is the nearest-centre rule with the class means of the same data:
for equal, isotropic Gaussian classes the nearest true centre is the Bayes
decision, so a network that matches it has learnt what there is to learn.

The example saves the data set and the trained parameters as ``.npz``; here the
data set goes through :func:`trainlab.data.save_npz` (its ``inputs``/``labels``
layout) and the model through :func:`trainlab.checkpoint.save`. ``run`` cannot
see the output folder, so it stores both in the metrics, proves the round trip
in a temporary folder, and :func:`artifacts` (the experiment's artifacts hook, run
with or without figures) writes the real files next to the metrics and checks them again.

Reference: seed 003 (shallow network with Keras, 1000 epochs); Saito, *Deep
Learning from Scratch*, sec. 6.1.6 (Adam).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainlab.errors import ConfigError
from trainlab.experiments.base import BookValue, Claim, ClaimTable, ExperimentSpec, register
from trainlab.experiments.common import check_above_zero, settings
from trainlab.plots.clusters_2d import plot_clusters_2d
from trainlab.validation import check_positive, check_real

NAME = "clusters-2d"
OWNER = f"experiment {NAME}"

#: The claims ``check`` decides: key -> source (seed statements of the ledger, book sections, papers).
CLAIMS = ClaimTable(NAME, {
    "fits-like-nearest-centre": "seed 003, its shallow-network example (Keras, 1000 epochs), which states no result",
    "saved-files-load-back": "seed 003, its shallow-network example, "
        "which saves the data set and the parameters as .npz",
})

DATASET_FILE = "clusters-dataset.npz"
MODEL_FILE = "clusters-model.npz"


@dataclass(frozen=True)
class Config:
    n_centers: int = 10
    n_per_center: int = 100
    low: float = -8.0
    high: float = 8.0
    noise_std: float = 1.0
    legacy: bool = False
    hidden_size: int = 128
    epochs: int = 1000
    batch_size: int = 32
    lr: float = 1e-3
    grid_size: int = 150
    margin: float = 1.5
    accuracy_slack: float = 0.02

    def __post_init__(self):
        check_positive(OWNER, **settings(self, "n_per_center", "hidden_size", "epochs", "batch_size"))
        if self.n_centers < 2:
            raise ConfigError(f"{OWNER}: n_centers must be >= 2 to classify anything, got {self.n_centers}")
        if not self.high > self.low:
            raise ConfigError(f"{OWNER}: high must exceed low, got low={self.low}, high={self.high}")
        check_real(OWNER, "noise_std", self.noise_std, low=0.0)
        check_above_zero(OWNER, self, "lr")
        check_real(OWNER, "grid_size", self.grid_size, low=2, high=1000)
        check_real(OWNER, "margin", self.margin, low=0.0)
        check_real(OWNER, "accuracy_slack", self.accuracy_slack, low=0.0, high=1.0, high_open=True)


def build_model(config: Config, rng: np.random.Generator | None = None):
    """Linear(2, hidden) -> Sigmoid -> Linear(hidden, n_centers), Keras's Glorot-uniform init."""
    from trainlab.layers.activations import Sigmoid
    from trainlab.layers.base import Sequential
    from trainlab.layers.linear import Linear

    rng = np.random.default_rng(0) if rng is None else rng
    return Sequential(Linear(2, config.hidden_size, weight_init="xavier-uniform", rng=rng), Sigmoid(),
                      Linear(config.hidden_size, config.n_centers, weight_init="xavier-uniform", rng=rng))


def nearest_centre(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre for each point: (N, 2), (K, 2) -> (N,)."""
    d2 = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=-1)  # (N, K)
    return d2.argmin(axis=1)


def predict_classes(model, points: np.ndarray, batch: int = 8192) -> np.ndarray:
    return np.concatenate([model.forward(points[i:i + batch], train=False).argmax(axis=1)
                           for i in range(0, len(points), batch)])


# ---- saved files --------------------------------------------------------------------

def _arrays_from_metrics(metrics: dict, config: Config):
    x = np.asarray(metrics["data"]["x"], np.float32)
    t = np.asarray(metrics["data"]["t"], np.int64)
    model = build_model(config)
    model.load_state_dict({k: np.asarray(v, np.float32) for k, v in metrics["params"].items()})
    return x, t, model


def write_artifacts(x, t, model, metadata: dict, out_dir) -> list[Path]:
    """The data set (inputs/labels) and the trained model (a trainlab checkpoint) as .npz files."""
    from trainlab.checkpoint import save
    from trainlab.data.synthetic import save_npz

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [save_npz(out / DATASET_FILE, x, t), save(model, out / MODEL_FILE, metadata=metadata)]


def verify_artifacts(paths, x, t, model) -> dict:
    """Load the files back and compare bit for bit with the arrays and model they were written from."""
    from trainlab.checkpoint import load_checkpoint
    from trainlab.data.synthetic import load_npz

    x2, t2 = load_npz(paths[0])
    loaded, _ = load_checkpoint(paths[1])  # rebuilt from the stored architecture, not from ``model``
    mine, theirs = model.state_dict(), loaded.state_dict()
    same_params = mine.keys() == theirs.keys() and all(
        mine[k].dtype == theirs[k].dtype and np.array_equal(mine[k], theirs[k]) for k in mine)
    scores, scores2 = model.forward(x, train=False), loaded.forward(x2, train=False)
    return {
        "files": [Path(p).name for p in paths],
        "bytes": [Path(p).stat().st_size for p in paths],
        "dataset_identical": bool(x2.dtype == x.dtype and t2.dtype == t.dtype
                                  and np.array_equal(x2, x) and np.array_equal(t2, t)),
        "params_identical": bool(same_params),
        "n_arrays": len(theirs),
        "max_abs_score_diff": float(np.abs(scores.astype(np.float64) - scores2).max()),
        "predictions_identical": bool(np.array_equal(scores.argmax(1), scores2.argmax(1))),
    }


def artifacts(metrics: dict, config: Config, out_dir) -> list[Path]:
    """Write the data set and model into ``out_dir`` and check they load back; returns their paths.

    A hook for data products beside the figures; raises when a file does not
    read back identically, so a broken file never passes silently.
    """
    x, t, model = _arrays_from_metrics(metrics, config)
    paths = write_artifacts(x, t, model, metrics["checkpoint_metadata"], out_dir)
    found = verify_artifacts(paths, x, t, model)
    if not (found["dataset_identical"] and found["params_identical"] and found["max_abs_score_diff"] == 0):
        raise RuntimeError(f"saved files do not load back identically: {found}")
    return paths


# ---- the experiment -------------------------------------------------------------------

def run(config: Config, seed: int = 0) -> dict:
    """Train on the clusters; curves, the decision grid, the data, the parameters and a save/load check."""
    from trainlab.data.synthetic import make_clusters
    from trainlab.optim import create_optimizer
    from trainlab.training import Trainer

    x, t = make_clusters(config.n_centers, config.n_per_center, config.low, config.high, config.noise_std,
                         seed=seed, legacy=config.legacy)
    init_seq, shuffle_seq = np.random.SeedSequence(seed).spawn(2)
    model = build_model(config, np.random.default_rng(init_seq))
    optimizer = create_optimizer("adam-keras", model, lr=config.lr)
    trainer = Trainer(model, optimizer, batch_size=config.batch_size, epochs=config.epochs,
                      seed=int(shuffle_seq.generate_state(1)[0]), progress=False)
    history = trainer.fit(x, t)
    per_epoch = -(-len(x) // config.batch_size)
    batch_loss = np.asarray(history.loss).reshape(config.epochs, per_epoch).mean(axis=1)

    # The Bayes-like yardstick: nearest class mean, on the same points and on the grid.
    means = np.stack([x[t == k].mean(axis=0) for k in range(config.n_centers)])
    nc_train = nearest_centre(x, means)
    lo, hi = x.min(axis=0) - config.margin, x.max(axis=0) + config.margin
    gx = np.linspace(lo[0], hi[0], config.grid_size)
    gy = np.linspace(lo[1], hi[1], config.grid_size)
    X, Y = np.meshgrid(gx, gy)  # (G, G), rows follow y
    grid = np.stack([X.ravel(), Y.ravel()], axis=1).astype(np.float32)  # (G*G, 2)
    grid_net = predict_classes(model, grid).reshape(X.shape)
    grid_nc = nearest_centre(grid, means).reshape(X.shape)
    near = (((grid[:, None, :] - means[None]) ** 2).sum(-1).min(axis=1)
            <= (3 * max(config.noise_std, 1e-12)) ** 2).reshape(X.shape)  # within 3 sd of a centre

    train_pred = predict_classes(model, x)
    metrics = {
        "n_points": int(len(x)),
        "epochs": history.series("epoch"),
        "train_loss": history.series("train_loss"),
        "train_acc": history.series("train_acc"),
        "batch_loss_mean": batch_loss.tolist(),
        "final_train_acc": float((train_pred == t).mean()),
        "final_train_loss": history.last("train_loss"),
        "nearest_centre_acc": float((nc_train == t).mean()),
        "agreement_with_nearest_centre": float((train_pred == nc_train).mean()),
        "grid": {"x": [float(lo[0]), float(hi[0])], "y": [float(lo[1]), float(hi[1])],
                 "net": grid_net.astype(np.int64).tolist(), "nearest_centre": grid_nc.astype(np.int64).tolist(),
                 "agreement_near_data": float((grid_net == grid_nc)[near].mean())},
        "class_means": means.tolist(),
        "data": {"x": x.tolist(), "t": t.tolist()},
        "params": {k: v.tolist() for k, v in model.state_dict().items()},
        "checkpoint_metadata": {"experiment": "clusters-2d", "seed": int(seed), "epochs": config.epochs,
                                "train_acc": float((train_pred == t).mean())},
    }
    # Prove the save/load round trip from what the metrics hold (the same path artifacts() takes).
    with tempfile.TemporaryDirectory() as tmp:
        x2, t2, model2 = _arrays_from_metrics(metrics, config)
        paths = write_artifacts(x2, t2, model2, metrics["checkpoint_metadata"], tmp)
        roundtrip = verify_artifacts(paths, x, t, model)
    metrics["saved"] = roundtrip
    return metrics


def check(metrics: dict, config: Config) -> list[Claim]:
    acc, nc = metrics["final_train_acc"], metrics["nearest_centre_acc"]
    claims = [CLAIMS.claim(
        "fits-like-nearest-centre",
        f"The network fits the overlapping clusters as well as the nearest-centre (Bayes-like) rule: "
        f"training accuracy >= nearest-centre accuracy - {config.accuracy_slack:g}",
        acc >= nc - config.accuracy_slack,
        f"training accuracy {acc:.3f} after {config.epochs} epochs (loss {metrics['final_train_loss']:.3f}); "
        f"nearest class mean on the same {metrics['n_points']} points {nc:.3f}; the two agree on "
        f"{metrics['agreement_with_nearest_centre']:.1%} of the points and on "
        f"{metrics['grid']['agreement_near_data']:.1%} of the grid within 3 sd of a centre",
        values={"network training accuracy": acc, "nearest-centre accuracy": nc, "slack": config.accuracy_slack,
                "agreement with nearest centre": metrics["agreement_with_nearest_centre"]})]
    s = metrics["saved"]
    claims.append(CLAIMS.claim(
        "saved-files-load-back",
        "The saved data set and model load back identically (arrays bit for bit, same predictions)",
        s["dataset_identical"] and s["params_identical"] and s["predictions_identical"]
        and s["max_abs_score_diff"] == 0.0,
        f"{s['files'][0]} ({s['bytes'][0]} bytes): identical {s['dataset_identical']}; {s['files'][1]} "
        f"({s['bytes'][1]} bytes, {s['n_arrays']} arrays): identical {s['params_identical']}; max |score "
        f"difference| of the reloaded model {s['max_abs_score_diff']:.1e}, same predictions "
        f"{s['predictions_identical']}",
        values={"max |score difference| of the reloaded model": s["max_abs_score_diff"],
                "data set identical": float(s["dataset_identical"]), "parameters identical": float(s["params_identical"]),
                "predictions identical": float(s["predictions_identical"])}))
    return claims


def book(metrics: dict, config: Config) -> list[BookValue]:
    return [
        BookValue(f"training accuracy after {config.epochs} epochs", None, round(metrics["final_train_acc"], 4),
                  "the example prints a running accuracy per epoch but publishes no value"),
        BookValue("nearest-centre accuracy on the same points", None, round(metrics["nearest_centre_acc"], 4),
                  "our yardstick; not in the example"),
    ]


register(ExperimentSpec(
    name=NAME,
    title="A 2-128-10 sigmoid network on ten overlapping 2-D clusters",
    summary="Decision regions and learning curves of a shallow network trained with Adam (Keras defaults) "
            "on 1000 clustered points, compared with the nearest-centre rule; data set and model saved as .npz.",
    config_cls=Config, run=run, check=check, plot=plot_clusters_2d, book=book, artifacts=artifacts,
    quick={"epochs": 100, "grid_size": 60},
    claims=CLAIMS,
    seeds=5,  # what make run gives it (see docs/experiments.md)
))
