"""Kill a running ``trainlab search`` and resume it: no finished trial is lost, the total is reached."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

pytest.importorskip("optuna")

N_TRIALS = 30  # many, so that an interrupt after the third lands well before the last even on a busy machine


QUERY = ("SELECT t.number, t.state, v.value FROM trials t LEFT JOIN trial_values v "
         "ON v.trial_id = t.trial_id WHERE t.state IN ('COMPLETE', 'PRUNED', 'FAIL')")


def _finished(db, *, writer_gone: bool = False) -> dict[int, tuple[str, float | None]]:
    """``{number: (state, value)}`` of the finished trials, read straight from the SQLite study file.

    While the search runs, read-only, and "not readable yet" counts as none. Once its process
    has ended, the file may hold a hot journal (the process was stopped inside a transaction):
    only a read-write connection rolls that back, as the next ``--resume`` does, and any
    error then is real.
    """
    if not writer_gone:
        if not db.exists():
            return {}
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
                rows = con.execute(QUERY).fetchall()
        except sqlite3.OperationalError:  # the tables are not there yet, or a writer holds the lock
            return {}
    else:
        with sqlite3.connect(db, timeout=5) as con:
            rows = con.execute(QUERY).fetchall()
    return {number: (state, value) for number, state, value in rows}


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["killed", "ctrl-c"])
def test_interrupted_search_resumes_and_keeps_every_finished_trial(tmp_path, sig):
    out = tmp_path / "run"
    db = out / "study.db"
    command = [sys.executable, "-m", "trainlab", "search", "--dataset", "synthetic", "--samples", "200",
               "--epochs", "4", "--trials", str(N_TRIALS), "--out", str(out), "--seed", "5",
               "--no-plots", "--no-retrain"]
    env = {**os.environ, "TRAINLAB_OFFLINE": "1"}
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        if sum(state == "COMPLETE" for state, _ in _finished(db).values()) >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"the search ended before it could be interrupted: {proc.stderr.read()}"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "interrupted" in err, err
    before = {n: v for n, v in _finished(db, writer_gone=True).items() if v[0] == "COMPLETE"}
    assert 3 <= len(before) < N_TRIALS, sorted(p.name for p in out.iterdir())

    resumed = subprocess.run(command + ["--resume"], capture_output=True, text=True, env=env, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    after = _finished(db, writer_gone=True)
    assert all(after[n] == v for n, v in before.items())  # nothing finished was lost or changed
    complete = [n for n, (state, _) in after.items() if state == "COMPLETE"]
    assert len(complete) == N_TRIALS
    # A trial cut off by the interruption is recorded as failed and run again once.
    failed = [n for n, (state, _) in after.items() if state == "FAIL"]
    assert len(failed) <= 1 and len(after) == N_TRIALS + len(failed)
    if failed:
        assert f"trials cut off and queued again: {failed[0]}" in resumed.stdout
    assert (out / "trials.csv").read_text().count("\n") == len(after) + 1
