"""The benchmark scripts' modules, imported as the scripts import each other: their folder first on the path."""

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def benchmark_module(request):
    """``benchmark_module("torch_models")``: that module of benchmarks/; the folder stays on the path for the
    test module's tests, and the modules are forgotten after them."""
    loaded = []
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(BENCHMARKS))

        def load(name: str):
            loaded.append(name)
            return importlib.import_module(name)

        yield load
    for name in [*loaded, "common"]:
        sys.modules.pop(name, None)
