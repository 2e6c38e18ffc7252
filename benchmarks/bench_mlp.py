"""Training throughput of the book's optimizer-comparison network: trainlab vs PyTorch CPU.

Network: 784-100-100-100-100-10, ReLU, He initialisation, Adam (lr 1e-3),
batch 128, float32, softmax cross-entropy. Both frameworks train on the same
batches in one run, in alternating rounds so that machine noise affects both;
PyTorch runs with 2 threads. Prints samples/s for each and the ratio
(trainlab / PyTorch; above 1 means trainlab is faster).

    python benchmarks/bench_mlp.py [--steps 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse

from common import NETWORKS, RUNTIME_MLP, load_images, machine_line, time_torch, time_trainlab, trainlab_model

SIZES = NETWORKS["mlp"].kwargs["hidden_sizes"]


def run_trainlab(x, t, steps: int, batch: int) -> float:
    return time_trainlab(trainlab_model("mlp"), x, t, steps, batch, RUNTIME_MLP)


def run_torch(x, t, steps: int, batch: int) -> float:
    import torch_models

    return time_torch(torch_models.twin_for("mlp"), x, t, steps, batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    x, t, source = load_images(20000, flatten=True)
    try:
        import torch

        torch.set_num_threads(2)
        have_torch = True
    except ImportError:
        have_torch = False
    print(f"MLP 784-{'-'.join(map(str, SIZES))}-10, ReLU, He, Adam, batch {args.batch}, float32, "
          f"{args.steps} steps x {args.rounds} rounds on {source}")
    print(machine_line() + (f"; torch {torch.__version__} ({torch.get_num_threads()} threads)" if have_torch else ""))
    run_trainlab(x, t, 50, args.batch)  # warm-up
    if have_torch:
        run_torch(x, t, 50, args.batch)
    ours, theirs = [], []
    for _ in range(args.rounds):
        ours.append(run_trainlab(x, t, args.steps, args.batch))
        if have_torch:
            theirs.append(run_torch(x, t, args.steps, args.batch))
    best_ours = max(ours)
    print(f"trainlab: {best_ours:10.0f} samples/s (best of {args.rounds}; all: "
          f"{', '.join(f'{v:.0f}' for v in ours)})")
    if have_torch:
        best_theirs = max(theirs)
        print(f"pytorch:  {best_theirs:10.0f} samples/s (best of {args.rounds}; all: "
              f"{', '.join(f'{v:.0f}' for v in theirs)})")
        print(f"ratio trainlab/pytorch: {best_ours / best_theirs:.2f}x")
    else:
        print("pytorch: not installed (pip install torch==2.13.0 to compare)")


if __name__ == "__main__":
    main()
