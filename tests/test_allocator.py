"""trainlab.allocator: freed memory kept for reuse (glibc), so that training steps do not page-fault."""

import platform
import subprocess
import sys
import textwrap

import pytest

from trainlab import allocator

CHURN = textwrap.dedent("""
    import resource, sys
    import numpy as np
    from trainlab import allocator

    def churn():
        start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(20):
            arrays = [np.ones(1 << 21, np.float32) for _ in range(4)]  # 4 x 8 MiB, written
            del arrays
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start

    churn()
    before = churn()
    kept = allocator.keep_freed_memory()
    allocator.release_freed_memory()  # hands back what is free; the thresholds stay raised
    churn()
    after = churn()
    print(kept, before, after)
""")

on_glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def run_churn(env_value=None):
    import os

    env = dict(os.environ)
    env.pop(allocator.ENV_VAR, None)
    if env_value is not None:
        env[allocator.ENV_VAR] = env_value
    out = subprocess.run([sys.executable, "-c", CHURN], capture_output=True, text=True, env=env, check=True)
    kept, before, after = out.stdout.split()
    return kept == "True", int(before), int(after)


@pytest.mark.skipif(not on_glibc, reason="the thresholds are glibc's")
def test_kept_memory_is_reused_without_page_faults():
    kept, before, after = run_churn()
    assert kept
    assert before > 4000  # 20 rounds of 32 MiB freed and mapped again (8,000 pages a round)
    assert after < before / 20


@pytest.mark.skipif(not on_glibc, reason="the thresholds are glibc's")
def test_the_environment_variable_leaves_the_allocator_alone():
    kept, before, after = run_churn("0")
    assert not kept
    assert after > before / 2


def test_enabled_reads_the_environment_variable(monkeypatch):
    for value, expected in (("0", False), ("off", False), ("1", True), ("", True)):
        monkeypatch.setenv(allocator.ENV_VAR, value)
        assert allocator.enabled() is expected
    monkeypatch.delenv(allocator.ENV_VAR)
    assert allocator.enabled()


@pytest.mark.parametrize("keep", [True, False])
def test_freed_memory_is_kept_only_inside_a_runtime_that_asks(keep, monkeypatch, rng):
    """Trainer.fit leaves the allocator alone; runtime(keep_freed_memory=True) keeps and releases."""
    import numpy as np

    from trainlab.layers import Conv2d, Flatten, Linear, Sequential
    from trainlab.optim import SGD
    from trainlab.process import runtime
    from trainlab.training import Trainer

    calls = []
    monkeypatch.setattr(allocator, "keep_freed_memory", lambda: calls.append("keep") or True)
    monkeypatch.setattr(allocator, "release_freed_memory", lambda: calls.append("release"))
    x = rng.random((20, 1, 3, 3), dtype=np.float32)
    t = rng.integers(0, 2, 20)
    model = Sequential(Conv2d(1, 2, 1, rng=rng), Flatten(), Linear(18, 2, rng=rng))

    def fit():
        Trainer(model, SGD(model.parameters(), lr=0.1), batch_size=10, epochs=1, progress=False,
                eval_train=False).fit(x, t)

    fit()
    assert calls == []  # fit by itself changes nothing
    with runtime(keep_freed_memory=keep):
        fit()
        assert calls == (["keep"] if keep else [])
    assert calls == (["keep", "release"] if keep else [])
