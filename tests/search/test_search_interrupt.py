"""Ctrl-C always ends `trainlab search`, even when the code it interrupts swallows the KeyboardInterrupt."""

import signal
import subprocess
import sys
import time

import pytest

SCRIPT = """
import sys, time
import trainlab.search.engine as engine
from trainlab import cli

def stubborn_search(*args, **kwargs):
    print("ready", flush=True)
    while True:  # like a storage call or thread join that does not unwind
        try:
            time.sleep(60)
        except KeyboardInterrupt:
            pass

engine.run_search = stubborn_search
sys.exit(cli.main(["search", "--dataset", "synthetic", "--trials", "2", "--out", sys.argv[1], "--no-plots"]))
"""


def test_ctrl_c_ends_a_search_that_swallows_the_interrupt(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path / "run")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted; finished trials are kept" in err
    assert time.monotonic() - start < 30


OUTCOME_SCRIPT = """
import os, signal, sys
import trainlab.search.engine as engine
from trainlab import cli

class Results:
    best = None

def interrupted_search(*args, **kwargs):
    try:
        os.kill(os.getpid(), signal.SIGINT)
    except KeyboardInterrupt as exc:
        if sys.argv[2] == "converted":  # e.g. a library wrapping it into its own error
            raise RuntimeError("storage call aborted") from exc
    return Results()  # "swallowed": the search returns as if it had ended, with no best trial

engine.run_search = interrupted_search
sys.exit(cli.main(["search", "--dataset", "synthetic", "--trials", "2", "--out", sys.argv[1], "--no-plots"]))
"""


@pytest.mark.parametrize("outcome", ["swallowed", "converted"])
def test_after_ctrl_c_the_search_exits_as_interrupted_however_it_unwinds(tmp_path, outcome):
    """A Ctrl-C that library code swallows, or turns into another exception, still ends the search
    with status 130 and the resume hint (not status 1 or a traceback)."""
    proc = subprocess.run([sys.executable, "-c", OUTCOME_SCRIPT, str(tmp_path / "run"), outcome],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 130, proc.stderr
    assert "interrupted; finished trials are kept" in proc.stderr
    assert "Traceback" not in proc.stderr
