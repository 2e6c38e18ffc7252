"""The ``trainlab`` command line: train a network, fetch data, list what is available."""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Sequence

from trainlab import __version__
from trainlab.cliargs import fraction, nonnegative_float, positive_float, positive_int, sizes
from trainlab.errors import TrainlabError


def _init_spec(text: str):
    try:
        return float(text)
    except ValueError:
        return text


#: Schedules the train command offers, each fitted to the run's length.
RUN_SCHEDULES = {
    "cosine": "half a cosine from lr to 0",
    "step": "lr x 0.1 after half and again after three quarters of the epochs",
    "exponential": "lr decays to 1% of itself by the end",
    "warmup-cosine": "one epoch of linear warm-up, then cosine",
}


def schedule_for_run(name: str, lr: float, steps_per_epoch: int, epochs: int):
    """A schedule object for ``name`` spanning ``epochs`` epochs of ``steps_per_epoch`` updates."""
    from trainlab.optim import Chain, CosineDecay, ExponentialDecay, LinearWarmup, StepDecay

    total = steps_per_epoch * epochs
    if name == "cosine":
        return CosineDecay(lr, total_steps=total)
    if name == "step":
        half, three_quarters = max(1, total // 2), max(2, (3 * total) // 4)
        return Chain([StepDecay(lr, step_size=total + 1), StepDecay(lr * 0.1, step_size=total + 1),
                      StepDecay(lr * 0.01, step_size=total + 1)], [half, three_quarters])
    if name == "exponential":
        return ExponentialDecay(lr, gamma=0.01 ** (1 / max(1, total)))
    if name == "warmup-cosine":
        return LinearWarmup(CosineDecay(lr, total_steps=max(1, total - steps_per_epoch)), steps_per_epoch)
    raise ValueError(f"unknown schedule {name!r}")


#: Options of the train command that only the MLP has, and the MLP's defaults for them.
MLP_OPTIONS = {"hidden": [100, 100, 100, 100], "activation": "relu", "init": "he", "batchnorm": False,
               "dropout": 0.0}


def _train_models() -> list[str]:
    from trainlab.models import CNN_MODELS

    return ["mlp", *CNN_MODELS.names_in_order()]


def add_train_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train a network on MNIST or Fashion-MNIST and save a checkpoint",
        description="Train the book's multi-layer network or one of the CNNs with any optimizer, print the "
                    "test accuracy, and save the model, its metrics and the resolved configuration.")
    p.add_argument("--model", default="mlp", choices=_train_models(),
                   help="network: the MLP or a CNN (default: mlp)")
    p.add_argument("--dataset", default="mnist", help="mnist or fashion-mnist (default: mnist)")
    p.add_argument("--hidden", type=sizes, default=None,
                   help="MLP hidden layer sizes, comma-separated (default: 100,100,100,100)")
    p.add_argument("--activation", default=None,
                   help="MLP activation: relu, sigmoid, tanh, leaky-relu (default: relu)")
    p.add_argument("--init", type=_init_spec, default=None,
                   help="MLP weight initialiser name or std, e.g. he, xavier, 0.01 (default: he)")
    p.add_argument("--batchnorm", action="store_true", default=None, help="MLP: BatchNorm after each hidden Linear")
    p.add_argument("--dropout", type=fraction, default=None, help="MLP dropout probability (default: 0)")
    p.add_argument("--l2-penalty", "--weight-decay", dest="l2_penalty", type=nonnegative_float, default=0.0,
                   metavar="LAMBDA",
                   help="the book's weight decay: lambda/2 * sum ||W||^2 added to the loss, lambda*W to the "
                        "weights' gradients, for every model and optimizer (Trainer(l2_penalty=)); "
                        "--weight-decay is the same option under its old name (default: 0)")
    p.add_argument("--augment", default=None,
                   help='augmentation of the training batches, e.g. "shift:2" or "shift:2 hflip" (default: none)')
    p.add_argument("--optimizer", default="adam", help="optimizer name (see 'trainlab list optimizers')")
    p.add_argument("--lr", type=positive_float, default=None, help="learning rate (default: the optimizer's)")
    p.add_argument("--schedule", default=None, choices=list(RUN_SCHEDULES),
                   help="learning-rate schedule over the run: " + "; ".join(f"{k}: {v}" for k, v in RUN_SCHEDULES.items()))
    p.add_argument("--epochs", type=positive_int, default=5, help="epochs (default: 5)")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="mini-batch size (default: 128 for the MLP, 100 for the CNNs)")
    p.add_argument("--validation", type=fraction, default=0.0,
                   help="fraction of the training set held out for validation (default: 0)")
    p.add_argument("--seed", type=int, default=0, help="seed for weights, dropout and shuffling (default: 0)")
    p.add_argument("--out", type=Path, default=Path("runs/train"), help="output folder (default: runs/train)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)


def cmd_train(args) -> int:

    from trainlab.checkpoint import save
    from trainlab.data import build_pipeline, load_dataset
    from trainlab.errors import ConfigError
    from trainlab.models import MultiLayerNet, create_model
    from trainlab.optim import create_optimizer, optimizer_defaults
    from trainlab.process import runtime
    from trainlab.training import Trainer

    is_mlp = args.model == "mlp"
    given = [name for name in MLP_OPTIONS if getattr(args, name) is not None]
    if not is_mlp and given:
        raise ConfigError(f"--{given[0]} applies to --model mlp only; the CNNs have fixed architectures "
                          f"({args.model} was chosen)")
    for name, default in MLP_OPTIONS.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    if args.batch_size is None:
        args.batch_size = 128 if is_mlp else 100
    data = load_dataset(args.dataset, normalize=True, flatten=is_mlp, validation=args.validation, seed=args.seed)
    n_classes = int(data.t_train.max()) + 1
    if is_mlp:
        model = MultiLayerNet(data.x_train.shape[1], args.hidden, n_classes, activation=args.activation,
                              weight_init=args.init, use_batchnorm=args.batchnorm, dropout=args.dropout,
                              seed=args.seed)
        described = (f"{model.num_parameters():,}-parameter MLP {data.x_train.shape[1]}-"
                     f"{'-'.join(map(str, args.hidden))}-{n_classes}")
    else:
        model = create_model(args.model, input_shape=data.x_train.shape[1:], n_classes=n_classes, seed=args.seed)
        described = (f"{model.num_parameters():,}-parameter {type(model).__name__} "
                     f"({model.flops_per_sample():,} multiply-adds per image)")
    # Flattened MLP input is augmented as the 28x28 images it came from.
    image_shape = (1, 28, 28) if is_mlp else data.x_train.shape[1:]
    augment = build_pipeline(args.augment, image_shape=image_shape) if args.augment else None
    hyper = {}
    per_epoch = -(-data.x_train.shape[0] // args.batch_size)
    if args.schedule is not None:
        base_lr = args.lr if args.lr is not None else optimizer_defaults(args.optimizer)["lr"]
        hyper["lr"] = schedule_for_run(args.schedule, base_lr, per_epoch, args.epochs)
    elif args.lr is not None:
        hyper["lr"] = args.lr
    optimizer = create_optimizer(args.optimizer, model.parameters(), **hyper)
    eval_sets = {"test": (data.x_test, data.t_test)}
    if data.x_val.shape[0]:
        eval_sets = {"val": (data.x_val, data.t_val), **eval_sets}
    trainer = Trainer(model, optimizer, batch_size=args.batch_size, epochs=args.epochs, seed=args.seed,
                      eval_sets=eval_sets, eval_train=10000, progress=not args.no_progress, augment=augment,
                      l2_penalty=args.l2_penalty, eval_batch_size=500)
    print(f"training {described} on {args.dataset} ({data.x_train.shape[0]:,} images) with "
          f"{args.optimizer}, {args.epochs} epochs, batch {args.batch_size}"
          + (f", augment {args.augment}" if args.augment else ""))
    with runtime(keep_freed_memory=True):
        start = time.perf_counter()
        history = trainer.fit(data.x_train, data.t_train)
        seconds = time.perf_counter() - start
    for record in history.epochs:
        parts = [f"epoch {record['epoch']:>3}"] + [f"{k} {v:.4f}" for k, v in record.items()
                                                  if k not in ("epoch", "iteration")]
        print("  ".join(parts))
    test_acc = history.last("test_acc")
    args.out.mkdir(parents=True, exist_ok=True)
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "func"}
    path = save(model, args.out / "model.npz", optimizer=optimizer,
                metadata={"config": config, "test_acc": test_acc, "seconds": seconds})
    metrics = {"config": config, "test_acc": test_acc, "train_seconds": seconds,
               "samples_per_second": history.iterations[-1] * args.batch_size / seconds if seconds else None,
               "history": history.to_dict()}
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=float))
    print(f"test accuracy: {test_acc:.4f}  ({seconds:.1f} s)")
    print(f"saved {path} and {args.out / 'metrics.json'}")
    return 0


