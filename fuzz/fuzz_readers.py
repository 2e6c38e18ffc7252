"""Feed hostile bytes to trainlab's file readers; report every failure that is not trainlab's own error.

The readers: :func:`trainlab.checkpoint.load`, :func:`trainlab.data.idx.read_idx` and
:func:`~trainlab.data.idx.read_idx_stream`, :func:`trainlab.data.cache.read_cache`,
:func:`trainlab.data.safe_pickle.safe_loads` and :func:`trainlab.data.synthetic.load_npz`.
An input *escapes* when a reader raises anything that is not a
:class:`trainlab.errors.TrainlabError` (a ``MemoryError`` included), raises a trainlab
error caused by a ``MemoryError`` or with a message that is not valid text, or takes
longer than ``--timeout`` seconds. The process runs under an address-space limit
(``--memory-mb`` above what it uses at start), so an allocation that the few kilobytes of
an input cannot justify shows up as a ``MemoryError``.

Two ways to run it, and one to look at what it found (see docs/reliability.md):

    python fuzz/fuzz_readers.py --runs 100000 --seed 1     # random mutation, no atheris needed
    python fuzz/fuzz_readers.py --atheris fuzz/corpus -max_total_time=3600   # coverage-guided
    python fuzz/fuzz_readers.py --replay fuzz/crashes/cache-1-001.bin        # show an escape's traceback

Both start from small valid files built here (checkpoints, IDX files plain and gzipped,
a cache file, pickles of arrays, ``.npz`` datasets). The random mode mutates bytes, and
also the members of zip archives, gzip streams, ``.npy`` headers and JSON headers with
their checksums and lengths kept valid, so that inputs get past the outer checks.
Escaping inputs are written to ``--crashes`` (one file per distinct failure) and the run
exits with status 1.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import io
import pickle
import random
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

with contextlib.ExitStack() as _imports:
    if "--atheris" in sys.argv:
        import atheris

        _imports.enter_context(atheris.instrument_imports())
    import numpy as np

    import trainlab.checkpoint
    from trainlab.data import cache, idx, safe_pickle, synthetic
    from trainlab.errors import TrainlabError

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mutations  # noqa: E402  (the module next to this script)

_WORK: list[Path] = []


def work_dir() -> Path:
    """The temporary folder the readers' files are written to (made on first use)."""
    if not _WORK:
        _WORK.append(Path(tempfile.mkdtemp(prefix="trainlab-fuzz-")))
        atexit.register(shutil.rmtree, _WORK[0], ignore_errors=True)
    return _WORK[0]


class Slow(BaseException):
    """A reader ran past the time limit (a BaseException, so that no ``except Exception`` in a reader hides it)."""


def _to_file(name: str, data: bytes) -> Path:
    path = work_dir() / name
    path.write_bytes(data)
    return path


def read_checkpoint(data: bytes) -> None:
    trainlab.checkpoint.load(_to_file("fuzz.npz", data))


def read_idx_file(data: bytes) -> None:
    idx.read_idx(_to_file("fuzz.idx", data))


def read_idx_stream(data: bytes) -> None:
    idx.read_idx_stream(io.BytesIO(data))


def read_cache_file(data: bytes) -> None:
    cache.read_cache(_to_file("fuzz-cache.npz", data))


def read_pickle(data: bytes) -> None:
    safe_pickle.safe_loads(data)


def read_npz(data: bytes) -> None:
    synthetic.load_npz(_to_file("fuzz-data.npz", data))


#: name -> (reader, the name of the seeds it starts from)
TARGETS = {
    "checkpoint": (read_checkpoint, "checkpoint"),
    "idx": (read_idx_file, "idx"),
    "idx-stream": (read_idx_stream, "idx"),
    "cache": (read_cache_file, "cache"),
    "pickle": (read_pickle, "pickle"),
    "npz": (read_npz, "npz"),
}
NAMES = sorted(TARGETS)


