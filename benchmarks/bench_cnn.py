"""Training and inference throughput and peak memory of the lab's networks: trainlab vs PyTorch CPU.

Networks (``common.NETWORKS``; ``--models all`` runs every one): the MLP
784-100x4-10 (batch 128), SimpleConvNet, DeepConvNet, ResNet (8 layers),
ResNet-20, InceptionNet (auxiliary classifiers in training) and DenseNet
(batch 100). PyTorch trains the twins of torch_models.py, from trainlab's
initial weights. Adam (lr 1e-3), float32, softmax cross-entropy; neither side
computes the gradient of the input images.

For each count in ``--threads`` both sides run on that many threads:
trainlab inside ``trainlab.runtime`` as ``common.runtime_settings`` says (a
CNN on that many trainlab threads with BLAS on one, the MLP on BLAS's
threads), PyTorch after ``torch.set_num_threads``. Then, per network:

- training: ``--rounds`` alternating rounds (trainlab, then PyTorch) of
  ``--steps`` steps, samples/s;
- inference: the same rounds of one eval-mode pass over the first
  ``--test-images`` test images in batches of ``--eval-batch`` (1000, as
  ``Trainer`` and ``evaluate`` score a set, loss and accuracy included),
  PyTorch under ``torch.inference_mode``, images/s;
- peak memory of a training step: bench_memory.py, a fresh process per side.

Ratios are trainlab / PyTorch, best against best and the median of the rounds'
ratios: above 1, trainlab is faster (for memory: uses more).

    python benchmarks/bench_cnn.py [--models simple deep] [--steps 60 20] [--rounds 3] [--threads 2]
    python benchmarks/bench_cnn.py --models all --threads 2 1 --rounds 5 --json benchmarks/results/bench_all.json
    python benchmarks/bench_cnn.py --models resnet20 --quick      # a smoke run: 2 steps, 1 round, 1,000 images

The JSON file keeps, per network, ``train``, ``inference`` and ``memory`` by
thread count; the first count's training figures also stand at the network's
top level, with ``torch_threads`` at the file's, as earlier versions wrote them
(cnn_table.py and speed_table.py read both forms).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
from pathlib import Path

import bench_memory
import numpy as np
from common import (
    NETWORKS, blas_description, cpu_description, infer_torch, infer_trainlab, load_images, machine_line,
    machine_speed, runtime_settings, time_torch, time_trainlab, trainlab_model,
)

import trainlab
from trainlab.fileio import atomic_write_text
from trainlab.kernels import threads

ALIASES = {"simple": "simple-convnet", "deep": "deep-convnet"}
#: Training steps per round by default: about a second or two of each network's training.
STEPS = {"mlp": 1000, "simple-convnet": 60, "deep-convnet": 20, "resnet": 20, "resnet20": 10, "inception": 10,
         "densenet": 10}
MEASURES = ("train", "inference", "memory")


def alternate(label: str, unit: str, rounds: int, ours, theirs) -> dict:
    """``rounds`` alternating calls of ``ours()`` and ``theirs()`` (None: PyTorch is absent); the figures."""
    mine, other = [], []
    for r in range(rounds):
        mine.append(ours())
        line = f"  {label} round {r + 1}: trainlab {mine[-1]:7.0f} {unit}"
        if theirs is not None:
            other.append(theirs())
            line += f", pytorch {other[-1]:7.0f} {unit}, ratio {mine[-1] / other[-1]:.2f}x"
        print(line, flush=True)
    key = unit.replace("/", "_per_")
    entry = {f"trainlab_{key}": mine}
    if other:
        entry.update({f"pytorch_{key}": other, "ratio_best": max(mine) / max(other),
                      "ratio_median": float(np.median(np.array(mine) / np.array(other)))})
    return entry


def summary(label: str, unit: str, entry: dict, rounds: int) -> str:
    """One line per measurement; the training line is the one before_after.py reads."""
    key = unit.replace("/", "_per_")
    line = f"{label}: trainlab {max(entry[f'trainlab_{key}']):.0f} {unit} (best of {rounds})"
    if "ratio_best" in entry:
        return line + (f", pytorch {max(entry[f'pytorch_{key}']):.0f} {unit}; ratio trainlab/pytorch "
                       f"{entry['ratio_best']:.2f}x (best vs best), {entry['ratio_median']:.2f}x (median of rounds)")
    return line + "; pytorch not installed (pip install torch==2.13.0 to compare)"


def bench_network(name: str, count: int, args, data: dict, twins) -> dict:
    """One network's figures at ``count`` threads: {"train": ..., "inference": ..., "memory": ...}."""
    net, out = NETWORKS[name], {}
    batch, steps = args.batch or net.batch, args.steps_of[name]
    settings = runtime_settings(name, count)
    (x, t), (xe, te) = data[net.flatten]
    if "train" in args.measure:
        def ours(n=steps):
            return time_trainlab(trainlab_model(name), x, t, n, batch, settings)

        def theirs(n=steps):
            model = twins.twin_for(name)
            return time_torch(model, x, t, n, batch, lambda s, y: twins.training_loss(model, s, y))

        theirs = theirs if twins else None
        for warm_up in (ours, theirs):
            if warm_up:
                warm_up(3)
        out["train"] = alternate(name, "samples/s", args.rounds, ours, theirs)
        print(summary(net.label, "samples/s", out["train"], args.rounds), flush=True)
    if "inference" in args.measure:
        model, twin, b = trainlab_model(name), twins.twin_for(name) if twins else None, args.eval_batch
        infer_trainlab(model, xe[:b], te[:b], b, settings)  # warm-up: one batch each
        if twin is not None:
            infer_torch(twin, xe[:b], te[:b], b)
        out["inference"] = alternate(f"{name} inference", "images/s", args.rounds,
                                     lambda: infer_trainlab(model, xe, te, b, settings),
                                     (lambda: infer_torch(twin, xe, te, b)) if twin else None)
        print(summary(f"{net.label} inference", "images/s", out["inference"], args.rounds), flush=True)
    if "memory" in args.measure:
        sides = bench_memory.SIDES if twins else ("trainlab",)
        out["memory"] = bench_memory.compare(name, count, args.memory_steps, batch, sides)
        print(bench_memory.describe(net.label, out["memory"]), flush=True)
    return out


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["simple", "deep"],
                        choices=[*NETWORKS, *ALIASES, "all"], help="networks (default: simple deep), or all")
    parser.add_argument("--steps", nargs="+", type=int, default=None,
                        help="training steps per round, one number per model (or one for all; default: STEPS)")
    parser.add_argument("--batch", type=int, default=None, help="training batch (default: 100; the MLP 128)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", nargs="+", type=int, default=[2],
                        help="thread counts, both frameworks (default: 2)")
    parser.add_argument("--measure", nargs="+", choices=MEASURES, default=list(MEASURES))
    parser.add_argument("--test-images", type=int, default=10000, help="images of each inference pass")
    parser.add_argument("--eval-batch", type=int, default=1000, help="inference batch (Trainer's eval_batch_size)")
    parser.add_argument("--memory-steps", type=int, default=3, help="training steps of each memory process")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 steps, 1 round, 1,000 images, 2 steps")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()
    names = list(NETWORKS) if "all" in args.models else list(dict.fromkeys(ALIASES.get(m, m) for m in args.models))
    if args.quick:
        args.steps, args.rounds, args.test_images, args.memory_steps = [2], 1, 1000, 2
    steps = [STEPS[n] for n in names] if args.steps is None else args.steps
    steps = steps * len(names) if len(steps) == 1 else steps
    if len(steps) != len(names):
        parser.error("give one --steps value, or one per model")
    if min(steps + args.threads + [args.rounds, args.test_images, args.eval_batch, args.memory_steps]) < 1:
        parser.error("--steps, --threads, --rounds, --test-images, --eval-batch and --memory-steps must be positive")
    args.names, args.steps_of = names, dict(zip(names, steps))
    return args


