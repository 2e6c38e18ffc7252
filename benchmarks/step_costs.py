"""Where a DeepConvNet training step's time goes beyond the arithmetic: the figures docs/cnn.md quotes.

Prints
- the cost of handing one part to a worker thread (an empty ``run_parts``),
  and when splitting an element-wise pass into two parts starts to pay;
- the forms two memory-bound passes take in the fast kernels: ReLU's maximum
  against a block of zeros rather than the scalar 0, BatchNorm's per-channel
  sums as BLAS products rather than NumPy reductions; a 3x3 stride-1 max pool
  tap by tap and in two passes (row maxima, then their maxima);
- page faults and milliseconds per step with freed memory kept for reuse
  (as ``Trainer.fit`` does for CNNs) and without (``TRAINLAB_KEEP_FREED_MEMORY=0``,
  measured in a child process, since the allocator setting is per process);
- the speed of the convolutions' matrix products, one by one on one thread, at
  DeepConvNet's row-block shapes (batch 100, one output row per block).

    python benchmarks/step_costs.py
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time

import numpy as np
from common import call_times, machine_line

from trainlab import allocator
from trainlab.kernels import batchnorm, elementwise, pool, threads
from trainlab.kernels.conv import pad_block
from trainlab.kernels.layout import from_block
from trainlab.layers import CrossEntropyLoss
from trainlab.models import create_model
from trainlab.process import runtime


def median_time(f, repeats: int) -> float:
    return float(np.median(call_times(f, repeats)))


def hand_off() -> None:
    empty = median_time(lambda: threads.run_parts(lambda k, a, b: None, 2), 2000)
    print(f"hand-off: an empty two-part pass takes {empty * 1e6:.0f} us")
    for n in (1 << 18, 1 << 19, 1 << 20, 1 << 21, 1 << 22):
        x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
        out, mask = np.empty_like(x), np.empty(n, bool)

        def relu(_k, a, b):  # the fast kernel's pass: the mask and the maximum against the zero block
            elementwise.relu_pass(x[a:b], out[a:b], mask[a:b])

        one = median_time(lambda: relu(0, 0, n), 200)
        two = median_time(lambda: threads.run_parts(relu, n), 200)
        print(f"  ReLU pass over {n:>9,} values: one part {one * 1e6:6.0f} us, two parts {two * 1e6:6.0f} us")


def pass_forms(n: int = 1 << 20, channels: int = 16) -> None:
    """The forms the fast kernels chose for two memory-bound passes, against the obvious NumPy call."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n).astype(np.float32)
    out = np.empty_like(x)
    scalar = median_time(lambda: np.maximum(x, 0, out=out), 200)
    block = median_time(lambda: elementwise.relu_pass(x, out, None), 200)
    print(f"max(x, 0) over {n:,} float32 values: against the scalar 0 {scalar * 1e6:.0f} us, "
          f"against the zero block {block * 1e6:.0f} us ({scalar / block:.1f}x)")
    rows = x.reshape(channels, -1)
    reduce_sums = median_time(lambda: (rows.sum(axis=1), np.square(rows).sum(axis=1)), 200)
    blas_sums = median_time(lambda: (batchnorm._channel_sums(rows), batchnorm._channel_dots(rows, rows)), 200)
    print(f"BatchNorm's per-channel sum and sum of squares of {channels} x {n // channels:,}: NumPy reductions "
          f"{reduce_sums * 1e6:.0f} us, BLAS products {blas_sums * 1e6:.0f} us ({reduce_sums / blas_sums:.1f}x)")


def pool_forms(channels: int = 56, side: int = 14) -> None:
    """InceptionNet's 3x3 stride-1 max pool (its pool branch), tap by tap against in two passes."""
    rng = np.random.default_rng(0)
    x = from_block(rng.standard_normal((channels, side, side, 100)).astype(np.float32))
    block = pad_block(x, 1, 1, -np.inf)
    out = np.empty((channels, side, side, 100), np.float32)
    taps = median_time(lambda: pool._argmax(block, out, (3, 3), (1, 1)), 100)
    two = median_time(lambda: pool._max_in_two_passes(block, out, (3, 3), True), 100)
    print(f"3x3 stride-1 max pool with offsets, {channels} x {side} x {side} x 100: 9 taps {taps * 1e3:.2f} ms, "
          f"row maxima then their maxima {two * 1e3:.2f} ms ({taps / two:.1f}x)")


def step_faults(steps: int = 20) -> tuple[float, float]:
    """(page faults, milliseconds) per DeepConvNet step in this process."""
    model = create_model("deep-convnet", seed=0)
    model.layers[0].needs_input_grad = False
    rng = np.random.default_rng(0)
    x = rng.random((100, 1, 28, 28), dtype=np.float32)
    t = rng.integers(0, 10, 100)
    loss = CrossEntropyLoss()

    def step():
        loss.forward(model.forward(x, train=True), t)
        model.backward(loss.backward())

    for _ in range(3):
        step()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = time.perf_counter() - start
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / steps, seconds / steps * 1e3


def products() -> None:
    # (rows of W, shared, columns of one output row): forward W @ cols, dW as cols @ dout.T, dx like forward.
    shapes = [("conv2 16->16 28x28", 16, 145, 2800), ("conv4 32->32 16x16", 32, 289, 1600),
              ("conv6 64->64 8x8", 64, 577, 800)]
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    with threadpool_limits(1, user_api="blas"):
        for name, M, K, N in shapes:
            w = rng.random((M, K), dtype=np.float32)
            cols = rng.random((K, N), dtype=np.float32)
            dout_t = rng.random((M, N), dtype=np.float32).T
            out = np.empty((M, N), np.float32)
            fwd = median_time(lambda: np.matmul(w, cols, out=out), 200)
            dw = median_time(lambda: cols @ dout_t, 200)
            flops = 2 * M * K * N
            print(f"  {name}: forward {flops / fwd / 1e9:5.1f} GFLOP/s, dW {flops / dw / 1e9:5.1f} GFLOP/s "
                  f"({fwd * 1e6:.0f} and {dw * 1e6:.0f} us per block)")


def main() -> None:
    if sys.argv[1:] == ["--child-faults"]:
        with runtime(keep_freed_memory=True):  # keeps nothing under TRAINLAB_KEEP_FREED_MEMORY=0
            faults, ms = step_faults()
        print(f"{faults} {ms}")
        return
    print(machine_line())
    with runtime(keep_freed_memory=True):
        hand_off()
        with threads.use_threads(1):
            pass_forms()
            pool_forms()
        kept = step_faults()
    env = dict(os.environ, **{allocator.ENV_VAR: "0"})
    child = subprocess.run([sys.executable, __file__, "--child-faults"], capture_output=True, text=True,
                           env=env, check=True)
    default = tuple(float(v) for v in child.stdout.split())
    print(f"DeepConvNet step: freed memory kept {kept[0]:.1f} page faults, {kept[1]:.1f} ms; "
          f"allocator defaults {default[0]:.0f} page faults, {default[1]:.1f} ms")
    print("matrix products on one thread at DeepConvNet's row-block shapes:")
    products()


if __name__ == "__main__":
    main()