def add_list_parser(subparsers) -> None:
    p = subparsers.add_parser("list", help="list optimizers (with their defaults), initialisers, schedules, "
                                           "activations, layers")
    p.add_argument("what", nargs="?", default="all",
                   choices=["all", "optimizers", "initialisers", "schedules", "activations", "layers"])
    p.set_defaults(func=cmd_list)


def cmd_list(args) -> int:
    from trainlab.init import INITIALISERS
    from trainlab.layers import ACTIVATIONS, LAYER_TYPES
    from trainlab.optim import OPTIMIZERS, SCHEDULES

    tables = {"optimizers": OPTIMIZERS, "initialisers": INITIALISERS, "schedules": SCHEDULES,
              "activations": ACTIVATIONS, "layers": LAYER_TYPES}
    for name, registry in tables.items():
        if args.what in ("all", name):
            print(f"{name}: {', '.join(registry.names())}")
    if args.what == "optimizers":
        _print_optimizer_defaults()
    return 0


def _print_optimizer_defaults() -> None:
    """Each registry name's hyperparameters and defaults, as its config dataclass declares them."""
    from trainlab.optim import OPTIMIZERS, optimizer_class, optimizer_defaults

    width = max(map(len, OPTIMIZERS.names()))
    for name in OPTIMIZERS.names():
        hyper = ", ".join(f"{k}={v!r}" for k, v in optimizer_defaults(name).items())
        print(f"  {name:<{width}}  {optimizer_class(name).__name__}({hyper})")


