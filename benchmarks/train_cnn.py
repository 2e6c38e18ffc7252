"""Train one of trainlab's CNNs on MNIST or Fashion-MNIST and report its test accuracy.

Adam with a cosine-decayed learning rate, softmax cross-entropy, the
Trainer's seeded shuffling; optional augmentation of the training batches
(e.g. ``--augment "shift:2"``, or ``"shift:2 hflip"`` for Fashion-MNIST).
Prints, per epoch, the test accuracy and the epoch time, then the model's
parameters, FLOPs (multiply-adds per image), training time and final test
accuracy. ``--time-limit`` stops training at the first step after that many
seconds (the accuracy printed is then that of the partly trained model), and
``--out`` saves the resolved configuration, the results (per-epoch records
included) and a checkpoint.

    python benchmarks/train_cnn.py --model simple-convnet --dataset mnist --epochs 5
    python benchmarks/train_cnn.py --model deep-convnet --epochs 15 --time-limit 1800 --out runs/deep
    python benchmarks/train_cnn.py --model resnet --model-arg blocks_per_stage=3   # ResNet-20
    python benchmarks/train_cnn.py --summary     # parameters and FLOPs of every model
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from common import blas_description, cpu_description, machine_line, machine_speed

from trainlab.checkpoint import save
from trainlab.data import build_pipeline, load_dataset
from trainlab.kernels import threads
from trainlab.models import CNN_MODELS, create_model
from trainlab.optim import Adam
from trainlab.optim.schedules import CosineDecay
from trainlab.process import runtime
from trainlab.training import Callback, Trainer, evaluate


class TimeUp(Exception):
    """Raised by :class:`TimeLimit` to end training early."""


class TimeLimit(Callback):
    """Stop training after ``seconds``; also record each epoch's duration."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.epoch_times: list[float] = []

    def on_train_begin(self, trainer):
        self.start = self.epoch_start = time.perf_counter()

    def on_step_end(self, trainer, step, loss):
        if self.seconds is not None and time.perf_counter() - self.start > self.seconds:
            raise TimeUp

    def on_epoch_end(self, trainer, epoch, record):
        now = time.perf_counter()
        self.epoch_times.append(now - self.epoch_start)
        print(f"  epoch {epoch:3d}: loss {trainer.history.loss[-1]:.4f}, "
              + ", ".join(f"{k} {v:.4f}" for k, v in record.items() if k.endswith("acc"))
              + f", {self.epoch_times[-1]:.0f} s (incl. evaluation)", flush=True)
        self.epoch_start = now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="simple-convnet", choices=CNN_MODELS.names())
    parser.add_argument("--dataset", default="mnist", choices=["mnist", "fashion-mnist"])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam's initial learning rate (cosine decay to 0)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--augment", default="", help='augmentation pipeline, e.g. "shift:2" or "shift:2 hflip"')
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=None, help="seconds of training before stopping")
    parser.add_argument("--eval-train", type=int, default=10000, help="training samples evaluated per epoch")
    parser.add_argument("--out", type=Path, default=None, help="folder for config.json, results.json, model.npz")
    parser.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="a constructor argument of the model, VALUE in JSON (e.g. blocks_per_stage=3); repeatable")
    parser.add_argument("--summary", action="store_true", help="print every model's parameters and FLOPs, then exit")
    args = parser.parse_args()
    model_args = {}
    for item in args.model_arg:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            parser.error(f"--model-arg takes KEY=VALUE, got {item!r}")
        try:
            model_args[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            model_args[key.strip()] = value  # a bare word: a string
    if args.summary:
        print(f"{'model':16s} {'parameters':>12s} {'multiply-adds/image':>20s}")
        for name in CNN_MODELS.names():
            model = create_model(name)
            print(f"{name:16s} {model.num_parameters():12,d} {model.flops_per_sample():20,d}")
        return
    if args.epochs <= 0 or args.batch_size <= 0 or not args.lr > 0:
        parser.error("--epochs, --batch-size and --lr must be positive")

    data = load_dataset(args.dataset, flatten=False)
    (x_train, t_train), (x_test, t_test) = data
    try:
        model = create_model(args.model, seed=args.seed, **model_args)
    except TypeError as exc:
        parser.error(f"--model-arg: {exc}")
    steps = args.epochs * -(-len(x_train) // args.batch_size)
    optimizer = Adam(model.parameters(), lr=CosineDecay(args.lr, steps))
    augment = build_pipeline(args.augment, image_shape=x_train.shape[1:]) if args.augment else None
    timer = TimeLimit(args.time_limit)
    trainer = Trainer(model, optimizer, batch_size=args.batch_size, epochs=args.epochs, seed=args.seed,
                      eval_sets={"test": (x_test, t_test)}, eval_train=args.eval_train, augment=augment,
                      callbacks=[timer], progress=False, eval_batch_size=500)
    speed = machine_speed()
    config = {**vars(args), "out": str(args.out) if args.out else None, "model_args": model_args,
              "model_config": model.get_config(),
              "optimizer": "adam", "schedule": "cosine", "steps": steps,
              "machine": {**cpu_description(), "blas": blas_description(), "speed": speed, "cores": os.cpu_count(),
                          "trainlab_threads": threads.get_num_threads(), "blas_threads_env": os.environ.get("OPENBLAS_NUM_THREADS")}}
    print(f"{args.model} on {args.dataset}: {model.num_parameters():,} parameters, "
          f"{model.flops_per_sample():,} multiply-adds per image; {args.epochs} epochs of "
          f"{len(x_train)} images, batch {args.batch_size}, Adam lr {args.lr} (cosine), "
          f"augment {args.augment or 'none'}, seed {args.seed}")
    print(machine_line(speed), flush=True)

    start = time.perf_counter()
    stopped = False
    with runtime(keep_freed_memory=True):
        try:
            trainer.fit(x_train, t_train)
        except TimeUp:
            stopped = True
        train_time = time.perf_counter() - start
        test = evaluate(model, x_test, t_test, batch_size=500)
    results = {
        "model": args.model, "dataset": args.dataset, "parameters": model.num_parameters(),
        "flops_per_sample": model.flops_per_sample(), "test_acc": test["acc"], "test_loss": test["loss"],
        "epochs_completed": trainer.epoch, "steps": trainer.step, "stopped_by_time_limit": stopped,
        "train_time_s": train_time, "epoch_times_s": timer.epoch_times,
        # Per epoch: loss and accuracy on the evaluated sets, so the curve is kept, not just its end.
        "epoch_records": [{k: int(v) if k in ("epoch", "iteration") else float(v) for k, v in record.items()}
                          for record in trainer.history.epochs],
    }
    print(f"test accuracy {test['acc']:.4f} (loss {test['loss']:.4f}) after {trainer.epoch} epoch(s), "
          f"{trainer.step} steps{' (time limit reached)' if stopped else ''}")
    print(f"training time {train_time:.0f} s (evaluation included), "
          f"{train_time / max(trainer.step, 1) * 1e3:.0f} ms per step")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "config.json").write_text(json.dumps(config, indent=2))
        (args.out / "results.json").write_text(json.dumps(results, indent=2))
        save(model, args.out / "model.npz", metadata={"config": config, "results": results})
        print(f"saved {args.out / 'config.json'}, results.json and model.npz")


if __name__ == "__main__":
    main()
