"""Running a recipe: one timed seed, a speedrun over seeds, and the ablation at the recipe's time budget.

The clock of a run starts with the data in the cache on disk (loading and
checking it is timed) and stops after the final test evaluation; nothing
else is timed and nothing is left out. The test set is read once, after
training: nothing during training looks at it (no early stopping, no choice).
With ``validation=N`` a run holds out ``N`` training images and scores on
them instead, never reading the test set: that is how recipes are chosen.

Each run enters :func:`trainlab.runtime` (trainlab's threads, BLAS on one
thread, freed memory kept) for its own length.
"""

from __future__ import annotations

import datetime
import os
import platform
import time
from typing import Any, Callable, Iterable

import numpy as np

from trainlab.errors import ConfigError
from trainlab.layers import softmax
from trainlab.process import blas_description, cpu_description, machine_speed, runtime
from trainlab.speedrun.recipes import (
    Recipe, ablation_variants, build_model, make_augmentation, make_loss, make_optimizer,
)
from trainlab.training import Callback, Trainer
from trainlab.validation import check_int, check_real

#: The validation split used to choose recipes: held out of the training set with this seed.
VALIDATION_SEED = 0


class _OutOfTime(Exception):
    """Raised inside Trainer.fit by :class:`Deadline` to stop training at the time budget."""


