"""Print the README's speed table (markdown) from bench_cnn.py JSON files: trainlab against PyTorch CPU.

One row per network in ``common.NETWORKS`` order: the training ratio at each
thread count the files hold (most threads first), then the inference ratio and
the peak-memory ratio at the most threads measured. A throughput cell is
trainlab / PyTorch best against best (above 1: trainlab is faster) with the
median of the rounds' ratios; a memory cell is the ratio of the two fresh
processes' peak resident sets (below 1: trainlab uses less) with the peaks.
Files of earlier bench_cnn.py versions give training at their one thread count.
A figure no file holds prints as "not measured"; two files holding the same
figure is an error, not a choice.

    python benchmarks/speed_table.py benchmarks/results/bench_all.json
    python benchmarks/speed_table.py benchmarks/results/bench_cnn.json benchmarks/results/bench_cnn_1thread.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common import NETWORKS

MEASURES = ("train", "inference", "memory")


def figures(bench: dict) -> dict[str, dict[str, dict[str, dict]]]:
    """{network: {measure: {threads: figures}}} of one bench_cnn.py JSON file, either form."""
    out = {}
    for name, entry in bench.get("models", {}).items():
        by_measure = {m: dict(entry[m]) for m in MEASURES if m in entry}
        if "train" not in by_measure and "ratio_best" in entry:  # an earlier file: training at torch_threads
            by_measure["train"] = {str(bench["torch_threads"]): entry}
        out[name] = by_measure
    return out


def merge(benches: list[tuple[str, dict]]) -> dict:
    """All files' figures in one table, each (network, measure, threads) from exactly one file."""
    merged: dict = {}
    source: dict = {}
    for file_name, bench in benches:
        for name, by_measure in figures(bench).items():
            for measure, by_threads in by_measure.items():
                for threads, entry in by_threads.items():
                    key = (name, measure, threads)
                    if key in source:
                        raise ValueError(f"{name} {measure} at {threads} thread(s) is in both {source[key]} and "
                                         f"{file_name}; pass one of them")
                    source[key] = file_name
                    merged.setdefault(name, {}).setdefault(measure, {})[threads] = entry
    return merged


def throughput_cell(entry: dict | None) -> str:
    if not entry or "ratio_best" not in entry:
        return "not measured"
    return f"{entry['ratio_best']:.2f}x (median {entry['ratio_median']:.2f}x)"


def memory_cell(entry: dict | None) -> str:
    if not entry or "ratio_peak" not in entry:
        return "not measured"
    return (f"{entry['ratio_peak']:.2f}x ({entry['trainlab']['peak_mib']:.0f} vs "
            f"{entry['pytorch']['peak_mib']:.0f} MiB)")


def thread_counts(merged: dict, measure: str) -> list[str]:
    found = {t for by_measure in merged.values() for t in by_measure.get(measure, {})}
    return sorted(found, key=int, reverse=True)


def note(file_name: str, bench: dict) -> str:
    processor = ", ".join(v for v in (bench.get("cpu"), bench.get("simd")) if v) or "a processor not recorded"
    torch = (bench.get("versions") or {}).get("torch")
    load = bench.get("load_average")
    mlp = bench["models"].get("mlp", {}).get("batch", NETWORKS["mlp"].batch) if "mlp" in bench["models"] else None
    parts = [f"{file_name}: bench_cnn.py on {processor}", f"torch {torch}" if torch else None,
             f"best of {bench['rounds']} rounds", f"batch {bench['batch']}" + (f" (the MLP {mlp})" if mlp else ""),
             f"inference over {bench['test_images']:,} test images in batches of {bench['eval_batch']}"
             if "test_images" in bench else None,
             f"load average {load[0]:.1f} at the start" if load else None, bench.get("date")]
    return ", ".join(p for p in parts if p) + "."


def table(benches: list[tuple[str, dict]]) -> str:
    merged = merge(benches)
    train = thread_counts(merged, "train")
    inference, memory = thread_counts(merged, "inference")[:1], thread_counts(merged, "memory")[:1]
    header = (["network"] + [f"train, {t} thread{'s' * (t != '1')}" for t in train]
              + [f"inference, {t} thread{'s' * (t != '1')}" for t in inference]
              + [f"peak memory, {t} thread{'s' * (t != '1')}" for t in memory])
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    names = [n for n in NETWORKS if n in merged] + sorted(n for n in merged if n not in NETWORKS)
    for name in names:
        m = merged[name]
        cells = [NETWORKS[name].label if name in NETWORKS else name]
        cells += [throughput_cell(m.get("train", {}).get(t)) for t in train]
        cells += [throughput_cell(m.get("inference", {}).get(t)) for t in inference]
        cells += [memory_cell(m.get("memory", {}).get(t)) for t in memory]
        lines.append("| " + " | ".join(cells) + " |")
    notes = ["", "trainlab / PyTorch CPU: throughput best against best (median of the rounds' ratios), memory the "
             "peak resident set of a fresh process training each network (trainlab vs PyTorch)."]
    return "\n".join(lines + notes + [note(f, b) for f, b in benches])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="bench_cnn.py --json files")
    args = parser.parse_args()
    try:
        benches = [(path.name, json.loads(path.read_text())) for path in args.files]
        print(table(benches))
    except (OSError, ValueError, KeyError) as exc:
        sys.exit(f"speed_table.py: {exc}")


if __name__ == "__main__":
    main()
