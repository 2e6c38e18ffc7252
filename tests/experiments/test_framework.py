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
    assert page.count("data:image/png;base64,") == 2
    assert "PASS" in page and "optimizer-paths" in page
    saved = json.loads((tmp_path / "optimizer-paths" / "metrics.json").read_text())
    assert saved["seed"] == 3 and saved["quick"] is True
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
