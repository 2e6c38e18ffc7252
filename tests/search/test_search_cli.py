"""``trainlab search`` end to end on generated data, and the checks it makes before running."""

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

from trainlab import cli


def test_help_needs_no_optuna():
    code = ("import sys; from trainlab.cli import build_parser; build_parser().parse_args(['search', '--book']); "
            "assert 'optuna' not in sys.modules and 'distributed' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_search_command_end_to_end(tmp_path, capsys):
    pytest.importorskip("optuna")
    from trainlab.checkpoint import load_checkpoint
    from trainlab.search.objective import ObjectiveConfig, load_split

    space = tmp_path / "space.json"
    space.write_text(json.dumps({"lr": {"low": 1e-3, "high": 0.3, "log": True},
                                 "hidden": {"choices": [10, 20]}, "layers": {"low": 1, "high": 2}}))
    out = tmp_path / "run"
    args = ["search", "--space", str(space), "--dataset", "synthetic", "--samples", "100", "--epochs", "2",
            "--trials", "3", "--sampler", "tpe", "--out", str(out), "--seed", "1"]
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    assert "best: trial" in printed and "3 trials: 3 complete" in printed
    best = json.loads((out / "best.json").read_text())["best"]
    assert set(best["params"]) == {"lr", "hidden", "layers"}
    assert (out / "trials.csv").read_text().splitlines()[0].startswith("number,state,val_acc,lr,hidden,layers")

    # The saved model is the best configuration, and scores what its trial scored.
    model, meta = load_checkpoint(out / "best-model.npz")
    assert meta["params"] == best["params"] and meta["val_acc"] == best["val_acc"]
    assert model.hidden_sizes == [best["params"]["hidden"]] * best["params"]["layers"]
    _, (x_val, t_val) = load_split(ObjectiveConfig(dataset="synthetic", n_samples=100, epochs=2), seed=1)
    assert np.isclose(model.accuracy(x_val, t_val), best["val_acc"])
    if importlib.util.find_spec("matplotlib") is not None:
        for name in ("search-space", "best-curves", "best-trials"):
            assert (out / f"{name}.png").stat().st_size > 0

    # --resume takes the saved settings; changing the objective is refused.
    assert cli.main(["search", "--out", str(out), "--resume", "--trials", "4", "--no-plots", "--no-retrain"]) == 0
    assert "4 trials: 4 complete" in capsys.readouterr().out
    assert cli.main(["search", "--out", str(out), "--resume", "--epochs", "3"]) == 1
    assert "objective differs" in capsys.readouterr().err


def test_bad_space_is_refused_before_any_trial(tmp_path, capsys):
    pytest.importorskip("optuna")
    out = tmp_path / "run"
    bad = '{"lr": {"low": 1e-6, "high": 1e-2, "log": true}, "momentum": {"low": 0.5, "high": 0.9}}'
    assert cli.main(["search", "--space", bad, "--dataset", "synthetic", "--out", str(out)]) == 1
    assert "unknown hyperparameter 'momentum'" in capsys.readouterr().err
    assert not out.exists()
