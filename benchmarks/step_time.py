"""Time one training step (forward, loss, backward; no optimizer) of each CNN model.

Batch 100 of 28x28 images, float32, best of ``--repeats`` steps after a
warm-up step; the first layer computes no input gradient, as in training.
Prints milliseconds per step and the images per second they imply, plus a
breakdown of the slowest layers and the mean time per layer type with ``--layers``.

    python benchmarks/step_time.py                      # all five models
    OPENBLAS_NUM_THREADS=1 python benchmarks/step_time.py --models resnet --layers
    python benchmarks/step_time.py --models deep-convnet --row-block-values 0   # convolutions without row blocks
"""

from __future__ import annotations

import argparse
import collections
import time

import numpy as np
from common import machine_line

from trainlab.kernels import conv
from trainlab.layers import CrossEntropyLoss
from trainlab.models import CNN_MODELS, create_model
from trainlab.process import runtime


def time_layers(model) -> collections.defaultdict:
    """Wrap each top-level layer's forward and backward to add its wall time to the returned table."""
    table = collections.defaultdict(float)
    for i, layer in enumerate(model.layers):
        key = f"{i}:{type(layer).__name__}"

        def forward(x, *, train, _f=layer.forward, _k=key):
            start = time.perf_counter()
            out = _f(x, train=train)
            table[_k + " forward"] += time.perf_counter() - start
            return out

        def backward(d, _b=layer.backward, _k=key):
            start = time.perf_counter()
            out = _b(d)
            table[_k + " backward"] += time.perf_counter() - start
            return out

        layer.forward, layer.backward = forward, backward
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=CNN_MODELS.names_in_order(), choices=CNN_MODELS.names())
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--layers", action="store_true", help="also print the slowest layer passes")
    parser.add_argument("--top", type=int, default=8, help="how many layer passes --layers prints")
    parser.add_argument("--row-block-values", type=int, default=conv.ROW_BLOCK_VALUES,
                        help="size of a stride-1 convolution's column blocks in training "
                             f"(default {conv.ROW_BLOCK_VALUES}; 0: build the whole columns matrix, as before)")
    args = parser.parse_args()
    conv.ROW_BLOCK_VALUES = args.row_block_values
    print(machine_line() + f"; row blocks of {args.row_block_values or 'the whole'} values")
    rng = np.random.default_rng(0)
    x = rng.random((args.batch, 1, 28, 28), dtype=np.float32)
    t = rng.integers(0, 10, args.batch)
    with runtime(keep_freed_memory=True):  # trainlab's own threads, BLAS on one, freed memory kept
        for name in args.models:
            time_model(name, args, x, t)


def time_model(name: str, args, x, t) -> None:
    """Print one model's step time (and, with --layers, where it goes)."""
    model = create_model(name, seed=0)
    model.layers[0].needs_input_grad = False
    loss = CrossEntropyLoss()
    table = time_layers(model) if args.layers else None

    def step():
        scores = model.forward(x, train=True)
        loss.forward(scores, t)
        model.backward(loss.backward())

    step()
    if table is not None:
        table.clear()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    best = min(times)
    print(f"{name:16s} {best * 1e3:7.1f} ms per step (best of {args.repeats}; median "
          f"{np.median(times) * 1e3:.1f}), {args.batch / best:6.0f} images/s")
    if table is not None:
        total = sum(table.values())
        for key, seconds in sorted(table.items(), key=lambda kv: -kv[1])[:args.top]:
            print(f"    {key:28s} {seconds / args.repeats * 1e3:6.1f} ms  {seconds / total:4.0%}")
        by_type = collections.Counter()
        for key, seconds in table.items():
            by_type[key.split(":", 1)[1].split()[0]] += seconds
        print("    by layer type (forward + backward): " + ", ".join(
            f"{kind} {seconds / args.repeats * 1e3:.1f} ms" for kind, seconds in by_type.most_common()))


if __name__ == "__main__":
    main()
