"""Throughput of two revisions of trainlab side by side: bench_mlp.py and bench_cnn.py, alternating.

Runs each benchmark script of an earlier checkout (``--before``, a folder
holding ``src/trainlab`` and ``benchmarks/``) and of this one in alternating
order, pair after pair, in one sitting, and prints each revision's
trainlab/PyTorch ratios and how much they moved. Ratios, not samples per
second, are compared: both revisions are timed against the same PyTorch in the
same minute, so the machine's noise cancels out as far as it can. Run it with
nothing else on the machine.

    python benchmarks/before_after.py --before ../old-checkout [--pairs 3] [--json FILE]
    python benchmarks/before_after.py --before ../old-checkout --models resnet densenet   # training only
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parents[1]
MLP_RATIO = re.compile(r"ratio trainlab/pytorch: ([0-9.]+)x")
#: bench_cnn.py's training lines ("DeepConvNet: trainlab 1234 samples/s (best of 3), pytorch ...; ratio ...").
CNN_RATIO = re.compile(r"^([^:\n]+): trainlab \d+ samples/s .* ratio trainlab/pytorch ([0-9.]+)x \(best vs best\), "
                       r"([0-9.]+)x", re.M)


def run(tree: Path, script: str, args: list[str]) -> str:
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    done = subprocess.run([sys.executable, str(tree / "benchmarks" / script), *args], env=env,
                          capture_output=True, text=True, check=True)
    return done.stdout


def measure(tree: Path, rounds: int, models: list[str] | None = None) -> dict[str, float]:
    """Best-against-best training ratios of one run of each script: {network: trainlab / PyTorch}.

    ``models``: bench_cnn.py's ``--models`` (its default when None); the MLP runs unless left out of them.
    """
    out = {}
    if models is None or "mlp" in models:
        mlp = run(tree, "bench_mlp.py", ["--rounds", str(rounds)])
        out["MultiLayerNet"] = float(MLP_RATIO.search(mlp).group(1))
    cnn_models = [] if models is None else [m for m in models if m != "mlp"]
    if models is not None and not cnn_models:
        return out
    args = ["--rounds", str(rounds), "--measure", "train"] + (["--models", *cnn_models] if cnn_models else [])
    for name, best, _median in CNN_RATIO.findall(run(tree, "bench_cnn.py", args)):
        out[name] = float(best)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the earlier checkout")
    parser.add_argument("--pairs", type=int, default=3, help="runs of each revision, alternating")
    parser.add_argument("--rounds", type=int, default=3, help="rounds inside each benchmark run")
    parser.add_argument("--models", nargs="+", default=None,
                        help="networks to train (bench_cnn.py's --models names, and mlp); default: the MLP and "
                             "bench_cnn.py's default networks")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": HERE}
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for pair in range(args.pairs):
        order = ("before", "after") if pair % 2 == 0 else ("after", "before")
        for label in order:
            runs[label].append(measure(trees[label], args.rounds, args.models))
            print(f"pair {pair + 1} {label:6s}: " + ", ".join(f"{k} {v:.2f}x" for k, v in runs[label][-1].items()),
                  flush=True)
    record = {"pairs": args.pairs, "rounds": args.rounds, "models": args.models, "runs": runs, "median": {}}
    for name in runs["after"][0]:
        before = float(np.median([r[name] for r in runs["before"]]))
        after = float(np.median([r[name] for r in runs["after"]]))
        record["median"][name] = {"before": before, "after": after, "change": after / before - 1}
        print(f"{name}: trainlab/PyTorch {before:.2f}x before, {after:.2f}x after "
              f"({after / before - 1:+.1%}, median of {args.pairs} runs each)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(record, indent=2) + "\n")
        print(f"saved {args.json}")


if __name__ == "__main__":
    main()
