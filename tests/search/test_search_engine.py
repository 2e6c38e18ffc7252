"""The search engine with small injected objectives: sampling, pruning, failures, retries, resume rules."""

import json
import warnings

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

from trainlab.errors import ConfigError, NonFiniteError  # noqa: E402
from trainlab.search import run_search  # noqa: E402
from trainlab.search.engine import StorageSpec  # noqa: E402
from trainlab.search.objective import ObjectiveConfig  # noqa: E402

LR_SPACE = {"lr": {"low": 1e-6, "high": 1.0, "log": True}}
X_SPACE = {"x": {"low": 0.0, "high": 1.0}}


def bowl(params, ctx):
    """Best at lr = 1e-3, falling off with the distance in decades."""
    return 1.0 - (np.log10(params["lr"]) + 3.0) ** 2 / 36.0


def rising_curve(params, ctx):
    """A learning curve that climbs towards x: bad trials lag from the first step."""
    value = 0.0
    for step in range(1, 6):
        value = params["x"] * (1.0 - 0.5 ** step)
        ctx.report(value, step)
    return value


def flaky(params, ctx):
    if params["x"] > 0.6:
        raise NonFiniteError("loss is nan at step 3")
    if params["x"] < 0.2:
        return float("nan")
    return params["x"]


def quick(**kwargs):
    return run_search(plots=False, retrain=False, verbose=False, **kwargs)


def journal(tmp_path):
    """A journal file: the same study as the default SQLite file, without an fsync per write."""
    return tmp_path / "study.journal"


def test_tpe_finds_the_better_region(tmp_path):
    results = quick(space=LR_SPACE, objective=bowl, sampler="tpe", n_trials=30, out_dir=tmp_path, seed=1,
                    storage=journal(tmp_path))
    rows = sorted(results.trials, key=lambda r: r["number"])
    assert len(rows) == 30 and all(r["state"] == "COMPLETE" for r in rows)
    distance = [abs(np.log10(r["params"]["lr"]) + 3.0) for r in rows]
    assert abs(np.log10(results.best["params"]["lr"]) + 3.0) < 0.3
    # After its 10 random start-up trials, TPE samples close to the optimum.
    assert np.mean(distance[-10:]) < 0.5 * np.mean(distance[:10])
    assert (tmp_path / "trials.csv").read_text().count("\n") == 31
    assert json.loads((tmp_path / "best.json").read_text())["best"]["number"] == results.best["number"]


@pytest.mark.parametrize("pruner", ["successive-halving", "hyperband"])
def test_pruner_stops_the_lagging_trials(tmp_path, pruner):
    results = quick(space=X_SPACE, objective=rising_curve, pruner=pruner, n_trials=18, out_dir=tmp_path, seed=2,
                    storage=journal(tmp_path))
    pruned = [r for r in results.trials if r["state"] == "PRUNED"]
    complete = [r for r in results.trials if r["state"] == "COMPLETE"]
    assert len(pruned) >= 6 and complete
    assert all(r["epochs"] == 5 for r in complete)
    assert sum(r["epochs"] < 5 for r in pruned) >= 6  # most stop at the first rungs (steps 1 and 3)
    assert np.mean([r["params"]["x"] for r in pruned]) < np.mean([r["params"]["x"] for r in complete])
    assert results.best["params"]["x"] == max(r["params"]["x"] for r in complete)


def test_failing_and_nan_trials_are_recorded_and_the_search_goes_on(tmp_path):
    results = quick(space=X_SPACE, objective=flaky, n_trials=12, out_dir=tmp_path, seed=3,
                    storage=journal(tmp_path))
    assert len(results.trials) == 12
    failed = [r for r in results.trials if r["state"] == "FAIL"]
    complete = [r for r in results.trials if r["state"] == "COMPLETE"]
    assert failed and complete
    for r in failed:
        expected = "NonFiniteError: loss is nan" if r["params"]["x"] > 0.6 else "NonFiniteError: the objective returned nan"
        assert r["error"].startswith(expected)
    assert 0.2 <= results.best["params"]["x"] <= 0.6
    assert "NonFiniteError" in (tmp_path / "trials.csv").read_text()


def test_a_diverging_network_fails_its_trial_only(tmp_path):
    config = ObjectiveConfig(dataset="synthetic", n_samples=60, hidden_size=20, hidden_layers=2, epochs=1,
                             batch_size=20)
    results = quick(space={"lr": {"choices": [1e6, 0.05]}}, objective_config=config, n_trials=4,
                    out_dir=tmp_path, seed=0)
    by_lr = {r["params"]["lr"]: r for r in results.trials}
    assert set(by_lr) == {1e6, 0.05}
    assert by_lr[1e6]["state"] == "FAIL" and by_lr[1e6]["error"].startswith("NonFiniteError")
    assert by_lr[0.05]["state"] == "COMPLETE" and results.best["params"]["lr"] == 0.05


def test_a_cut_off_trial_is_run_again_once_with_its_seed(tmp_path):
    quick(space=X_SPACE, objective=rising_curve, n_trials=2, out_dir=tmp_path)
    settings = json.loads((tmp_path / "search.json").read_text())
    study = optuna.load_study(study_name=settings["study_name"],
                              storage=StorageSpec.parse(settings["storage"]).open())
    # A worker that died mid-trial leaves its trial RUNNING.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna warns that a heartbeat storage is meant for optimize()
        orphan = study.ask({"x": optuna.distributions.FloatDistribution(0.0, 1.0)})
    orphan.set_user_attr("seed", 12345)

    results = quick(objective=rising_curve, n_trials=4, out_dir=tmp_path, resume=True)
    rows = {r["number"]: r for r in results.trials}
    assert rows[orphan.number]["state"] == "FAIL"
    reruns = [r for r in results.trials if r["retry_of"] == orphan.number]
    assert len(reruns) == 1
    assert reruns[0]["state"] == "COMPLETE" and reruns[0]["seed"] == 12345
    assert reruns[0]["params"] == rows[orphan.number]["params"]
    assert sum(r["state"] == "COMPLETE" for r in results.trials) == 4  # the cut-off one does not count


def test_resume_rules(tmp_path):
    quick(space=X_SPACE, objective=rising_curve, n_trials=2, out_dir=tmp_path)
    with pytest.raises(ConfigError, match="pass --resume"):
        quick(space=X_SPACE, objective=rising_curve, n_trials=2, out_dir=tmp_path)
    with pytest.raises(ConfigError, match="search space differs"):
        quick(space={"x": {"low": 0.0, "high": 2.0}}, objective=rising_curve, n_trials=3, out_dir=tmp_path,
              resume=True)
    results = quick(objective=rising_curve, n_trials=3, out_dir=tmp_path, resume=True)  # the saved space
    assert [r["number"] for r in results.trials] == [0, 1, 2]