class Deadline(Callback):
    """Stop training after the step that ends past ``deadline`` (a ``time.perf_counter()`` value)."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def on_step_end(self, trainer, step, loss):
        if time.perf_counter() >= self.deadline:
            raise _OutOfTime


def machine() -> dict[str, Any]:
    """The processor (model name, family and model numbers, widest x86 vector extension), cores,
    trainlab's and BLAS's threads, the BLAS library with the kernels it runs (``blas``,
    :func:`trainlab.process.blas_description`), and how fast the machine multiplies and copies at
    the time (``speed``, :func:`trainlab.process.machine_speed`): the yardstick that lets records
    of different sittings be compared."""
    from trainlab.kernels import threads

    cpu = cpu_description()
    return {"processor": cpu["cpu"] or platform.machine(), "simd": cpu["simd"],
            "family": cpu["family"], "model": cpu["model"],
            "architecture": platform.machine(), "cores": os.cpu_count(),
            "trainlab_threads": threads.get_num_threads(),
            "blas_threads_env": os.environ.get("OPENBLAS_NUM_THREADS"), "numpy": np.__version__,
            "blas": blas_description(), "speed": machine_speed()}


def machine_text(m: dict[str, Any]) -> str:
    simd = f", {m['simd']}" if m.get("simd") else ""
    blas = m.get("blas") or {}
    kernels = f" ({blas['library']} {blas['kernels']} kernels)" if blas.get("kernels") else ""
    family = f" (family {m['family']}, model {m['model']})" if m.get("family") else ""
    speed = m.get("speed") or {}
    measured = (f"; one core's product {speed['gemm_gflops']:g} GFLOP/s, copy {speed['copy_gbps']:g} GB/s"
                if speed.get("gemm_gflops") else "")
    return (f"{m['processor']}{family}{simd}, {m['cores']} cores, trainlab threads {m['trainlab_threads']}, "
            f"numpy {m['numpy']}{kernels}{measured}")


def load_data(dataset: str, validation: int = 0):
    """The dataset as (N, 1, 28, 28) float32 images in [0, 1]; ``validation`` images held out of training."""
    from trainlab import data as data_module

    return data_module.load_dataset(dataset, normalize=True, flatten=False, validation=validation,
                                    seed=VALIDATION_SEED)


def predict(model, x, *, tta_hflip: bool = False, batch_size: int = 1000) -> np.ndarray:
    """Class probabilities (N, classes) in eval mode; with ``tta_hflip`` the mean over x and its mirror."""
    out = []
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size]
        p = softmax(model.forward(xb, train=False))
        if tta_hflip:
            p = (p + softmax(model.forward(np.ascontiguousarray(xb[..., ::-1]), train=False))) / 2
        out.append(p)
    return np.concatenate(out)


def run_recipe(recipe: Recipe, seed: int = 0, *, budget: float | None = None, validation: int = 0,
               data=None, threads: int | None = None, callbacks: Iterable[Callback] = ()) -> dict[str, Any]:
    """Train ``recipe`` with ``seed`` and score it once at the end; the record of the run.

    Parameters
    ----------
    recipe : Recipe
    seed : int
        Seeds the initial weights, the batches' order, augmentation and dropout.
    budget : float, optional
        Stop training at the first step that ends this many seconds after the clock started
        (then evaluate); the learning-rate schedule still spans the recipe's epochs.
    validation : int
        Hold out this many training images (seed :data:`VALIDATION_SEED`) and score on them;
        the test set is then never read. 0: train on all and score on the test set.
    data : DataSplits-like, optional
        ``x_train, t_train, x_val, t_val, x_test, t_test`` already in memory (tests, synthetic
        data); the clock then starts at the call. Default: :func:`load_data`, timed.
    threads : int, optional
        trainlab's threads (default: ``TRAINLAB_NUM_THREADS`` or one per core).
    callbacks : Callbacks passed to the Trainer (after the budget's).

    Returns
    -------
    dict with ``seconds`` (wall time, clock as in the module notes), ``train_seconds``,
    ``steps``, ``epochs`` (completed, fractional), ``stopped_at_budget``, ``test_acc`` or
    ``val_acc``, ``scored_on``, ``load_average`` (1-minute, at start and end), ``seed``.
    """
    seed = check_int("run_recipe", "seed", seed)
    validation = check_int("run_recipe", "validation", validation)
    if budget is not None:
        budget = check_real("run_recipe", "budget", budget, low=0.0, low_open=True)
    if data is not None and validation:
        raise ConfigError("run_recipe: give data with its own x_val, or validation=N, not both")
    load_start = os.getloadavg()[0]
    with runtime(threads, keep_freed_memory=True):
        start = time.perf_counter()
        if data is None:
            data = load_data(recipe.dataset, validation)
        x, t = data.x_train, data.t_train
        model = build_model(recipe, seed, input_shape=x.shape[1:], n_classes=10)
        per_epoch = -(-len(x) // recipe.batch_size)
        steps = max(1, int(round(recipe.epochs * per_epoch)))
        optimizer = make_optimizer(recipe, model, steps)
        extra = [Deadline(start + budget)] if budget is not None else []
        trainer = Trainer(model, optimizer, loss_fn=make_loss(recipe), batch_size=recipe.batch_size,
                          iterations=steps, seed=seed, eval_train=False, augment=make_augmentation(recipe),
                          callbacks=[*extra, *callbacks], progress=False)
        stopped = False
        try:
            trainer.fit(x, t)
        except _OutOfTime:
            stopped = True
        train_seconds = time.perf_counter() - start
        scored_on = "val" if validation else "test"
        if validation:
            x_score, t_score = data.x_val, data.t_val
        else:  # the test set, read here and only here
            x_score, t_score = data.x_test, data.t_test
        p = predict(model, x_score, tta_hflip=recipe.tta_hflip)
        acc = float((p.argmax(axis=1) == np.asarray(t_score)).mean())
        seconds = time.perf_counter() - start
    return {"recipe": recipe.name, "seed": seed, "seconds": seconds, "train_seconds": train_seconds,
            "steps": trainer.step, "planned_steps": steps, "epochs": trainer.step / per_epoch,
            "stopped_at_budget": stopped, "budget": budget, f"{scored_on}_acc": acc, "scored_on": scored_on,
            "n_train": int(len(x)), "n_scored": int(len(x_score)), "parameters": model.num_parameters(),
            "load_average": [load_start, os.getloadavg()[0]]}


def summarise(records: list[dict[str, Any]], key: str) -> dict[str, float]:
    """Mean, min and max of ``key`` and the median, min and max wall time over the records."""
    acc = np.array([r[key] for r in records])
    sec = np.array([r["seconds"] for r in records])
    return {"acc_mean": float(acc.mean()), "acc_min": float(acc.min()), "acc_max": float(acc.max()),
            "seconds_median": float(np.median(sec)), "seconds_min": float(sec.min()),
            "seconds_max": float(sec.max()), "epochs": float(np.mean([r["epochs"] for r in records])),
            "n": len(records)}


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_speedrun(dataset: str, target: float | None = None, seeds: int = 5, *, first_seed: int = 0,
                 validation: int = 0, recipe: Recipe | None = None, threads: int | None = None,
                 log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the recipe for ``dataset`` (and ``target``) with ``seeds`` seeds; the record with its summary.

    The summary holds the mean, min and max accuracy and the median wall time; ``met``
    says whether the recipe's targets were reached (mean accuracy >= target, median
    time <= time target). With ``validation`` the runs score on held-out training images.
    """
    from trainlab.speedrun.recipes import recipe_for

    seeds = check_int("run_speedrun", "seeds", seeds, low=1)
    recipe = recipe or recipe_for(dataset, target)
    key = "val_acc" if validation else "test_acc"
    records = []
    for seed in range(first_seed, first_seed + seeds):
        records.append(run_recipe(recipe, seed, validation=validation, threads=threads))
        if log:
            r = records[-1]
            log(f"  seed {seed}: {r[key]:.4f} in {r['seconds']:.1f} s ({r['epochs']:.2f} epochs, "
                f"load {r['load_average'][0]:.1f})")
    summary = summarise(records, key)
    return {"kind": "speedrun", "dataset": recipe.dataset, "recipe": recipe.to_dict(),
            "described": recipe.describe(), "scored_on": key[:-4], "date": _now(), "machine": machine(),
            "runs": records, "summary": summary,
            "met": {"accuracy": summary["acc_mean"] >= recipe.target,
                    "time": summary["seconds_median"] <= recipe.time_target}}


def run_ablation(dataset: str, target: float | None = None, seeds: int = 3, *, first_seed: int = 0,
                 budget: float | None = None, validation: int = 0, recipe: Recipe | None = None,
                 data=None, threads: int | None = None,
                 log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The recipe and each of its :func:`ablation_variants` at the same time budget, over ``seeds`` seeds.

    ``budget`` defaults to the recipe's time target. Within a seed the variants run one
    after the other (so a slow minute of the machine hurts all of them alike). Returns
    each variant's mean, min and max accuracy, mean steps and how many runs the budget
    stopped, and ``worth``: the full recipe's mean accuracy minus the variant's, in points.
    """
    from trainlab.speedrun.recipes import recipe_for

    seeds = check_int("run_ablation", "seeds", seeds, low=1)
    recipe = recipe or recipe_for(dataset, target)
    budget = recipe.time_target if budget is None else budget
    key = "val_acc" if validation else "test_acc"
    variants = ablation_variants(recipe)
    records: dict[str, list[dict]] = {name: [] for name in variants}
    for seed in range(first_seed, first_seed + seeds):
        for name, (_, variant) in variants.items():
            r = run_recipe(variant, seed, budget=budget, validation=validation, data=data, threads=threads)
            records[name].append(r)
            if log:
                log(f"  seed {seed} {name:16s} {r[key]:.4f}  {r['epochs']:.2f} epochs in {r['seconds']:.1f} s"
                    + (" (stopped at the budget)" if r["stopped_at_budget"] else ""))
    out: dict[str, Any] = {}
    for name, (what, _) in variants.items():
        s = summarise(records[name], key)
        s.update(changed=what, steps=float(np.mean([r["steps"] for r in records[name]])),
                 stopped=sum(r["stopped_at_budget"] for r in records[name]), runs=records[name])
        out[name] = s
    full = out["recipe"]["acc_mean"]
    worth = {name: 100 * (full - v["acc_mean"]) for name, v in out.items() if name != "recipe"}
    return {"kind": "ablation", "dataset": recipe.dataset, "recipe": recipe.to_dict(), "described": recipe.describe(),
            "budget": budget, "scored_on": key[:-4], "date": _now(), "machine": machine(), "variants": out,
            "worth_points": worth, "seeds": seeds}


def format_speedrun(record: dict[str, Any]) -> str:
    """The lines the command line prints for a speedrun record."""
    s, r = record["summary"], record["recipe"]
    what = "validation" if record["scored_on"] == "val" else "test"
    loads = ", ".join(f"{x['load_average'][0]:.1f}" for x in record["runs"])
    lines = [f"speedrun {record['dataset']}: recipe {r['name']} ({record['described']})",
             f"  {what} accuracy: mean {s['acc_mean']:.4f}, min {s['acc_min']:.4f}, max {s['acc_max']:.4f} "
             f"over {s['n']} seed(s) (target {r['target']:.3f}: "
             f"{'met' if record['met']['accuracy'] else 'missed'})",
             f"  wall time: median {s['seconds_median']:.1f} s (min {s['seconds_min']:.1f}, max "
             f"{s['seconds_max']:.1f}; target {r['time_target']:g} s: {'met' if record['met']['time'] else 'missed'})"
             f", {s['epochs']:.2f} epochs",
             f"  machine: {machine_text(record['machine'])}; load average at the starts {loads}"]
    return "\n".join(lines)


def format_ablation(record: dict[str, Any]) -> str:
    lines = [f"ablation of {record['recipe']['name']} at a budget of {record['budget']:g} s, "
             f"{record['seeds']} seed(s), {record['scored_on']} accuracy:"]
    for name, v in record["variants"].items():
        worth = record["worth_points"].get(name)
        lines.append(f"  {name:16s} {v['acc_mean']:.4f} (min {v['acc_min']:.4f}, max {v['acc_max']:.4f}), "
                     f"{v['epochs']:.2f} epochs" + ("" if worth is None else f"; the technique is worth "
                                                    f"{worth:+.2f} points") + f"  [{v['changed']}]")
    return "\n".join(lines)