def build_seeds() -> dict[str, list[bytes]]:
    """Small valid files of every kind, written by trainlab itself."""
    from trainlab.layers import BatchNorm1d, Linear, ReLU, Sequential
    from trainlab.models import MultiLayerNet
    from trainlab.optim import Adam

    rng = np.random.default_rng(0)
    seeds: dict[str, list[bytes]] = {"checkpoint": [], "idx": [], "cache": [], "pickle": [], "npz": []}
    models = [MultiLayerNet(3, [4], 2, seed=0),
              Sequential(Linear(2, 3, rng=rng), BatchNorm1d(3), ReLU(), Linear(3, 2, rng=rng))]
    for k, model in enumerate(models):
        optimizer = Adam(model.parameters())
        model.forward(np.ones((2, model[0].in_features), np.float32), train=True)
        model.backward(np.ones((2, 2), np.float32))
        optimizer.step()
        path = trainlab.checkpoint.save(model, work_dir() / f"seed-{k}.npz", optimizer=optimizer if k else None,
                                        metadata={"epoch": k, "note": "seed"})
        seeds["checkpoint"].append(path.read_bytes())
    arrays = [rng.integers(0, 256, (2, 3, 3)).astype(np.uint8), np.arange(5, dtype=np.uint8),
              np.arange(4, dtype=">i4"), rng.standard_normal((2, 2)), np.arange(3, dtype=np.int16),
              np.arange(6, dtype=np.float32).reshape(1, 2, 3), np.zeros((0, 2), np.uint8)]
    for k, array in enumerate(arrays):
        for packed in (False, True):
            path = idx.write_idx(work_dir() / f"seed-{k}-{packed}.idx", array, gzip=packed)
            seeds["idx"].append(path.read_bytes())
    images, labels = arrays[0], np.array([3, 7], np.uint8)
    path = cache.write_cache(work_dir() / "seed-cache.npz", {"x_train": images, "t_train": labels},
                             dataset="fuzz", source="seed")
    seeds["cache"].append(path.read_bytes())
    for k, (x, t) in enumerate([(arrays[3], np.array([0, 1])), (images, labels)]):
        seeds["npz"].append(synthetic.save_npz(work_dir() / f"seed-{k}-data.npz", x, t).read_bytes())
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        seeds["pickle"].append(pickle.dumps(((images, labels), (images[:1], labels[:1])), protocol=protocol))
        seeds["pickle"].append(pickle.dumps({"data": [arrays[3], arrays[2]], "n": 2, "name": "x"}, protocol=protocol))
    return seeds


# ----- running -----------------------------------------------------------------------------------

def run_one(target: str, data: bytes, timeout: float) -> BaseException | None:
    """Run one reader on ``data``; return the exception that escaped (None when it behaved)."""
    reader = TARGETS[target][0]
    signal.setitimer(signal.ITIMER_REAL, timeout)
    started = time.perf_counter()
    try:
        reader(data)
    except TrainlabError as exc:
        return _hidden_memory_error(exc) or _unprintable(exc)
    except Slow:
        return Slow(f"ran longer than {timeout:g} s")
    except BaseException as exc:  # MemoryError, RecursionError, anything else
        if isinstance(exc, KeyboardInterrupt):
            raise
        return exc
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    if time.perf_counter() - started > timeout:
        return Slow(f"ran longer than {timeout:g} s")
    return None


