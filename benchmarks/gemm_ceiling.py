"""The ceiling under trainlab's convolutions: NumPy's BLAS products against PyTorch's convolutions, on this machine.

trainlab computes a convolution as BLAS products (im2col, then NumPy's
OpenBLAS); PyTorch runs its own convolution kernels (oneDNN). This prints

1. on one core, the float32 GFLOP/s of a large square product in NumPy and in
   ``torch.mm``, then for each 3x3 stride-1 layer shape of ResNet and
   DeepConvNet at batch 100: NumPy's product at the layer's im2col shape,
   trainlab's fast convolution (forward; backward with both gradients) and
   ``torch.nn.functional.conv2d`` (forward; backward);
2. for each network of ``bench_cnn.py``: the floating-point operations of
   its convolution and linear products in one training step (counted from
   the kernels' own calls), the step time those would take at NumPy's
   large-product rate on all threads with nothing else costing time (the
   *floor* of any implementation made of these products), PyTorch's measured
   step, and their ratio: the most trainlab's training throughput can reach
   against PyTorch here while its convolutions are BLAS products.

    python benchmarks/gemm_ceiling.py [--threads 2] [--json benchmarks/results/gemm_ceiling.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json

import numpy as np
from common import NETWORKS, blas_description, call_times, cpu_description, machine_line, machine_speed, trainlab_model

from trainlab import kernels
from trainlab.kernels import registry
from trainlab.layers import CrossEntropyLoss
from trainlab.process import runtime

#: (label, channels in, channels out, input side) of the 3x3 stride-1 padding-1 layers timed one by one.
LAYER_SHAPES = [("ResNet stage 1", 16, 16, 25), ("ResNet stage 2", 32, 32, 13), ("ResNet stage 3", 64, 64, 7),
                ("DeepConvNet conv2", 16, 16, 28), ("DeepConvNet conv4", 32, 32, 14),
                ("DeepConvNet conv6", 64, 64, 7)]
BATCH = 100


def best_time(f, repeats: int) -> float:
    return min(call_times(f, repeats))


def square_rates(repeats: int) -> dict:
    import torch

    n = 2048
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    ta = torch.from_numpy(a)
    flops = 2 * n ** 3
    return {"numpy": flops / best_time(lambda: a @ a, repeats) / 1e9,
            "torch_mm": flops / best_time(lambda: ta @ ta, repeats) / 1e9}


def layer_rates(cin: int, cout: int, side: int, repeats: int) -> dict:
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    K, P = cin * 9, side * side * BATCH
    flops = 2 * cout * K * P  # one product: forward, or one of the two gradients
    w2, cols = rng.random((cout, K + 1), dtype=np.float32), rng.random((K + 1, P), dtype=np.float32)
    product = best_time(lambda: w2 @ cols, repeats)

    x = rng.standard_normal((BATCH, cin, side, side)).astype(np.float32)
    W = (rng.standard_normal((cout, cin, 3, 3)) * 0.1).astype(np.float32)
    b = np.zeros(cout, np.float32)
    out, cache = kernels.lookup("conv2d_forward", "fast")(x, W, b, (1, 1), (1, 1), train=True)
    forward = best_time(lambda: kernels.lookup("conv2d_forward", "fast")(x, W, b, (1, 1), (1, 1), train=True),
                        repeats)
    backward = best_time(lambda: kernels.lookup("conv2d_backward", "fast")(out, cache), repeats)

    tx = torch.from_numpy(x).requires_grad_(True)
    tw, tb = torch.from_numpy(W).requires_grad_(True), torch.from_numpy(b).requires_grad_(True)
    tout = F.conv2d(tx, tw, tb, padding=1)
    grad = torch.from_numpy(np.ascontiguousarray(out))
    with torch.no_grad():
        torch_forward = best_time(lambda: F.conv2d(tx, tw, tb, padding=1), repeats)
    torch_backward = best_time(lambda: torch.autograd.grad(tout, (tx, tw, tb), grad, retain_graph=True), repeats)
    return {"numpy_product": flops / product / 1e9,
            "trainlab_forward": flops / forward / 1e9, "trainlab_backward": 2 * flops / backward / 1e9,
            "torch_forward": flops / torch_forward / 1e9, "torch_backward": 2 * flops / torch_backward / 1e9}


@contextlib.contextmanager
def counting_products(total: list):
    """Add the floating-point operations of every convolution and linear product the fast kernels run."""
    saved = {name: registry.FAST[name] for name in
             ("conv2d_forward", "conv2d_backward", "linear_forward", "linear_backward")}

    def conv_forward(x, W, b, stride, padding, **kw):
        out, cache = saved["conv2d_forward"](x, W, b, stride, padding, **kw)
        total[0] += 2 * out.size * W[0].size
        return out, cache

    def conv_backward(dout, cache, *, input_grad=True):
        dx, dW, db = saved["conv2d_backward"](dout, cache, input_grad=input_grad)
        total[0] += 2 * dout.size * dW[0].size * (2 if dx is not None else 1)
        return dx, dW, db

    def linear_forward(x, W, b):
        total[0] += 2 * x.shape[0] * W.size
        return saved["linear_forward"](x, W, b)

    def linear_backward(dout, x, W, *, input_grad=True):
        total[0] += 2 * x.shape[0] * W.size * (2 if input_grad else 1)
        return saved["linear_backward"](dout, x, W, input_grad=input_grad)

    replacements = {"conv2d_forward": conv_forward, "conv2d_backward": conv_backward,
                    "linear_forward": linear_forward, "linear_backward": linear_backward}
    registry.FAST.update(replacements)
    registry.RESOLVED.clear()
    for listener in registry.LISTENERS:
        listener()
    try:
        yield
    finally:
        registry.FAST.update(saved)
        registry.RESOLVED.clear()
        for listener in registry.LISTENERS:
            listener()


def step_flops(name: str) -> float:
    """Floating-point operations of the products in one training step (forward, loss, backward) of ``name``."""
    model = trainlab_model(name)
    model.layers[0].needs_input_grad = False  # as in training: the images need no gradient
    heads = [m for m in model.modules() if hasattr(m, "auxiliary_loss")]
    rng = np.random.default_rng(0)
    x = rng.random((BATCH, 1, 28, 28), dtype=np.float32)
    t = rng.integers(0, 10, BATCH)
    loss = CrossEntropyLoss()
    total = [0]
    with kernels.using("fast"), counting_products(total):
        loss.forward(model.forward(x, train=True), t)
        for head in heads:  # auxiliary classifiers, as the Trainer has them
            head.auxiliary_loss(t)
        model.backward(loss.backward())
    return float(total[0])


def torch_step_ms(name: str, threads: int, steps: int) -> float:
    import torch
    from torch_models import training_loss, twin_for

    torch.set_num_threads(threads)
    model = twin_for(name)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.random((BATCH, 1, 28, 28), dtype=np.float32))
    t = torch.from_numpy(rng.integers(0, 10, BATCH))
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        training_loss(model, model(x), t).backward()
        opt.step()

    for _ in range(3):
        step()
    return best_time(step, steps) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="threads for part 2 (both sides)")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--steps", type=int, default=10, help="timed PyTorch steps per network (best counts)")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    import torch

    speed = machine_speed()
    print(machine_line(speed))
    record = {"machine": {**cpu_description(), "blas": blas_description(), "speed": speed}, "torch": torch.__version__,
              "numpy": np.__version__, "threads": args.threads, "batch": BATCH}
    torch.set_num_threads(1)
    with runtime(threads=1, blas_threads=1, keep_freed_memory=True):
        record["square_2048_one_core"] = square = square_rates(args.repeats)
        print(f"one core, 2048x2048 float32 product: NumPy {square['numpy']:.0f} GFLOP/s, "
              f"torch.mm {square['torch_mm']:.0f} GFLOP/s")
        print("one core, 3x3 stride-1 layers at batch 100 (GFLOP/s; backward: both gradients):")
        print(f"  {'layer':34s} {'NumPy product':>13s} {'trainlab fwd':>12s} {'bwd':>6s} "
              f"{'torch fwd':>10s} {'bwd':>6s}")
        record["layers_one_core"] = {}
        for label, cin, cout, side in LAYER_SHAPES:
            r = record["layers_one_core"][label] = layer_rates(cin, cout, side, args.repeats)
            print(f"  {label + f' {cin}->{cout} {side}x{side}':34s} {r['numpy_product']:13.0f} "
                  f"{r['trainlab_forward']:12.0f} {r['trainlab_backward']:6.0f} {r['torch_forward']:10.0f} "
                  f"{r['torch_backward']:6.0f}")
    with runtime(threads=args.threads, blas_threads=args.threads):
        peak = square_rates(args.repeats)["numpy"]
    record["numpy_square_all_threads"] = peak
    print(f"{args.threads} thread(s): NumPy's 2048x2048 product {peak:.0f} GFLOP/s, the rate the floor assumes")
    print(f"  {'network':18s} {'GFLOP/step':>10s} {'floor ms':>9s} {'PyTorch ms':>11s} {'most trainlab/PyTorch':>22s}")
    record["networks"] = {}
    for name in NETWORKS:
        if name == "mlp":
            continue
        flops = step_flops(name)
        floor = flops / (peak * 1e9) * 1e3
        theirs = torch_step_ms(name, args.threads, args.steps)
        record["networks"][name] = {"gflop_per_step": flops / 1e9, "floor_ms": floor, "torch_step_ms": theirs,
                                    "most_ratio": theirs / floor}
        print(f"  {name:18s} {flops / 1e9:10.2f} {floor:9.1f} {theirs:11.1f} {theirs / floor:21.2f}x")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(record, f, indent=2)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
