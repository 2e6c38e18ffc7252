"""The experiment framework: registry, overrides, the runner's files, the report and the CLI."""

import json

import pytest

from trainlab import cli
from trainlab.errors import ConfigError, UnknownNameError
from trainlab.experiments import EXPERIMENTS, parse_overrides, reproduce


def test_every_experiment_has_quick_settings_and_docs():
    for name in EXPERIMENTS.names_in_order():
        spec = EXPERIMENTS.get(name)
        assert spec.title and spec.summary
        spec.make_config(quick=True)  # valid
        spec.make_config(quick=False)


def test_overrides_are_type_checked():
    spec = EXPERIMENTS.get("optimizer-paths")
    assert parse_overrides(spec, ["steps=12", "escape_threshold=0.5"]) == {"steps": 12, "escape_threshold": 0.5}
    with pytest.raises(ConfigError, match="no setting 'stepz'.*valid settings"):
        parse_overrides(spec, ["stepz=3"])
    with pytest.raises(ConfigError, match="steps: expected an integer, got '1.5'"):
        parse_overrides(spec, ["steps=1.5"])
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(spec, ["steps"])
    with pytest.raises(UnknownNameError, match="valid names"):
        EXPERIMENTS.get("optimiser-pathz")


def test_reproduce_writes_report_pngs_and_json(tmp_path):
    results, report = reproduce(["optimizer-paths"], tmp_path, quick=True, seed=3, log=None)
    assert report == tmp_path / "report.html"
    page = report.read_text()
    assert page.count("data:image/png;base64,") == len(results[0].figures) >= 2
    assert "PASS" in page and "optimizer-paths" in page
    saved = json.loads((tmp_path / "optimizer-paths" / "metrics.json").read_text())
    assert saved["seeds"] == [3] and saved["quick"] is True and [r["seed"] for r in saved["runs"]] == [3]
    assert saved["config"]["steps"] == 30
    assert {c["statement"] for c in saved["claims"]} == {c.statement for c in results[0].claims}