def _hidden_memory_error(exc: BaseException) -> BaseException | None:
    """The MemoryError behind a trainlab error (a reader that tried to allocate too much and said so), if any."""
    seen = exc.__cause__ or exc.__context__
    while seen is not None:
        if isinstance(seen, MemoryError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class BadMessage(Exception):
    """A trainlab error whose message is not valid text (it cannot be printed or searched)."""


def _unprintable(exc: BaseException) -> BaseException | None:
    """A BadMessage when ``str(exc)`` fails, holds lone surrogates, or code points past U+10FFFF.

    NumPy makes the latter from the UTF-32 of a ``<U`` array without checking them; ``re``
    and other string code then raise SystemError on the message.
    """
    try:
        message = str(exc)
        message.encode("utf-8")
        if message and max(map(ord, message)) > 0x10FFFF:
            raise ValueError("a code point past U+10FFFF")
    except Exception as problem:
        bad = BadMessage(f"{type(exc).__name__} with a message that is not valid text ({problem})")
        return bad.with_traceback(exc.__traceback__)
    return None


def _on_alarm(signum, frame):
    raise Slow()


def limit_memory(extra_mb: int) -> None:
    """Cap the address space at what the process uses now plus ``extra_mb`` (0: no cap)."""
    if extra_mb <= 0:
        return
    with open("/proc/self/statm") as fh:
        used = int(fh.read().split()[0]) * resource.getpagesize()
    cap = used + extra_mb * (1 << 20)
    resource.setrlimit(resource.RLIMIT_AS, (cap, resource.getrlimit(resource.RLIMIT_AS)[1]))


def signature(target: str, exc: BaseException) -> str:
    """Where an escape came from: the reader, the exception's type and the innermost trainlab line."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "trainlab" in f.filename] or frames
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    return f"{target}: {type(exc).__name__} at {where}"


def random_mode(args) -> int:
    rng = random.Random(args.seed)
    seeds = build_seeds()
    targets = [t for t in NAMES if not args.target or t in args.target]
    corpus = {t: list(seeds[TARGETS[t][1]]) for t in targets}
    fresh = {t: list(pool) for t, pool in corpus.items()}  # every seed once as it is, then mutants
    tried = {t: 0 for t in targets}
    escapes: dict[str, tuple[int, str, bytes]] = {}
    limit_memory(args.memory_mb)
    started = time.monotonic()
    run = 0
    deadline = None if args.seconds is None else started + args.seconds
    while (args.runs is None or run < args.runs) and (deadline is None or time.monotonic() < deadline):
        target = targets[run % len(targets)]
        pool = corpus[target]
        data = fresh[target].pop(0) if fresh[target] else mutations.mutate(rng.choice(pool), rng, pool)
        run += 1
        tried[target] += 1
        exc = run_one(target, data, args.timeout)
        if exc is None:
            if len(pool) < 400 and rng.random() < 0.02:
                pool.append(data)  # keep some mutants to mutate further
            continue
        key = signature(target, exc)
        first = key not in escapes
        count = escapes[key][0] + 1 if not first else 1
        escapes[key] = (count, f"{type(exc).__name__}: {str(exc)[:200]}", escapes[key][2] if not first else data)
        if first:
            args.crashes.mkdir(parents=True, exist_ok=True)
            (args.crashes / f"{target}-{args.seed}-{len(escapes):03d}.bin").write_bytes(data)
            print(f"escape #{len(escapes)} after {run} inputs: {key}: {escapes[key][1]}", flush=True)
    elapsed = time.monotonic() - started
    total = sum(tried.values())
    print(f"tried {total} inputs in {elapsed:.0f} s (seed {args.seed}): "
          + ", ".join(f"{t} {n}" for t, n in tried.items()))
    n_escaped = sum(c for c, _, _ in escapes.values())
    print(f"escaped: {n_escaped} input(s), {len(escapes)} distinct")
    for key, (count, message, _) in escapes.items():
        print(f"  {count:6d} x {key}: {message}")
    return 1 if escapes else 0


def replay(paths: list[Path]) -> int:
    """Run the reader each crash file's name begins with (``cache-7-003.bin``) on it; show the traceback."""
    for path in paths:
        target = next((t for t in sorted(NAMES, key=len, reverse=True) if path.name.startswith(t + "-")), None)
        if target is None:
            raise SystemExit(f"{path}: the name does not start with a reader ({', '.join(NAMES)})")
        print(f"{path} ({target}):", flush=True)
        try:
            TARGETS[target][0](path.read_bytes())
        except TrainlabError as exc:
            escaped = _hidden_memory_error(exc) or _unprintable(exc)
            if escaped is None:
                print(f"  trainlab error (no escape): {type(exc).__name__}: {exc}")
            else:
                print(f"  escape behind a trainlab error: {type(escaped).__name__}", flush=True)
                traceback.print_exception(escaped if isinstance(escaped, MemoryError) else exc)
        except Exception:
            traceback.print_exc()
        else:
            print("  read without error")
    return 0


def atheris_mode(argv: list[str]) -> None:
    corpus = next((Path(a) for a in argv[1:] if not a.startswith("-")), None)
    if corpus is not None and not any(corpus.iterdir() if corpus.is_dir() else ()):
        corpus.mkdir(parents=True, exist_ok=True)
        for name, (_, kind) in TARGETS.items():
            for k, data in enumerate(build_seeds()[kind]):
                (corpus / f"seed-{name}-{k}").write_bytes(bytes([NAMES.index(name)]) + data)

    def one_input(data: bytes) -> None:
        if not data:
            return
        target = NAMES[data[0] % len(NAMES)]
        exc = run_one(target, data[1:], 5.0)
        if exc is not None:
            raise exc

    atheris.Setup(argv, one_input)
    atheris.Fuzz()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    signal.signal(signal.SIGALRM, _on_alarm)
    warnings.simplefilter("ignore")  # a reader's warnings (and zipfile's about duplicate names) are not failures
    if "--atheris" in argv:
        atheris_mode([a for a in argv if a != "--atheris"])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, help="inputs to try (default: until --seconds)")
    parser.add_argument("--seconds", type=float, help="stop after this long")
    parser.add_argument("--seed", type=int, default=0, help="seed of the mutations (the same seed, the same inputs)")
    parser.add_argument("--target", action="append", choices=NAMES, help="fuzz only these readers")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds one input may take")
    parser.add_argument("--memory-mb", type=int, default=1024,
                        help="address space allowed beyond what the process uses at start (0: no limit)")
    parser.add_argument("--crashes", type=Path, default=Path("fuzz/crashes"), help="where escaping inputs go")
    parser.add_argument("--replay", type=Path, nargs="+", help="run the readers on these crash files and stop")
    args = parser.parse_args(argv[1:])
    if args.replay:
        limit_memory(args.memory_mb)
        return replay(args.replay)
    if args.runs is None and args.seconds is None:
        parser.error("give --runs N or --seconds S")
    return random_mode(args)


if __name__ == "__main__":
    sys.exit(main())
