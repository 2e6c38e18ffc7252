"""Training throughput of the book's CNNs: trainlab vs PyTorch CPU, same architecture.

Models: SimpleConvNet (conv 30x5x5 - ReLU - pool - 100 - 10) and DeepConvNet
(six 3x3 convolutions, three pools, 50 - dropout - 10), He initialisation,
Adam (lr 1e-3), batch 100, float32, softmax cross-entropy, on 28x28 images.
Both frameworks train in one run, in alternating rounds so that machine
noise affects both; PyTorch runs with ``--threads`` threads (2 by default).
Prints samples/s for each round and the ratio trainlab / PyTorch (above 1
means trainlab is faster). Neither side computes the gradient of the input
images (PyTorch does not, as they do not require it). trainlab trains as
``Trainer.fit`` does: its large passes split over its own threads
(``TRAINLAB_NUM_THREADS``, by default one per core) with BLAS on one thread.
For the one-thread figures run it with ``TRAINLAB_NUM_THREADS=1
OPENBLAS_NUM_THREADS=1`` and ``--threads 1``.

    python benchmarks/bench_cnn.py [--models simple deep] [--steps 50 20] [--rounds 3] [--threads 2]
    python benchmarks/bench_cnn.py --json runs/bench_cnn.json    # also save the figures for cnn_table.py
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
from common import cpu_description, load_images, machine_line, time_torch, time_trainlab

from trainlab.kernels import threads
from trainlab.fileio import atomic_write_text
from trainlab.models import DeepConvNet, SimpleConvNet

MODELS = {"simple": SimpleConvNet, "deep": DeepConvNet}
#: The names train_cnn.py and the model registry use for the same networks.
REGISTRY_NAMES = {"simple": "simple-convnet", "deep": "deep-convnet"}


def run_trainlab(name: str, x, t, steps: int, batch: int) -> float:
    return time_trainlab(MODELS[name](seed=0), x, t, steps, batch)


def run_torch(name: str, x, t, steps: int, batch: int) -> float:
    import torch_models

    return time_torch(torch_models.twin_for(REGISTRY_NAMES[name]), x, t, steps, batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["simple", "deep"], choices=sorted(MODELS))
    parser.add_argument("--steps", nargs="+", type=int, default=[60, 20],
                        help="training steps per round, one number per model (or one for all)")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="PyTorch's intra-op threads")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()
    steps = args.steps * len(args.models) if len(args.steps) == 1 else args.steps
    if len(steps) != len(args.models):
        parser.error("give one --steps value, or one per model")
    x, t, source = load_images(10000, flatten=False)
    record = {"source": source, "batch": args.batch, "rounds": args.rounds, "torch_threads": args.threads,
              "blas_threads_env": os.environ.get("OPENBLAS_NUM_THREADS"),
              "trainlab_threads": threads.get_num_threads(), "load_average": os.getloadavg(),
              **cpu_description(),
              "models": {}}
    try:
        import torch

        torch.set_num_threads(args.threads)
        have_torch = True
    except ImportError:
        have_torch = False
    print(f"CNN training throughput: Adam, batch {args.batch}, float32, {args.rounds} alternating rounds on {source}")
    print(machine_line() + (f"; torch {torch.__version__} ({torch.get_num_threads()} threads)" if have_torch else ""))
    for name, n_steps in zip(args.models, steps):
        run_trainlab(name, x, t, 3, args.batch)  # warm-up
        if have_torch:
            run_torch(name, x, t, 3, args.batch)
        ours, theirs = [], []
        for r in range(args.rounds):
            ours.append(run_trainlab(name, x, t, n_steps, args.batch))
            line = f"  {name} round {r + 1}: trainlab {ours[-1]:7.0f} samples/s"
            if have_torch:
                theirs.append(run_torch(name, x, t, n_steps, args.batch))
                line += f", pytorch {theirs[-1]:7.0f} samples/s, ratio {ours[-1] / theirs[-1]:.2f}x"
            print(line, flush=True)
        summary = f"{MODELS[name].__name__}: trainlab {max(ours):.0f} samples/s (best of {args.rounds})"
        if have_torch:
            summary += (f", pytorch {max(theirs):.0f} samples/s; ratio trainlab/pytorch {max(ours) / max(theirs):.2f}x "
                        f"(best vs best), {np.median(np.array(ours) / np.array(theirs)):.2f}x (median of rounds)")
        else:
            summary += "; pytorch not installed (pip install torch==2.13.0 to compare)"
        print(summary, flush=True)
        entry = {"trainlab_samples_per_s": ours}
        if have_torch:
            entry.update(pytorch_samples_per_s=theirs, ratio_best=max(ours) / max(theirs),
                         ratio_median=float(np.median(np.array(ours) / np.array(theirs))))
        record["models"][REGISTRY_NAMES[name]] = entry
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.json, json.dumps(record, indent=2))
        print(f"saved {args.json}")


if __name__ == "__main__":
    main()
