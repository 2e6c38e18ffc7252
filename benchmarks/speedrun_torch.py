"""The speedrun's recipe in PyTorch CPU, and both frameworks timed in one sitting, alternating.

The PyTorch run is the same recipe: the same layers in the same order (its
parameter count is asserted equal to trainlab's), the same initial weights
(copied from the trainlab model of the same seed), the same batches in the same
order with the same augmentation (trainlab's ``BatchIterator`` and pipeline, on
NumPy arrays handed to torch), the same optimizer with weight decay on the
weights only, the same learning rate at every step, the same test-time mirror.
Its clock is the speedrun's: from the data in the disk cache to the final test
evaluation. PyTorch runs on ``--threads`` threads (default 2, the cores).

    python benchmarks/speedrun_torch.py mnist                        # 5 seeds of each, alternating
    python benchmarks/speedrun_torch.py mnist --target 0.995 --seeds 3
    python benchmarks/speedrun_torch.py fashion-mnist --seeds 1 --out benchmarks/results/speedrun_torch_fashion.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from trainlab.data import BatchIterator
from trainlab.fileio import atomic_write_text
from trainlab.speedrun import (
    Recipe, build_model, learning_rate, load_data, machine, make_augmentation, recipe_for, run_recipe,
)


def torch_model(recipe: Recipe, seed: int):
    """The recipe's network in PyTorch with the initial weights of trainlab's model of the same seed."""
    import torch
    from torch import nn

    bn = recipe.batchnorm
    layers, c = [], 1
    if recipe.stem:
        layers += [nn.Conv2d(1, recipe.stem, 4, stride=2, padding=1, bias=not bn)]
        layers += [nn.BatchNorm2d(recipe.stem)] if bn else []
        layers.append(nn.ReLU())
        c = recipe.stem
    side = 14 if recipe.stem else 28
    for stage in recipe.stages:
        for k, width in enumerate(stage):
            layers.append(nn.Conv2d(c, width, 3, padding=1, bias=not bn))
            layers += [nn.BatchNorm2d(width)] if bn else []
            if k < len(stage) - 1:
                layers.append(nn.ReLU())
            c = width
        layers += [nn.MaxPool2d(2), nn.ReLU()]
        side //= 2
    layers.append(nn.Flatten())
    features = c * side * side
    if recipe.hidden:
        layers += [nn.Linear(features, recipe.hidden), nn.ReLU()]
        features = recipe.hidden
    if recipe.dropout:
        layers.append(nn.Dropout(recipe.dropout))
    layers.append(nn.Linear(features, 10))
    model = nn.Sequential(*layers)
    ours = build_model(recipe, seed)
    theirs = [p for p in model.parameters()]
    mine = [p for _, p in ours.named_parameters()]
    assert sum(p.numel() for p in theirs) == ours.num_parameters(), "parameter counts differ"
    assert len(theirs) == len(mine)
    decay = []
    with torch.no_grad():
        for t, p in zip(theirs, mine):
            value = p.data.T if p.data.ndim == 2 else p.data  # trainlab's Linear weight is (in, out)
            assert tuple(t.shape) == value.shape, (tuple(t.shape), value.shape)
            t.copy_(torch.from_numpy(np.ascontiguousarray(value)))
            decay.append(bool(p.decay))
    return model, decay


def run_torch(recipe: Recipe, seed: int) -> dict:
    """One timed PyTorch run of ``recipe`` (test set scored once, at the end)."""
    import torch

    load = os.getloadavg()[0]
    start = time.perf_counter()
    data = load_data(recipe.dataset)
    torch.manual_seed(seed)
    model, decay = torch_model(recipe, seed)
    params = list(model.parameters())
    groups = [{"params": [p for p, d in zip(params, decay) if d], "weight_decay": recipe.weight_decay},
              {"params": [p for p, d in zip(params, decay) if not d], "weight_decay": 0.0}]
    if recipe.optimizer == "adam":
        opt = torch.optim.Adam(groups, lr=recipe.lr)
    elif recipe.optimizer == "adamw":
        opt = torch.optim.AdamW(groups, lr=recipe.lr)
    else:
        opt = torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.momentum, nesterov=recipe.momentum > 0)
    x, t = data.x_train, data.t_train
    batches = BatchIterator(x, t, recipe.batch_size, shuffle=True, seed=seed, augment=make_augmentation(recipe))
    steps = max(1, int(round(recipe.epochs * len(batches))))
    schedule = learning_rate(recipe, recipe.lr, steps)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    model.train()
    step = 0
    while step < steps:
        for xb, tb in batches:
            lr = schedule(step) if callable(schedule) else schedule
            for g in opt.param_groups:
                g["lr"] = lr
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(torch.from_numpy(xb)), torch.from_numpy(np.asarray(tb)))
            loss.backward()
            opt.step()
            step += 1
            if step >= steps:
                break
    train_seconds = time.perf_counter() - start
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(data.x_test), 1000):
            xb = torch.from_numpy(data.x_test[i:i + 1000])
            p = torch.softmax(model(xb), 1)
            if recipe.tta_hflip:
                p = (p + torch.softmax(model(torch.flip(xb, dims=[3])), 1)) / 2
            correct += int((p.argmax(1).numpy() == data.t_test[i:i + 1000]).sum())
    seconds = time.perf_counter() - start
    return {"recipe": recipe.name, "seed": seed, "seconds": seconds, "train_seconds": train_seconds, "steps": step,
            "epochs": step / len(batches), "test_acc": correct / len(data.x_test),
            "parameters": sum(p.numel() for p in params), "load_average": [load, os.getloadavg()[0]]}


def run_in_subprocess(framework: str, dataset: str, target: float, seed: int, threads: int) -> dict:
    """One run in a fresh Python process, so that neither framework's threads or libraries touch the other's."""
    cmd = [sys.executable, __file__, dataset, "--worker", framework, "--seed", str(seed), "--threads", str(threads)]
    if target is not None:
        cmd += ["--target", str(target)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def worker(args) -> None:
    recipe = recipe_for(args.dataset, args.target)
    if args.worker == "torch":
        import torch

        torch.set_num_threads(args.threads)
        record = run_torch(recipe, args.seed)
    else:
        record = run_recipe(recipe, args.seed)
    print(json.dumps(record))


def summary(runs: list[dict]) -> dict:
    acc = [r["test_acc"] for r in runs]
    sec = [r["seconds"] for r in runs]
    return {"acc_mean": float(np.mean(acc)), "acc_min": float(min(acc)), "acc_max": float(max(acc)),
            "seconds_median": float(np.median(sec)), "seconds_min": float(min(sec)), "seconds_max": float(max(sec))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=["mnist", "fashion-mnist"])
    parser.add_argument("--target", type=float, default=None)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="PyTorch's intra-op threads (default: 2)")
    parser.add_argument("--only", choices=["trainlab", "torch"], default=None, help="run one framework only")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON record (default: benchmarks/results/speedrun_<recipe>.json)")
    parser.add_argument("--worker", choices=["trainlab", "torch"], default=None, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    import torch
    recipe = recipe_for(args.dataset, args.target)
    out = args.out or Path("benchmarks/results") / f"speedrun_{recipe.name}.json"
    record = {"recipe": recipe.to_dict(), "described": recipe.describe(), "machine": machine(),
              "torch": torch.__version__, "torch_threads": args.threads, "each_run": "in its own process",
              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "trainlab": [], "pytorch": []}
    print(f"{recipe.name}: {recipe.describe()}\nmachine: {record['machine']}; torch {torch.__version__} "
          f"({args.threads} threads); each run in its own process", flush=True)
    for seed in range(args.seeds):
        # Alternate, so that a busy minute of the machine falls on both frameworks.
        order = ["trainlab", "pytorch"] if seed % 2 == 0 else ["pytorch", "trainlab"]
        for name in order:
            if args.only and args.only != name.replace("pytorch", "torch"):
                continue
            r = run_in_subprocess("trainlab" if name == "trainlab" else "torch", args.dataset, args.target, seed,
                                  args.threads)
            record[name].append(r)
            print(f"  seed {seed} {name:8s}: test {r['test_acc']:.4f} in {r['seconds']:.1f} s ({r['epochs']:.2f} "
                  f"epochs, load {r['load_average'][0]:.1f}-{r['load_average'][1]:.1f})", flush=True)
            for key in ("trainlab", "pytorch"):
                if record[key]:
                    record[f"{key}_summary"] = summary(record[key])
            out.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(out, json.dumps(record, indent=1))
    for key in ("trainlab", "pytorch"):
        if record[key]:
            s = record[f"{key}_summary"]
            print(f"{key:8s}: test accuracy mean {s['acc_mean']:.4f} (min {s['acc_min']:.4f}, max {s['acc_max']:.4f}), "
                  f"median {s['seconds_median']:.1f} s (target {recipe.target:.3f} in {recipe.time_target:g} s)")
    if record["trainlab"] and record["pytorch"]:
        ratio = record["pytorch_summary"]["seconds_median"] / record["trainlab_summary"]["seconds_median"]
        record["speed_ratio_trainlab_over_pytorch"] = ratio
        atomic_write_text(out, json.dumps(record, indent=1))
        print(f"trainlab is {ratio:.2f}x PyTorch's speed on this recipe (median times)")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
