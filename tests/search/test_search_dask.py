"""A search on a real Dask cluster (a LocalCluster on 127.0.0.1), end to end."""

import pytest

pytest.importorskip("optuna")
pytest.importorskip("distributed", reason="Dask distributed is not installed (pip install 'trainlab[cluster]')")

from distributed import Client, LocalCluster  # noqa: E402

from trainlab.search import ObjectiveConfig, run_search  # noqa: E402


@pytest.fixture
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1",
                      dashboard_address=None) as cluster:
        yield cluster


def test_search_on_a_dask_cluster(tmp_path, cluster):
    config = ObjectiveConfig(dataset="synthetic", n_samples=100, hidden_size=20, hidden_layers=2, epochs=2,
                             batch_size=20)
    results = run_search(objective_config=config, n_trials=6, scheduler=cluster.scheduler_address,
                         out_dir=tmp_path, seed=6, pruner="successive-halving", plots=False, verbose=False)
    # Without --storage the study is a journal file in the output folder (shared here: one machine).
    assert (tmp_path / "study.journal").exists()
    assert sorted(r["number"] for r in results.trials) == list(range(6))
    assert all(r["state"] in ("COMPLETE", "PRUNED") for r in results.trials)
    assert len({r["params"]["lr"] for r in results.trials}) == 6
    assert (tmp_path / "best-model.npz").exists()

    # More trials on the same cluster through a client we own: the search resumes.
    with Client(cluster.scheduler_address) as client:
        more = run_search(n_trials=8, scheduler=client, out_dir=tmp_path, resume=True, plots=False,
                          retrain=False, verbose=False)
    assert len([r for r in more.trials if r["state"] in ("COMPLETE", "PRUNED")]) == 8


def test_threads_per_host_counts_the_worker_threads_of_each_machine():
    from trainlab.search.distributed import threads_per_host

    class FakeClient:
        def nthreads(self):
            return {"tcp://10.0.0.1:4001": 1, "tcp://10.0.0.1:4002": 1, "tcp://10.0.0.2:4001": 4,
                    "tls://[::1]:5000": 2}

    assert threads_per_host(FakeClient()) == {"10.0.0.1": 2, "10.0.0.2": 4, "::1": 2}


def test_tasks_of_one_worker_process_share_one_runtime_block():
    """Tasks running at once in threads of one Dask worker never put back each other's settings."""
    from trainlab import threads
    from trainlab.search.distributed import _shared_runtime

    with threads.use_threads(4):
        first, second = _shared_runtime(2), _shared_runtime(2)
        first.__enter__()
        assert threads.get_num_threads() == 2
        second.__enter__()
        first.__exit__(None, None, None)  # the first task ends while the second still runs
        assert threads.get_num_threads() == 2
        second.__exit__(None, None, None)
        assert threads.get_num_threads() == 4
