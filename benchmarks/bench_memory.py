"""Peak memory of training one network, trainlab or its PyTorch twin, each in a fresh process.

A worker process imports what its side needs (trainlab; PyTorch and
torch_models.py for the twin, which imports trainlab too, about 5 MiB), reads
its resident set (VmRSS), builds the network, trains ``--steps`` Adam steps on
random images as bench_cnn.py trains (same batch, threads and runtime
settings), and reports its resident-set high-water mark (VmHWM in
/proc/self/status, else ``ru_maxrss``). Nothing is subtracted: the peak counts
the interpreter and the imported libraries, and the resident set after the
imports is reported beside it so that the part the training step adds shows.

    python benchmarks/bench_memory.py --models resnet20 inception [--threads 2] [--steps 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
from pathlib import Path

SIDES = ("trainlab", "pytorch")


def status_mib(field: str) -> float | None:
    """A VmRSS/VmHWM line of /proc/self/status in MiB (None where there is no /proc)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def peak_mib() -> float:
    peak = status_mib("VmHWM")
    if peak is None:  # ru_maxrss: kilobytes on Linux, bytes on macOS
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak = rss / 2**20 if sys.platform == "darwin" else rss / 1024
    return peak


def worker(side: str, name: str, threads: int, steps: int, batch: int) -> dict:
    """Build and train network ``name`` on ``side`` in this (fresh) process; the memory figures in MiB."""
    if side == "pytorch":
        import torch
        import torch_models
    import numpy as np
    from common import NETWORKS, runtime_settings, time_torch, time_trainlab, trainlab_model

    after_imports = status_mib("VmRSS")
    rng = np.random.default_rng(0)
    shape = (784,) if NETWORKS[name].flatten else (1, 28, 28)
    x = rng.random((steps * batch, *shape), dtype=np.float32)
    t = rng.integers(0, 10, steps * batch)
    if side == "pytorch":
        torch.set_num_threads(threads)
        model = torch_models.twin_for(name)
        after_build = status_mib("VmRSS")
        time_torch(model, x, t, steps, batch, lambda s, y: torch_models.training_loss(model, s, y))
    else:
        model = trainlab_model(name)
        after_build = status_mib("VmRSS")
        time_trainlab(model, x, t, steps, batch, runtime_settings(name, threads))
    return {"rss_after_imports_mib": after_imports, "rss_after_build_mib": after_build, "peak_mib": peak_mib(),
            "steps": steps, "batch": batch, "threads": threads}


def measure(side: str, name: str, threads: int, steps: int, batch: int) -> dict:
    """``worker``'s figures from a fresh Python process."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", side, "--models", name,
           "--threads", str(threads), "--steps", str(steps), "--batch", str(batch)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(name: str, threads: int, steps: int, batch: int, sides=SIDES) -> dict:
    """Both sides' figures and the ratio of their peaks (trainlab / PyTorch)."""
    entry = {side: measure(side, name, threads, steps, batch) for side in sides}
    if len(entry) == 2:
        entry["ratio_peak"] = entry["trainlab"]["peak_mib"] / entry["pytorch"]["peak_mib"]
    return entry


def describe(label: str, entry: dict) -> str:
    parts = [f"{side} {entry[side]['peak_mib']:.0f} MiB ({entry[side]['rss_after_imports_mib']:.0f} after imports)"
             for side in SIDES if side in entry]
    ratio = f"; ratio {entry['ratio_peak']:.2f}x" if "ratio_peak" in entry else ""
    return f"{label} peak memory: " + ", ".join(parts) + ratio


def main() -> None:
    from common import NETWORKS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3, help="training steps in each process")
    parser.add_argument("--batch", type=int, default=None, help="default: the network's (100; the MLP 128)")
    parser.add_argument("--worker", choices=SIDES, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        name = args.models[0]
        print(json.dumps(worker(args.worker, name, args.threads, args.steps, args.batch or NETWORKS[name].batch)))
        return
    sides = SIDES if importlib.util.find_spec("torch") else ("trainlab",)
    for name in args.models:
        entry = compare(name, args.threads, args.steps, args.batch or NETWORKS[name].batch, sides)
        print(describe(f"{NETWORKS[name].label} ({args.threads} threads)", entry), flush=True)


if __name__ == "__main__":
    main()
