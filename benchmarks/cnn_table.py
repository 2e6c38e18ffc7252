"""Print the CNN results table (markdown) from train_cnn.py runs and bench_cnn.py JSON files.

Each run folder is one ``train_cnn.py --out DIR`` (its ``results.json`` and
``config.json``); each ``--bench`` is a ``bench_cnn.py --json FILE`` output, which
gives the throughput ratio to PyTorch for the models it measured (one column per
file: the ratio depends on the machine, so several machines get several columns;
the training ratio at the file's first thread count). ``speed_table.py`` prints
the speed table itself: training, inference and memory at each thread count.
Rows are grouped by dataset in the models' registry order; a missing figure
prints as "not measured", never as a guess.

    python benchmarks/cnn_table.py runs/mnist-* runs/fashion-* --bench runs/bench_cnn.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common import network_name

from trainlab.models import CNN_MODELS

DATASET_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}


def load_run(folder: Path) -> dict:
    """The merged config and results of one train_cnn.py run (ValueError when the folder is not one)."""
    try:
        results = json.loads((folder / "results.json").read_text())
        config = json.loads((folder / "config.json").read_text())
    except FileNotFoundError as exc:
        raise ValueError(f"{folder} is not a train_cnn.py --out folder: {exc.filename} is missing") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{folder}: unreadable JSON ({exc})") from exc
    return {"folder": str(folder), **config, **results}


def recipe(run: dict) -> str:
    """The training recipe in words: epochs, optimizer, schedule, batch, augmentation."""
    augment = run.get("augment") or "none"
    return (f"{run['epochs']} epochs, Adam {run['lr']:g} cosine, batch {run['batch_size']}, "
            f"augment {augment}, seed {run['seed']}")


def model_label(run: dict) -> str:
    """The registry name, with any constructor arguments that differ from the defaults."""
    args = run.get("model_args") or {}
    return run["model"] + (f" ({', '.join(f'{k}={v}' for k, v in args.items())})" if args else "")


def format_minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


Bench = tuple[str, dict]  # (file name, bench_cnn.py JSON)


def ratio_headers(benches: list[Bench]) -> list[str]:
    if len(benches) <= 1:
        return ["throughput vs PyTorch"]
    return [f"vs PyTorch ({name})" for name, _ in benches]


def ratio_cells(run: dict, benches: list[Bench]) -> list[str]:
    """Best-against-best throughput ratio of the run's model in each bench file."""
    cells = []
    name = network_name(run["model"], run.get("model_args"))  # None: a configuration bench_cnn.py does not build
    for _, bench in benches or [("", {})]:
        ratio = bench.get("models", {}).get(name, {}).get("ratio_best") if name else None
        cells.append(f"{ratio:.2f}x" if ratio else "not measured")
    return cells


def bench_notes(benches: list[Bench]) -> list[str]:
    notes = []
    for name, bench in benches:
        processor = (", ".join(v for v in (bench.get("cpu"), bench.get("simd")) if v)
                     or "a machine whose processor was not recorded")
        notes.append(f"Throughput ({name}): bench_cnn.py on {processor}, best of {bench['rounds']} rounds, "
                     f"batch {bench['batch']}, PyTorch on {bench['torch_threads']} thread(s).")
    return notes


def table(runs: list[dict], benches: list[Bench]) -> str:
    order = {name: i for i, name in enumerate(CNN_MODELS.names_in_order())}
    runs = sorted(runs, key=lambda r: (list(DATASET_NAMES).index(r["dataset"]), order.get(r["model"], 99),
                                       model_label(r), r["epochs"]))
    headers = ratio_headers(benches)
    lines = ["| model | dataset | parameters | multiply-adds per image | test accuracy | epochs | "
             "training time | " + " | ".join(headers) + " |",
             "|---|---|---:|---:|---:|---:|---:|" + "---:|" * len(headers)]
    for run in runs:
        epochs = f"{run['epochs_completed']} of {run['epochs']}" if run["stopped_by_time_limit"] else str(run["epochs"])
        lines.append(
            f"| {model_label(run)} | {DATASET_NAMES.get(run['dataset'], run['dataset'])} | {run['parameters']:,} | "
            f"{run['flops_per_sample']:,} | {run['test_acc'] * 100:.2f}% | {epochs} | "
            f"{format_minutes(run['train_time_s'])} | " + " | ".join(ratio_cells(run, benches)) + " |")
    recipes = [text for _, text in sorted({(r["epochs"], recipe(r)) for r in runs})]  # fewest epochs first
    notes = ["", "Recipes: " + "; ".join(recipes) + "."] + bench_notes(benches)
    return "\n".join(lines + notes)


def table_by_model(runs: list[dict], benches: list[Bench]) -> str:
    """One row per model: parameters, then accuracy and training time on each dataset, then the speed ratio."""
    order = {name: i for i, name in enumerate(CNN_MODELS.names_in_order())}
    models: dict[str, dict] = {}
    for run in runs:
        row = models.setdefault(model_label(run), {"run": run})
        if run["dataset"] in row:  # one cell per model and dataset: say so rather than keep either run
            raise ValueError(f"two runs of {model_label(run)} on {run['dataset']} ({row[run['dataset']]['folder']} "
                             f"and {run['folder']}); pass one of them")
        row[run["dataset"]] = run
    datasets = [d for d in DATASET_NAMES if any(d in row for row in models.values())]
    header = ["model", "parameters"] + [f"{DATASET_NAMES[d]} accuracy (training time)" for d in datasets]
    headers = ratio_headers(benches)
    lines = ["| " + " | ".join(header + headers) + " |",
             "|---|---:|" + "---:|" * (len(datasets) + len(headers))]
    for label, row in sorted(models.items(), key=lambda kv: (order.get(kv[1]["run"]["model"], 99), kv[0])):
        run = row["run"]
        cells = [label, f"{run['parameters']:,}"]
        for d in datasets:
            r = row.get(d)
            cells.append(f"{r['test_acc'] * 100:.2f}% ({format_minutes(r['train_time_s'])})" if r else "not measured")
        cells += ratio_cells(run, benches)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines + ([""] + bench_notes(benches) if benches else []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="train_cnn.py --out folders")
    parser.add_argument("--bench", type=Path, action="append", default=[],
                        help="a bench_cnn.py --json file (repeat for several machines: one column each)")
    parser.add_argument("--by-model", action="store_true",
                        help="one row per model with a column per dataset (the README's table)")
    args = parser.parse_args()
    try:
        runs = [load_run(folder) for folder in args.runs]
        benches = [(path.name, json.loads(path.read_text())) for path in args.bench]
    except (ValueError, OSError) as exc:
        sys.exit(f"cnn_table.py: {exc}")
    try:
        print(table_by_model(runs, benches) if args.by_model else table(runs, benches))
    except ValueError as exc:
        sys.exit(f"cnn_table.py: {exc}")


if __name__ == "__main__":
    main()
