"""What one choice of the fast kernels is worth in a whole training step: off and on, step by step, in one process.

Each choice below has a plain form it replaced. This script trains a network
(forward, loss with auxiliary classifiers, backward; batch 100) and switches
the choice off and on at every step, so that the machine's noise, which moves
step times by 10-30% from minute to minute on a shared machine, falls on both
forms alike; it prints each form's best and median step and the median of the
paired ratios (a step with the choice on over the step before it, off).

- ``pool-two-passes``: stride-1 max pooling through row maxima (off: tap by tap);
- ``relu-zero-block``: ReLU's maximum against a zero block (off: against the scalar 0);
- ``batchnorm-blas-sums``: BatchNorm's per-channel sums as BLAS products (off: NumPy reductions);
- ``eval-whole-rows``: eval passes of short-rowed batches in row blocks of the whole batch (off:
  chunks of samples), timed with ``--eval BATCH``: eval forward passes of that batch instead of steps.

``--row-block-values V1 V2 ...`` instead times the convolutions' row-block size
(``trainlab.kernels.conv.ROW_BLOCK_VALUES``) at each value in turn, step by step,
each against the first.

    python benchmarks/kernel_ab.py --models inception densenet --choices pool-two-passes [--steps 40] [--threads 2]
    python benchmarks/kernel_ab.py --models densenet resnet deep-convnet --row-block-values 262144 65536 1048576
    python benchmarks/kernel_ab.py --models resnet deep-convnet --choices eval-whole-rows --eval 100
"""

from __future__ import annotations

import argparse
import contextlib
import time

import numpy as np
from common import NETWORKS, machine_line, trainlab_model

from trainlab.kernels import batchnorm, conv, elementwise, pool
from trainlab.layers import CrossEntropyLoss
from trainlab.process import runtime


def _scalar_relu_pass(x1, out1, mask1) -> None:
    if mask1 is not None:
        np.greater(x1, 0, out=mask1)
    np.maximum(x1, 0, out=out1)


#: choice -> (module, attribute, the plain form that stands in while the choice is off)
CHOICES = {
    "pool-two-passes": (pool, "_shared_rows", lambda kernel_size, stride: False),
    "relu-zero-block": (elementwise, "relu_pass", _scalar_relu_pass),
    "batchnorm-blas-sums": (batchnorm, "_channel_sums", lambda a2: a2.sum(axis=1)),
    "eval-whole-rows": (conv, "EVAL_WHOLE_ROW_VALUES", 0),
}
#: choices that replace more than one attribute: the others
MORE = {"batchnorm-blas-sums": [(batchnorm, "_channel_dots", lambda a2, b2: (a2 * b2).sum(axis=1))]}


@contextlib.contextmanager
def switched_off(choice: str, off: bool):
    replaced = [CHOICES[choice]] + MORE.get(choice, [])
    saved = [(module, name, getattr(module, name)) for module, name, _ in replaced]
    if off:
        for module, name, plain in replaced:
            setattr(module, name, plain)
    try:
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


def training_step(name: str, eval_batch: int | None = None):
    """A training step (forward, loss with auxiliary classifiers, backward) of network ``name`` at batch 100;
    with ``eval_batch``, an eval forward pass of that many images instead."""
    model = trainlab_model(name)
    if eval_batch:
        images = np.random.default_rng(0).standard_normal((eval_batch, 1, 28, 28)).astype(np.float32)
        return lambda: model.forward(images, train=False)
    model.layers[0].needs_input_grad = False
    heads = [m for m in model.modules() if hasattr(m, "auxiliary_loss")]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 1, 28, 28)).astype(np.float32)
    t = rng.integers(0, 10, 100)
    loss = CrossEntropyLoss()

    def step():
        loss.forward(model.forward(x, train=True), t)
        for head in heads:
            head.auxiliary_loss(t)
        model.backward(loss.backward())

    return step


def compare(name: str, choice: str, steps: int, threads: int, eval_batch: int | None = None) -> dict:
    step = training_step(name, eval_batch)
    times = {True: [], False: []}
    with runtime(threads=threads, keep_freed_memory=True):
        for off in (True, False):  # warm-up, both forms
            with switched_off(choice, off):
                step()
                step()
        for i in range(2 * steps):
            off = i % 2 == 0
            with switched_off(choice, off):
                start = time.perf_counter()
                step()
                times[off].append(time.perf_counter() - start)
    plain, chosen = np.array(times[True]), np.array(times[False])
    return {"off_best_ms": plain.min() * 1e3, "off_median_ms": float(np.median(plain)) * 1e3,
            "on_best_ms": chosen.min() * 1e3, "on_median_ms": float(np.median(chosen)) * 1e3,
            "paired_median_ratio": float(np.median(chosen / plain))}


def compare_row_blocks(name: str, values: list[int], steps: int, threads: int) -> dict:
    """{value: (best ms, median ms, median of step time / the first value's step time in the same round)}."""
    step = training_step(name)
    saved = conv.ROW_BLOCK_VALUES
    times = {v: [] for v in values}
    try:
        with runtime(threads=threads, keep_freed_memory=True):
            for v in values:
                conv.ROW_BLOCK_VALUES = v
                step()
                step()
            for _ in range(steps):
                for v in values:
                    conv.ROW_BLOCK_VALUES = v
                    start = time.perf_counter()
                    step()
                    times[v].append(time.perf_counter() - start)
    finally:
        conv.ROW_BLOCK_VALUES = saved
    first = np.array(times[values[0]])
    return {v: (min(t) * 1e3, float(np.median(t)) * 1e3, float(np.median(np.array(t) / first)))
            for v, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["inception"], choices=[n for n in NETWORKS if n != "mlp"])
    parser.add_argument("--choices", nargs="+", default=list(CHOICES), choices=list(CHOICES))
    parser.add_argument("--steps", type=int, default=40, help="steps of each form")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--eval", type=int, default=None, metavar="BATCH",
                        help="time eval forward passes of this batch instead of training steps")
    parser.add_argument("--row-block-values", nargs="+", type=int, default=None,
                        help="time these row-block sizes against the first instead of the choices")
    args = parser.parse_args()
    print(machine_line())
    if args.row_block_values:
        for name in args.models:
            r = compare_row_blocks(name, args.row_block_values, args.steps, args.threads)
            print(f"{name:15s} " + " | ".join(f"{v}: best {b:.1f} ms, median {m:.1f}, against {args.row_block_values[0]} "
                                             f"{ratio:.3f}" for v, (b, m, ratio) in r.items()), flush=True)
        return
    for choice in args.choices:
        for name in args.models:
            what = f"eval passes of {args.eval}" if args.eval else "training steps"
            r = compare(name, choice, args.steps, args.threads, args.eval)
            print(f"{name:15s} {choice:20s} off: best {r['off_best_ms']:6.1f} ms, median {r['off_median_ms']:6.1f}; "
                  f"on: best {r['on_best_ms']:6.1f}, median {r['on_median_ms']:6.1f}; step time on/off "
                  f"{r['paired_median_ratio']:.3f} (median of {args.steps} pairs of {what})", flush=True)


if __name__ == "__main__":
    main()
