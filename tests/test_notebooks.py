"""The notebooks: stored without outputs, and each one runs top to bottom without an error.

Each notebook runs in its own Jupyter kernel (nbclient) on the quick settings it is written with;
a cell that raises fails the test, and so does an experiment whose result shows an error.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from trainlab.experiments import EXPERIMENTS

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
RUN = re.compile(r'run_experiment\(\s*"([a-z0-9-]+)"')


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _code(path: Path) -> str:
    return "\n".join("".join(c["source"]) for c in _cells(path) if c["cell_type"] == "code")


def test_one_notebook_per_section():
    assert [p.stem.split("-")[0] for p in PATHS] == ["6.1", "6.2", "6.3", "6.4", "6.5", "7", "8"]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_stored_without_outputs(path):
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, \
                f"{path.name} holds outputs: clear them before committing"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_shows_trainlab_code_from_its_source(path):
    # The update rules and layers are shown from trainlab's own modules (inspect), never pasted in.
    assert "source(" in _code(path)
    assert "from trainlab.notebook import" in _code(path)


def test_every_experiment_runs_in_a_notebook():
    ran = [name for p in PATHS for name in RUN.findall(_code(p))]
    for name in ran:
        EXPERIMENTS.get(name)  # an unknown name raises
    missing = sorted(set(EXPERIMENTS.names_in_order()) - set(ran))
    assert not missing, f"no notebook runs {missing}"


def test_docs_link_each_experiment_to_its_notebook():
    docs = (Path(__file__).resolve().parents[1] / "docs" / "experiments.md").read_text(encoding="utf-8")
    for p in PATHS:
        for name in set(RUN.findall(_code(p))):
            assert re.search(rf"`{re.escape(name)}`.*\(\.\./notebooks/{re.escape(p.name)}\)", docs), \
                f"docs/experiments.md does not link {name} to notebooks/{p.name}"


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_runs_top_to_bottom(path, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(str(path), as_version=4)
    # The kernel inherits this process's environment: one BLAS thread per test worker, no network mirrors.
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.outputs:
            html = output.get("data", {}).get("text/html", "")
            assert 'class="error">The run failed' not in html, f"{path.name}: an experiment failed:\n{html[:2000]}"
            assert output.get("output_type") != "error"
    assert not list(tmp_path.iterdir()), "a notebook wrote files where nothing was asked to be saved"