def _experiment_names() -> list[str]:
    from trainlab.experiments import EXPERIMENTS

    return EXPERIMENTS.names_in_order()


def _experiments_epilog() -> str:
    # Wrapped here, without breaking at hyphens, so that names like conv-filters stay whole.
    return textwrap.fill("experiments: " + ", ".join(_experiment_names()), width=78, break_on_hyphens=False)


def add_reproduce_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "reproduce", help="run the experiments and write report.html",
        description="Run every experiment (or those named with --only), save each one's figures and "
                    "metrics in its own folder, and write one self-contained report.html.",
        epilog=_experiments_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small data and few steps (about 2 minutes in all)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these experiments")
    p.add_argument("--out", type=Path, default=Path("reports/latest"), help="output folder (default: reports/latest)")
    p.add_argument("--seed", type=int, default=0, help="first seed of every experiment (default: 0)")
    p.add_argument("--seeds", type=int, metavar="N",
                   help="run every experiment with N seeds (--seed, --seed + 1, ...); a claim's verdict then "
                        "reads 'PASS 5/5' or 'FAIL 3/5' (default: the count each experiment declares, several "
                        "for the cheap ones)")
    p.add_argument("--dataset", default=None, metavar="NAME[,NAME]",
                   help="run the experiments that train on a data set on these (mnist, fashion-mnist, or "
                        "both comma-separated: one verdict column per data set); default: each one's own")
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes for the seeds and experiments (default: one per core; 1: all in "
                        "this process)")
    p.set_defaults(func=cmd_reproduce)


def cmd_reproduce(args) -> int:
    from trainlab.experiments import reproduce

    start = time.perf_counter()
    datasets = [d.strip() for d in args.dataset.split(",") if d.strip()] if args.dataset else None
    results, report = reproduce(args.only, args.out, quick=args.quick, seed=args.seed, seeds=args.seeds,
                                datasets=datasets, workers=args.workers)
    errors = [r.name for r in results if r.error and not r.missing_data]
    missing = [r.name for r in results if r.missing_data]
    shown = sum(r.passed for r in results)
    print(f"{shown}/{len(results)} experiments show every claim; report: {report} "
          f"({time.perf_counter() - start:.0f} s)")
    if missing:
        print(f"skipped for want of data: {', '.join(missing)} (see 'trainlab data fetch --help')", file=sys.stderr)
    if errors:
        print(f"experiments that raised: {', '.join(errors)} (see the report)", file=sys.stderr)
        return 1
    return 0


def add_exp_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "exp", help="run one experiment with overrides",
        description="Run one experiment; --set key=value changes a setting (type-checked).",
        epilog=_experiments_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", help="experiment name")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting; repeatable")
    p.add_argument("--quick", action="store_true", help="start from the quick settings")
    p.add_argument("--out", type=Path, default=Path("reports/exp"), help="output folder (default: reports/exp)")
    p.add_argument("--seed", type=int, default=0, help="the (first) seed (default: 0)")
    p.add_argument("--seeds", type=int, default=1, metavar="N",
                   help="run N seeds (--seed, --seed + 1, ...) in worker processes; verdicts read 'PASS 5/5' "
                        "(default: 1)")
    p.add_argument("--workers", type=int, metavar="N", help="worker processes for the seeds (default: one per core)")
    p.add_argument("--no-figures", action="store_true", help="compute the numbers only")
    p.add_argument("--show-config", action="store_true", help="print the resolved settings and exit")
    p.set_defaults(func=cmd_exp)