def test_cli_exp_and_reproduce(tmp_path, capsys):
    assert cli.main(["exp", "optimizer-paths", "--set", "steps=20", "--out", str(tmp_path), "--no-figures"]) == 0
    out = capsys.readouterr().out
    assert "[PASS]" in out
    saved = json.loads((tmp_path / "optimizer-paths" / "metrics.json").read_text())
    assert saved["config"]["steps"] == 20
    assert cli.main(["exp", "optimizer-paths", "--set", "steps=x", "--out", str(tmp_path)]) == 1
    assert "steps: expected an integer" in capsys.readouterr().err
    assert cli.main(["reproduce", "--quick", "--only", "optimizer-paths", "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "report.html").exists()


def test_help_lists_experiments(capsys):
    with pytest.raises(SystemExit):
        cli.main(["reproduce", "--help"])
    out = capsys.readouterr().out
    for name in EXPERIMENTS.names_in_order():
        assert name in out


def test_overrides_from_code_are_type_checked_too():
    spec = EXPERIMENTS.get("optimizer-paths")
    assert spec.make_config(overrides={"escape_threshold": 2}).escape_threshold == 2.0  # int -> float
    with pytest.raises(ConfigError, match="steps: expected an integer, got '30'"):
        spec.make_config(overrides={"steps": "30"})
    with pytest.raises(ConfigError, match="escape_threshold: expected a number"):
        spec.make_config(overrides={"escape_threshold": True})


def test_missing_data_is_reported_not_fatal(tmp_path, monkeypatch, capsys):
    """An experiment whose data set is not on the machine is marked, and reproduce still succeeds."""
    from dataclasses import replace

    from trainlab.errors import DataError

    def no_data(config, seed=0):
        raise DataError("fashion-mnist: no source worked")

    spec = EXPERIMENTS.get("optimizer-paths")
    monkeypatch.setitem(EXPERIMENTS._items, "optimizer-paths", replace(spec, run=no_data))
    assert cli.main(["reproduce", "--quick", "--only", "optimizer-paths", "--out", str(tmp_path)]) == 0
    assert "skipped for want of data: optimizer-paths" in capsys.readouterr().err
    saved = json.loads((tmp_path / "optimizer-paths" / "metrics.json").read_text())
    assert saved["missing_data"] is True and "data not available" in saved["error"]


def test_load_subset_takes_the_first_images_and_allows_no_test_set():
    from trainlab.experiments.common import load_subset

    data = load_subset("synthetic", 12, 0, seed=1)
    assert data.x_train.shape == (12, 784) and data.x_test.shape == (0, 784) and data.t_test.shape == (0,)
    with_test = load_subset("synthetic", 12, 5, seed=1, flatten=False)
    assert with_test.x_train.shape == (12, 1, 28, 28) and with_test.x_test.shape == (5, 1, 28, 28)
    for n_train, n_test in ((0, 5), (5, -1)):
        with pytest.raises(ConfigError, match="n_train must be positive and n_test at least 0"):
            load_subset("synthetic", n_train, n_test)


def _trainlab_imports(path) -> set[str]:
    """Every trainlab module a source file imports, at the top or inside functions."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("trainlab"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("trainlab"))
    return found


def test_experiments_do_not_import_each_other_and_plots_import_no_experiment():
    from pathlib import Path

    import trainlab.experiments as package
    import trainlab.plots

    experiments = {spec.run.__module__ for spec in map(EXPERIMENTS.get, EXPERIMENTS.names_in_order())}
    for path in sorted(Path(package.__file__).parent.glob("*.py")):
        module = f"trainlab.experiments.{path.stem}"
        if module in experiments:
            assert not (_trainlab_imports(path) & (experiments - {module})), module
    for path in sorted(Path(trainlab.plots.__file__).parent.glob("*.py")):
        imported = _trainlab_imports(path)
        assert not any(m.startswith("trainlab.experiments") for m in imported), path.name


def test_each_spec_names_its_plot_function_in_trainlab_plots():
    for name in EXPERIMENTS.names_in_order():
        if name == "hyperparameter-search":
            continue
        assert EXPERIMENTS.get(name).plot.__module__.startswith("trainlab.plots."), name


def test_reproduce_runs_every_experiment_inside_one_runtime_block(tmp_path, monkeypatch):
    import contextlib
    from dataclasses import replace

    import trainlab.process
    from trainlab.errors import DataError

    entered, inside = [], []

    @contextlib.contextmanager
    def runtime(**settings):
        entered.append(settings)
        inside.append("open")
        try:
            yield None
        finally:
            inside.append("closed")

    def run(config, seed=0):
        inside.append("run")
        raise DataError("not needed here")

    monkeypatch.setattr(trainlab.process, "runtime", runtime)
    for name in ("optimizer-paths", "receptive-field"):
        monkeypatch.setitem(EXPERIMENTS._items, name, replace(EXPERIMENTS.get(name), run=run))
    results, _ = reproduce(["optimizer-paths", "receptive-field"], tmp_path, quick=True, workers=1, log=None)
    assert [r.missing_data for r in results] == [True, True]
    assert entered == [{"keep_freed_memory": True}]
    assert inside == ["open", "run", "run", "closed"]


def test_check_value_and_parse_value_read_each_type_alike():
    from trainlab.experiments.base import check_value, parse_value

    assert check_value((1, 2), tuple[float, ...]) == (1.0, 2.0) == parse_value("(1, 2)", tuple[float, ...])
    assert check_value(None, int | None) is None and parse_value("none", int | None) is None
    assert check_value(3, int | None) == 3 == parse_value("3", int | None)
    assert check_value(False, bool) is False and parse_value("off", bool) is False
    assert check_value(["a"], tuple[str, ...]) == ("a",) and parse_value("[a, b]", tuple[str, ...]) == ("a", "b")
    with pytest.raises(ConfigError, match=r"k: 'x' is not one of \['int', 'NoneType'\]"):
        check_value("x", int | None, "k")
    with pytest.raises(ConfigError, match=r"k: cannot read 'x' as any of \['int'\]"):
        parse_value("x", int | None, "k")
    with pytest.raises(ConfigError, match="k: expected a sequence"):
        check_value(3, tuple[int, ...], "k")
    with pytest.raises(ConfigError, match="k: expected true or false, got 'maybe'"):
        parse_value("maybe", bool, "k")
    assert check_value({"a": 1}, dict) == {"a": 1}
    with pytest.raises(ConfigError, match="cannot be set from the command line"):
        parse_value("a=1", dict, "k")
