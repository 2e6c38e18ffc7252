"""Results without an output folder (as in a notebook): kept in memory, shown as HTML, saved on request."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from trainlab.errors import UnknownNameError
from trainlab.experiments import run_experiment
from trainlab.experiments.runner import load_results
from trainlab.notebook import settings, source


@pytest.fixture(scope="module")
def in_memory(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("cwd")
    before = os.getcwd()
    os.chdir(cwd)
    try:
        result = run_experiment("conv-layers", quick=True, log=None)
    finally:
        os.chdir(before)
    return result, cwd


def test_nothing_is_written_without_an_output_folder(in_memory):
    result, cwd = in_memory
    assert list(cwd.iterdir()) == []
    assert result.out_dir is None and result.error is None
    assert result.figures and sorted(result.images) == sorted(result.figures)
    assert all(png.startswith(b"\x89PNG") for png in result.images.values())


def test_result_shows_itself_as_html(in_memory):
    result, _ = in_memory
    page = result._repr_html_()
    assert page.startswith('<div class="trainlab-result">')
    assert page.count("data:image/png;base64,") == len(result.figures)
    for claim in result.claims:
        assert claim.id in page
    # The notebook's own styles are left alone: every rule is scoped to the fragment.
    style = page.split("<style>")[1].split("</style>")[0]
    rules = [r.strip() for r in style.replace("}", "}\n").splitlines() if "{" in r]
    assert rules and all(all(sel.strip().startswith(".trainlab-result") for sel in r.split("{")[0].split(","))
                         for r in rules)


def test_repr_and_str(in_memory):
    result, _ = in_memory
    assert repr(result).startswith("<ExperimentResult conv-layers: PASS,")
    assert len(repr(result)) < 200
    text = str(result)
    assert text.splitlines()[0].endswith("(conv-layers): PASS")
    assert all(c.statement in text for c in result.claims)


def test_save_writes_what_a_run_into_the_folder_writes(in_memory, tmp_path):
    result, _ = in_memory
    folder = result.save(tmp_path / "saved")
    assert folder == tmp_path / "saved" / "conv-layers"
    assert sorted(p.name for p in folder.iterdir()) == sorted(["metrics.json", *result.figures])
    for name in result.figures:
        assert (folder / name).read_bytes() == result.images[name]
    saved = json.loads((folder / "metrics.json").read_text())
    assert saved["name"] == "conv-layers" and len(saved["claims"]) == len(result.claims)
    assert result.out_dir == str(tmp_path / "saved")
    (loaded,) = load_results(tmp_path / "saved")
    assert [c.verdict for c in loaded.claims] == [c.verdict for c in result.claims]
    assert loaded.out_dir == str(tmp_path / "saved")
    # A result read back shows its figures from the folder.
    assert loaded._repr_html_().count("data:image/png;base64,") == len(result.figures)
    assert loaded.figure_png(result.figures[0]) == result.images[result.figures[0]]


def test_figures_drawn_on_save_when_the_run_drew_none(tmp_path):
    result = run_experiment("training-memory", quick=True, figures=False, log=None)
    assert result.figures == [] and result.images == {}
    folder = result.save(tmp_path)
    assert result.figures and all((folder / f).is_file() for f in result.figures)


def test_save_writes_the_experiments_files(tmp_path):
    result = run_experiment("clusters-2d", quick=True, log=None)
    assert result.artifacts == []
    folder = result.save(tmp_path)
    assert result.artifacts and all((folder / a).is_file() for a in result.artifacts)


def test_a_figure_not_kept_is_named_in_the_error():
    result = run_experiment("training-memory", quick=True, figures=False, log=None)
    with pytest.raises(KeyError, match="no figure"):
        result.figure_png("nothing.png")


def test_an_error_shows_in_the_html(monkeypatch):
    from trainlab.experiments import EXPERIMENTS

    spec = EXPERIMENTS.get("training-memory")

    def broken(config, seed=0):
        raise ValueError("broken on purpose")

    monkeypatch.setitem(EXPERIMENTS._items, "training-memory", dataclasses.replace(spec, run=broken))
    result = run_experiment("training-memory", quick=True, log=None)
    assert result.verdict == "ERROR"
    page = result._repr_html_()
    assert 'class="error">The run failed' in page and "broken on purpose" in page


def test_source_is_read_from_the_module():
    from trainlab.optim import sgd

    shown = source(sgd.sgd_update)
    assert shown.module == "trainlab.optim.sgd" and "def sgd_update(" in shown.code
    assert str(shown).startswith("# sgd_update in trainlab.optim.sgd, line ")
    assert "sgd_update" in shown._repr_html_()
    with pytest.raises(TypeError, match="no Python source"):
        source(len)


def test_settings_list_quick_and_full_values():
    table = settings("optimizer-mnist")
    rows = {name: (quick, full) for name, quick, full, _ in table.rows}
    assert rows["iterations"][0] < rows["iterations"][1]
    assert "iterations" in str(table) and "<table>" in table._repr_html_()
    with pytest.raises(UnknownNameError):
        settings("no-such-experiment")


def test_figures_keep_a_backend_the_user_chose(tmp_path):
    # A notebook's inline backend must not be switched to Agg by drawing a figure.
    code = ("import matplotlib; matplotlib.use('svg'); import matplotlib.pyplot as plt\n"
            "from trainlab.plots.style import pyplot, save\n"
            "p = pyplot(); fig, ax = p.subplots(); ax.plot([0, 1])\n"
            f"save(fig, {str(tmp_path)!r}, 'x')\n"
            "print(matplotlib.get_backend())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "svg" and (tmp_path / "x.png").read_bytes().startswith(b"\x89PNG")


def test_an_experiment_leaves_the_users_figure_settings_alone():
    code = ("import matplotlib; matplotlib.use('svg'); import matplotlib.pyplot as plt\n"
            "from trainlab.experiments import run_experiment\n"
            "r = run_experiment('training-memory', quick=True, log=None)\n"
            "assert r.figures and r.error is None, r.error\n"
            "print(matplotlib.get_backend(), plt.rcParams['axes.grid'], plt.rcParams['legend.fontsize'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["svg", "False", "medium"]