def cmd_exp(args) -> int:
    from trainlab.experiments import EXPERIMENTS, parse_overrides, run_experiment
    from trainlab.experiments.base import config_to_dict

    spec = EXPERIMENTS.get(args.name)
    overrides = parse_overrides(spec, args.overrides)
    if args.show_config:
        print(json.dumps(config_to_dict(spec.make_config(quick=args.quick, overrides=overrides)), indent=1))
        return 0
    from trainlab.process import runtime

    with runtime(keep_freed_memory=True):
        result = run_experiment(spec.name, args.out, quick=args.quick, seed=args.seed, seeds=args.seeds,
                                overrides=overrides, figures=not args.no_figures, workers=args.workers)
    for claim in result.claims:
        verdict = claim.verdict if claim.n > 1 else ("PASS" if claim.passed else "FAIL")
        print(f"  [{verdict}] {claim.statement}\n         {claim.evidence}")
        if claim.n > 1 and claim.values:
            print(f"         over {claim.n} seeds: {claim.spread_text()}")
    for row in result.book:
        print(f"  {row.quantity}: book {row.book}, measured {row.measured_text()}")
    print(f"wrote {args.out / result.folder}")
    return 1 if result.error else 0


def add_speedrun_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "speedrun", help="a fixed recipe to a target test accuracy, timed (docs/speedrun.md)",
        description="Train the fixed recipe for a target of the data set with several seeds; print the wall time "
                    "(data in the disk cache to the final test evaluation), epochs, test accuracy (mean, min, max) "
                    "and the machine, and write a JSON record. --ablate runs the recipe with one technique removed "
                    "at a time, each stopped at the recipe's time budget.")
    p.add_argument("dataset", choices=["mnist", "fashion-mnist"])
    p.add_argument("--target", type=fraction, default=None, metavar="ACC",
                   help="the target accuracy whose recipe runs, e.g. 0.995 (default: the data set's lowest)")
    p.add_argument("--seeds", type=positive_int, default=5, help="seeds 0, 1, ... (default: 5)")
    p.add_argument("--ablate", action="store_true", help="run the ablation instead of the speedrun")
    p.add_argument("--budget", type=positive_float, default=None, metavar="SECONDS",
                   help="--ablate: the time budget of each run (default: the recipe's time target)")
    p.add_argument("--out", type=Path, default=None, metavar="FILE.json",
                   help="where to write the JSON record (default: runs/speedrun-DATASET[-ablation].json)")
    p.set_defaults(func=cmd_speedrun)


def cmd_speedrun(args) -> int:
    from trainlab import speedrun

    recipe = speedrun.recipe_for(args.dataset, args.target)
    kind = "ablation" if args.ablate else "speedrun"
    print(f"{kind} {args.dataset}, recipe {recipe.name}: {recipe.describe()}; {args.seeds} seed(s)", flush=True)
    log = functools.partial(print, flush=True)
    if args.ablate:
        record = speedrun.run_ablation(args.dataset, recipe.target, args.seeds, budget=args.budget, log=log)
        print(speedrun.format_ablation(record))
    else:
        record = speedrun.run_speedrun(args.dataset, recipe.target, args.seeds, log=log)
        print(speedrun.format_speedrun(record))
    out = args.out or Path("runs") / f"speedrun-{args.dataset}{'-ablation' if args.ablate else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1))
    print(f"wrote {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trainlab",
        description="Training techniques for neural networks, implemented on NumPy and shown on real data.")
    parser.add_argument("--version", action="version", version=f"trainlab {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_reproduce_parser(subparsers)
    add_exp_parser(subparsers)
    add_train_parser(subparsers)
    from trainlab.data.cli import add_data_parser

    add_data_parser(subparsers)
    from trainlab.search.cli import add_search_parser

    add_search_parser(subparsers)
    add_list_parser(subparsers)
    add_speedrun_parser(subparsers)
    return parser


def limit_blas_threads() -> None:
    """Run NumPy's BLAS on one thread unless the user chose a number.

    trainlab's matrices are small (a batch of 100 by a few hundred units): a
    second BLAS thread gains little on an idle machine, and when any other
    program competes for the cores, spinning BLAS threads make training many
    times slower. Convolutional networks still use every core: trainlab splits
    their large passes over its own threads, which sleep while idle
    (``TRAINLAB_NUM_THREADS``, see :mod:`trainlab.threads`). Must run before
    NumPy is imported; set OPENBLAS_NUM_THREADS (or OMP_NUM_THREADS /
    MKL_NUM_THREADS) to override.
    """
    names = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    if any(name in os.environ for name in names):
        return
    for name in names:
        os.environ[name] = "1"


def main(argv: Sequence[str] | None = None) -> int:
    limit_blas_threads()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except TrainlabError as e:
        print(f"trainlab: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("trainlab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
