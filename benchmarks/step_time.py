"""Time one training step (forward, loss, backward; no optimizer) of each CNN model.

Batch 100 of 28x28 images, float32, best of ``--repeats`` steps after a
warm-up step; the first layer computes no input gradient, as in training, and
auxiliary classifiers add their losses, as the Trainer has them. Prints
milliseconds per step and the images per second they imply, plus a
breakdown of the slowest layers and the mean time per layer type with ``--layers``.

``--torch`` times the PyTorch twin's step too (torch_models.py: the same
network and weights), then profiles ``--repeats`` more of its steps with
torch.profiler: the ops with the most self CPU time and the totals per kind
of op, per step (the profiler's own cost included). ``--threads`` sets both
sides' threads (trainlab's, with BLAS on one; torch.set_num_threads).

    python benchmarks/step_time.py                      # all five models
    OPENBLAS_NUM_THREADS=1 python benchmarks/step_time.py --models resnet --layers
    python benchmarks/step_time.py --models resnet20 --layers --torch --threads 2   # where each side's step goes
    python benchmarks/step_time.py --models deep-convnet --row-block-values 0   # convolutions without row blocks
"""

from __future__ import annotations

import argparse
import collections
import time

import numpy as np
from common import NETWORKS, machine_line, trainlab_model

from trainlab.kernels import conv
from trainlab.layers import CrossEntropyLoss
from trainlab.models import CNN_MODELS, create_model
from trainlab.process import runtime

#: Kinds of PyTorch op by a piece of their name, first match wins ("addmm" is a product, not an addition).
OP_KINDS = [("convolution", ("conv",)), ("batchnorm", ("batch_norm",)), ("pooling", ("pool",)),
            ("relu", ("relu", "threshold")), ("matmul", ("mm", "linear")),
            ("loss", ("softmax", "nll", "cross_entropy")), ("concat", ("cat",)),
            ("copy", ("copy", "clone", "contiguous")), ("allocation", ("empty", "zero", "fill", "ones")),
            ("elementwise", ("add", "mul", "div", "sub", "mean", "sum"))]
MODEL_NAMES = CNN_MODELS.names() + [n for n, net in NETWORKS.items() if n != "mlp" and n not in CNN_MODELS.names()]


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
    parser.add_argument("--models", nargs="+", default=CNN_MODELS.names_in_order(), choices=MODEL_NAMES)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--layers", action="store_true", help="also print the slowest layer passes")
    parser.add_argument("--top", type=int, default=8, help="how many layer passes (and PyTorch ops) to print")
    parser.add_argument("--torch", action="store_true", help="also time and profile the PyTorch twin's step")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads of both sides (default: trainlab's, TRAINLAB_NUM_THREADS or the cores)")
    parser.add_argument("--row-block-values", type=int, default=conv.ROW_BLOCK_VALUES,
                        help="size of a stride-1 convolution's column blocks in training "
                             f"(default {conv.ROW_BLOCK_VALUES}; 0: build the whole columns matrix, as before)")
    args = parser.parse_args()
    conv.ROW_BLOCK_VALUES = args.row_block_values
    rng = np.random.default_rng(0)
    x = rng.random((args.batch, 1, 28, 28), dtype=np.float32)
    t = rng.integers(0, 10, args.batch)
    # trainlab's threads, BLAS on one (with the default count, left alone where that is one thread), freed memory kept
    blas = None if args.threads is None else 1
    with runtime(args.threads, blas_threads=blas, keep_freed_memory=True) as settings:
        print(machine_line() + f"; row blocks of {args.row_block_values or 'the whole'} values")
        if args.torch:
            import torch

            torch.set_num_threads(settings.threads)
            print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
        for name in args.models:
            time_model(name, args, x, t)


def time_model(name: str, args, x, t) -> None:
    """Print one model's step time (and, with --layers, where it goes)."""
    model = trainlab_model(name) if name in NETWORKS else create_model(name, seed=0)
    model.layers[0].needs_input_grad = False
    loss = CrossEntropyLoss()
    heads = [m for m in model.modules() if hasattr(m, "auxiliary_loss")]
    twin = None
    if args.torch:
        import torch_models

        twin = torch_models.torch_twin(model)  # before time_layers wraps the layers
    table = time_layers(model) if args.layers else None

    def step():
        scores = model.forward(x, train=True)
        loss.forward(scores, t)
        for head in heads:
            head.auxiliary_loss(t)
        model.backward(loss.backward())

    best = report(name, step, args, reset=table.clear if table is not None else None)
    if table is not None:
        total = sum(table.values())
        for key, seconds in sorted(table.items(), key=lambda kv: -kv[1])[:args.top]:
            print(f"    {key:28s} {seconds / args.repeats * 1e3:6.1f} ms  {seconds / total:4.0%}")
        by_type = collections.Counter()
        for key, seconds in table.items():
            by_type[key.split(":", 1)[1].split()[0]] += seconds
        print("    by layer type (forward + backward): " + ", ".join(
            f"{kind} {seconds / args.repeats * 1e3:.1f} ms" for kind, seconds in by_type.most_common()))
    if twin is not None:
        profile_torch(twin, x, t, args, best)


def report(label: str, step, args, reset=None) -> float:
    """Run ``step`` once to warm up, then ``--repeats`` times; print and return the best time in seconds."""
    step()
    if reset is not None:
        reset()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    best = min(times)
    print(f"{label:16s} {best * 1e3:7.1f} ms per step (best of {args.repeats}; median "
          f"{np.median(times) * 1e3:.1f}), {args.batch / best:6.0f} images/s")
    return best


def op_kind(name: str) -> str:
    lower = name.lower()
    return next((kind for kind, parts in OP_KINDS if any(p in lower for p in parts)), "other")


def profile_torch(twin, x, t, args, trainlab_best: float) -> None:
    """Time the twin's step like trainlab's, then print where torch.profiler finds its time going."""
    import torch
    import torch_models
    from torch.profiler import ProfilerActivity, profile

    xt, tt = torch.from_numpy(x), torch.from_numpy(t)
    twin.train()

    def step():
        for p in twin.parameters():
            p.grad = None
        torch_models.training_loss(twin, twin(xt), tt).backward()

    best = report("  pytorch", step, args)
    print(f"    ratio trainlab/pytorch {best / trainlab_best:.2f}x (images/s, best vs best)")
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(args.repeats):
            step()
    ops = [(e.key, e.self_cpu_time_total / 1e3 / args.repeats) for e in prof.key_averages()]  # ms per step
    total = sum(ms for _, ms in ops)
    print(f"    profiled: {total:.1f} ms of self CPU time per step; top ops:")
    for key, ms in sorted(ops, key=lambda op: -op[1])[:args.top]:
        print(f"    {key:44s} {ms:6.1f} ms  {ms / total:4.0%}")
    by_kind = collections.Counter()
    for key, ms in ops:
        by_kind[op_kind(key)] += ms
    print("    by op kind (forward + backward): " + ", ".join(
        f"{kind} {ms:.1f} ms" for kind, ms in by_kind.most_common()))


if __name__ == "__main__":
    main()
