"""Several worker processes on one machine share the study through a journal file."""

import pytest

optuna = pytest.importorskip("optuna")

from trainlab.search import ObjectiveConfig, run_search  # noqa: E402


def test_two_worker_processes_share_one_journal(tmp_path):
    config = ObjectiveConfig(dataset="synthetic", n_samples=100, hidden_size=20, hidden_layers=2, epochs=2,
                             batch_size=20)
    results = run_search(objective_config=config, n_trials=6, workers=2, out_dir=tmp_path, seed=4,
                         plots=False, verbose=False)
    assert (tmp_path / "study.journal").exists() and not (tmp_path / "study.db").exists()
    assert sorted(r["number"] for r in results.trials) == list(range(6))
    assert all(r["state"] == "COMPLETE" for r in results.trials)
    # Each worker samples with its own seed: no configuration is drawn twice.
    assert len({r["params"]["lr"] for r in results.trials}) == 6
    # The best configuration retrained in this process reproduces its trial exactly.
    assert results.best["retrained_val_acc"] == results.best["val_acc"]
    assert (tmp_path / "best-model.npz").exists()


def half(params, ctx):
    return params["x"] / 2


def test_a_live_worker_reruns_the_trial_of_a_dead_one(tmp_path, monkeypatch):
    """On an RDB storage the heartbeat finds a dead worker's trial while the search runs."""
    import json
    import time
    import warnings

    import optuna

    from trainlab.search import storage as storage_module, worker
    from trainlab.search.objective import OptunaObjective
    from trainlab.search.space import SearchSpace

    monkeypatch.setattr(storage_module, "HEARTBEAT_INTERVAL", 1)
    monkeypatch.setattr(storage_module, "GRACE_PERIOD", 1)
    space = SearchSpace({"x": {"low": 0.0, "high": 1.0}})
    run_search(space, objective=half, n_trials=1, out_dir=tmp_path, plots=False, verbose=False)
    settings = json.loads((tmp_path / "search.json").read_text())
    spec = storage_module.StorageSpec.parse(settings["storage"])
    storage = spec.open()
    assert storage.get_heartbeat_interval() == 1
    study = optuna.load_study(study_name=settings["study_name"], storage=storage)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dead = study.ask(space.distributions())  # its worker beats once, then dies
    storage.record_heartbeat(dead._trial_id)
    time.sleep(2.5)

    job = worker.WorkerJob(spec, settings["study_name"], OptunaObjective(half, space), "random", "none", None,
                           sampler_seed=1, n_trials=1, budget=2, parallel=False, verbose=False)
    assert worker.run_worker(job) == 1
    trials = optuna.load_study(study_name=settings["study_name"], storage=storage).trials
    assert trials[dead.number].state.name == "FAIL"
    rerun = trials[-1]
    assert rerun.system_attrs["retry_history"] == [dead.number] and rerun.state.name == "COMPLETE"
    assert rerun.params == dead.params


def report_threads(params, ctx):
    from trainlab import threads

    return float(threads.get_num_threads())


def test_a_worker_process_runs_its_trials_on_its_share_of_the_threads(tmp_path, monkeypatch):
    """Each of n worker processes gets threads // n trainlab threads, unless TRAINLAB_NUM_THREADS is set."""
    from trainlab import threads
    from trainlab.search import local, worker
    from trainlab.search.objective import OptunaObjective
    from trainlab.search.space import SearchSpace
    from trainlab.search.storage import StorageSpec

    monkeypatch.delenv(threads.ENV_VAR, raising=False)
    with threads.use_threads(4):
        assert local.thread_share(2) == 2 and local.thread_share(8) == 1
        monkeypatch.setenv(threads.ENV_VAR, "5")
        assert local.thread_share(2) is None  # the user's count wins: the workers inherit it
        monkeypatch.delenv(threads.ENV_VAR)

        space = SearchSpace({"x": {"low": 0.0, "high": 1.0}})
        spec = StorageSpec.parse(tmp_path / "study.journal")
        optuna.create_study(study_name="s", storage=spec.open(), direction="maximize")
        job = worker.WorkerJob(spec, "s", OptunaObjective(report_threads, space), "random", "none", None,
                               sampler_seed=1, n_trials=1, budget=1, parallel=False, verbose=False)
        local.process_main(job, 3)  # the body of a worker process, run here
        assert threads.get_num_threads() == 4  # put back when its trials end
    trials = optuna.load_study(study_name="s", storage=spec.open()).trials
    assert [t.value for t in trials] == [3.0]
