"""The by-hand fuzz target (fuzz/fuzz_readers.py): its seeds are valid files, it tells trainlab's errors
from escapes, and its mutations are reproducible."""

import importlib.util
import random
import time
import zipfile
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest

from trainlab.errors import DataError

SCRIPT = Path(__file__).resolve().parents[1] / "fuzz" / "fuzz_readers.py"


@pytest.fixture(scope="module")
def fuzz():
    spec = importlib.util.spec_from_file_location("fuzz_readers", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def seeds(fuzz):
    return fuzz.build_seeds()


def test_every_reader_reads_its_seeds(fuzz, seeds):
    for name, (reader, kind) in fuzz.TARGETS.items():
        assert seeds[kind], name
        for data in seeds[kind]:
            reader(data)  # valid files: no error at all


def test_trainlab_errors_pass_and_everything_else_escapes(fuzz, monkeypatch):
    def raises(exc):
        def reader(data):
            raise exc
        return reader

    def hides_memory_error(data):
        try:
            bytearray(1 << 62)
        except MemoryError as exc:
            raise DataError("too big") from exc

    def spins(data):
        end = time.perf_counter() + 5
        while time.perf_counter() < end:
            pass

    try:  # NumPy makes a str with the code point U+110000 from these UTF-32 bytes without checking it
        beyond = "bad text " + str(np.frombuffer(b"\x00\x00\x11\x00a\x00\x00\x00", "<U2")[0])
    except (SystemError, ValueError):  # a NumPy that checks
        beyond = "bad text \udc80"
    fakes = {"ours": raises(DataError("bad")), "value": raises(ValueError("bad")), "memory": raises(MemoryError()),
             "hidden": hides_memory_error, "slow": spins, "fine": lambda data: None,
             "surrogate": raises(DataError("bad name \udc80")),
             "beyond": raises(DataError(beyond))}
    monkeypatch.setattr(fuzz, "TARGETS", {name: (reader, "pickle") for name, reader in fakes.items()})
    fuzz.signal.signal(fuzz.signal.SIGALRM, fuzz._on_alarm)
    outcome = {name: fuzz.run_one(name, b"", timeout=0.2) for name in fakes}
    assert outcome["ours"] is None and outcome["fine"] is None
    assert isinstance(outcome["value"], ValueError) and isinstance(outcome["memory"], MemoryError)
    assert isinstance(outcome["hidden"], MemoryError)
    assert isinstance(outcome["slow"], fuzz.Slow) and "longer than 0.2 s" in str(outcome["slow"])
    assert isinstance(outcome["surrogate"], fuzz.BadMessage) and isinstance(outcome["beyond"], fuzz.BadMessage)


def test_mutations_follow_the_seed_and_keep_archives_readable(fuzz, seeds):
    checkpoint = seeds["checkpoint"][0]
    runs = [[fuzz.mutations.mutate(checkpoint, random.Random(3), seeds["checkpoint"]) for _ in range(20)]
            for _ in range(2)]
    assert runs[0] == runs[1] and any(m != checkpoint for m in runs[0])
    rng = random.Random(5)
    for _ in range(20):
        changed = fuzz.mutations.mutate_zip(checkpoint, rng)
        with zipfile.ZipFile(BytesIO(changed)) as archive:
            assert archive.testzip() is None  # CRCs still right: the readers see past the zip layer


def test_the_random_mode_counts_what_it_tried(fuzz, tmp_path, capsys):
    fuzz.main(["fuzz_readers.py", "--runs", "60", "--seed", "2", "--target", "pickle", "--target", "idx-stream",
               "--memory-mb", "0", "--crashes", str(tmp_path)])
    out = capsys.readouterr().out
    assert "tried 60 inputs" in out and "idx-stream 30, pickle 30" in out and "escaped: " in out


def test_replay_runs_the_reader_a_crash_file_names(fuzz, tmp_path, capsys):
    (tmp_path / "idx-stream-3-001.bin").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05ab")
    (tmp_path / "pickle-3-002.bin").write_bytes(b"junk")
    assert fuzz.main(["fuzz_readers.py", "--replay", str(tmp_path / "idx-stream-3-001.bin"),
                      str(tmp_path / "pickle-3-002.bin")]) == 0
    out = capsys.readouterr().out
    assert "(idx-stream):" in out and "(pickle):" in out and out.count("trainlab error (no escape)") == 2


FOUND = sorted((SCRIPT.parent / "found").glob("*.bin"))


@pytest.mark.parametrize("path", FOUND, ids=[p.name for p in FOUND])
def test_every_input_the_fuzzer_found_is_now_trainlabs_own_error(fuzz, path):
    """Regression tests: the inputs that once escaped (fuzz/found/) now give a trainlab error, nothing else."""
    target = next(t for t in sorted(fuzz.NAMES, key=len, reverse=True) if path.name.startswith(t + "-"))
    assert fuzz.run_one(target, path.read_bytes(), timeout=30.0) is None
