"""Time of the training batches' augmentation: each transform on a batch, and the whole-pixel shift two ways.

A training step of a speedrun recipe on MNIST takes some tens of milliseconds, so a
transform of a few milliseconds per batch is a share of it worth seeing. Prints the
milliseconds per batch of each transform spec (best and median of ``--repeats``), and
for ``shift`` the same draws done by the general sampler (an affine grid of source
coordinates read in "nearest" mode, as the shifts were done before) beside
``trainlab.data.warp.shift_whole_pixels`` (pad, then one gather for the rows and one for
the columns), with a check that both give the same images.

    python benchmarks/augment_time.py                          # batch 128 of 1x28x28 float32
    python benchmarks/augment_time.py --batch 100 --specs "shift:2" "shift:2 hflip" "rotate:10"
    python benchmarks/augment_time.py --json benchmarks/results/augment_time.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

import numpy as np

from common import blas_description, cpu_description, machine_line, machine_speed
from trainlab.data import build_pipeline
from trainlab.data.warp import affine_coords, sample, shift_whole_pixels
from trainlab.fileio import atomic_write_text


def times_ms(call, repeats: int) -> tuple[float, float]:
    call()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        out.append(1e3 * (time.perf_counter() - start))
    return min(out), float(np.median(out))


def shift_by_sampling(x, dy, dx, fill: float = 0.0):
    """The whole-pixel shift as the general sampler does it: source coordinates, then a nearest read."""
    n, _, h, w = x.shape
    ys, xs = affine_coords(np, n, h, w, np.zeros(n), np.ones(n), dy.astype(np.float64), dx.astype(np.float64))
    return sample(x, ys, xs, mode="nearest", fill=fill)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--max-shift", type=int, default=2)
    parser.add_argument("--specs", nargs="+", default=["shift:2", "hflip", "shift:2 hflip"])
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()
    speed = machine_speed()
    print(machine_line(speed))
    record = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "machine": {**cpu_description(), "blas": blas_description(), "speed": speed}, "batch": args.batch,
              "repeats": args.repeats, "ms_per_batch": {}}
    rng = np.random.default_rng(0)
    x = rng.random((args.batch, 1, 28, 28), dtype=np.float32)
    print(f"batch of {args.batch} float32 images 1x28x28, {args.repeats} repeats, ms per batch (best, median)")
    for spec in args.specs:
        pipeline = build_pipeline(spec, image_shape=(1, 28, 28))
        best, median = times_ms(lambda: pipeline(x, rng), args.repeats)
        record["ms_per_batch"][spec] = {"best": best, "median": median}
        print(f"  {spec:24s} {best:6.2f}  {median:6.2f}")
    s = args.max_shift
    dy, dx = rng.integers(-s, s + 1, size=(2, args.batch))
    same = np.array_equal(shift_by_sampling(x, dy, dx), shift_whole_pixels(x, dy, dx))
    print(f"whole-pixel shifts of up to {s} (the same images both ways: {same}):")
    for label, call in (("affine grid + nearest read", lambda: shift_by_sampling(x, dy, dx)),
                        ("shift_whole_pixels", lambda: shift_whole_pixels(x, dy, dx))):
        best, median = times_ms(call, args.repeats)
        record["ms_per_batch"][f"whole-pixel shift {s}: {label}"] = {"best": best, "median": median}
        print(f"  {label:28s} {best:6.2f}  {median:6.2f}")
    record["same_images_both_ways"] = bool(same)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.json, json.dumps(record, indent=1))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
