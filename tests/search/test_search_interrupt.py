"""Ctrl-C always ends `trainlab search`, even when the code it interrupts swallows the KeyboardInterrupt."""

import signal
import subprocess
import sys
import time

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