def main() -> None:
    args = parse_args()
    try:
        import torch
        import torch_models as twins
    except ImportError:
        torch = twins = None
    data = {}
    for flatten in {NETWORKS[n].flatten for n in args.names}:
        x, t, source = load_images(10000, flatten=flatten)
        xe, te, _ = load_images(args.test_images, flatten=flatten, split="test")
        data[flatten] = ((x, t), (xe, te))
    versions = {"python": platform.python_version(), "numpy": np.__version__, "trainlab": trainlab.__version__,
                "torch": torch.__version__ if torch else None}
    speed = machine_speed()
    record = {"format": 2, "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "source": source, "batch": args.batch or 100, "rounds": args.rounds, "threads": args.threads,
              "torch_threads": args.threads[0], "trainlab_threads": args.threads[0],
              "blas_threads_env": os.environ.get("OPENBLAS_NUM_THREADS"), "test_images": len(xe),
              "eval_batch": args.eval_batch,
              "load_average": os.getloadavg(), **cpu_description(), "blas": blas_description(), "speed": speed,
              "machine": machine_line(speed), "versions": versions,
              "models": {}}
    print(f"Throughput and memory: Adam, batch {args.batch or '100 (MLP 128)'}, float32, {args.rounds} alternating "
          f"rounds on {source}; inference over {record['test_images']} test images in batches of {args.eval_batch}; "
          f"measuring {', '.join(args.measure)}")
    print(record["machine"] + (f"; torch {torch.__version__}" if torch else "; pytorch not installed"))
    for count in args.threads:
        if torch:
            torch.set_num_threads(count)
        print(f"-- {count} thread(s): trainlab {runtime_settings('simple-convnet', count)} for CNNs, "
              f"{runtime_settings('mlp', count)} for the MLP" + (f"; torch {torch.get_num_threads()}" if torch else ""),
              flush=True)
        for name in args.names:
            entry = record["models"].setdefault(name, {
                "label": NETWORKS[name].label, "batch": args.batch or NETWORKS[name].batch,
                "steps": args.steps_of[name], "parameters": trainlab_model(name).num_parameters()})
            for measure, figures in bench_network(name, count, args, data, twins).items():
                entry.setdefault(measure, {})[str(count)] = figures
            if count == args.threads[0] and "train" in entry:
                entry.update(entry["train"][str(count)])  # the earlier files' form
            record["load_average_end"] = os.getloadavg()
            if args.json:
                Path(args.json).parent.mkdir(parents=True, exist_ok=True)
                atomic_write_text(args.json, json.dumps(record, indent=2))
    print(f"trainlab threads by default {threads.get_num_threads()}; load average at the end "
          f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}" + (f"; saved {args.json}" if args.json else ""))


if __name__ == "__main__":
    main()
