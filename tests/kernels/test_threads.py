"""trainlab.kernels.threads: splitting passes over threads, BLAS held to one thread, and the kernels that use it."""

import threading
import time

import numpy as np
import pytest

from trainlab.errors import ConfigError
from trainlab.kernels import conv as conv_module
from trainlab.kernels import threads
from trainlab.kernels.layout import block_view, from_block
from trainlab.layers import BatchNorm2d, Conv2d, CrossEntropyLoss, Flatten, Linear, MaxPool2d, ReLU, Sequential
from trainlab.models import DeepConvNet
from trainlab.optim import SGD
from trainlab.process import runtime
from trainlab.training import Trainer


@pytest.fixture(autouse=True)
def small_parts(monkeypatch):
    """Split even the small arrays of these tests."""
    monkeypatch.setattr(threads, "PART_MIN_VALUES", 1024)


@pytest.fixture
def parallel():
    """Three threads (uneven parts) with BLAS on one thread, as inside trainlab.runtime."""
    with runtime(threads=3):
        assert threads.parallel_enabled()
        yield


def blas_thread_counts():
    from threadpoolctl import threadpool_info

    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


# ---- the machinery ---------------------------------------------------------------


@pytest.mark.parametrize("count, parts", [(10, 3), (3, 8), (1, 2), (7, 7), (100, 1)])
def test_split_covers_the_range_in_order_without_empty_parts(count, parts):
    ranges = threads.split(count, parts)
    assert len(ranges) == min(count, parts)
    assert ranges[0][0] == 0 and ranges[-1][1] == count
    assert all(a < b for a, b in ranges)
    assert all(ranges[k][1] == ranges[k + 1][0] for k in range(len(ranges) - 1))


def test_run_parts_runs_the_parts_at_once_in_different_threads(parallel):
    barrier = threading.Barrier(3, timeout=10)  # only passes if all three parts run at the same time
    seen = []

    def work(part, start, stop):
        barrier.wait()
        seen.append(threading.get_ident())
        return part, start, stop

    results = threads.run_parts(work, 9)
    assert results == [(0, 0, 3), (1, 3, 6), (2, 6, 9)]  # in part order
    assert len(set(seen)) == 3 and threading.get_ident() in seen  # part 0 in the calling thread


def test_run_parts_honours_min_items_and_one_thread(parallel):
    assert len(threads.run_parts(lambda k, a, b: (a, b), 10, min_items=4)) == 2
    assert threads.run_parts(lambda k, a, b: (a, b), 10, min_items=100) == [(0, 10)]
    assert threads.run_parts(lambda k, a, b: 1, 0) == []
    with threads.use_threads(1):
        assert threads.run_parts(lambda k, a, b: (a, b), 10) == [(0, 10)]


def test_a_part_never_splits_again(parallel):
    inner = threads.run_parts(lambda k, a, b: threads.run_parts(lambda k2, a2, b2: (a2, b2), b - a), 6)
    assert inner == [[(0, 2)], [(0, 2)], [(0, 2)]]


def test_non_numpy_arrays_and_multithreaded_blas_run_in_the_calling_thread():
    with threads.use_threads(2):
        caller = threading.get_ident()
        with runtime(threads=2):
            ids = threads.run_parts(lambda k, a, b: threading.get_ident(), 4, array=[1.0, 2.0])
            assert ids == [caller]
        from threadpoolctl import threadpool_limits

        with threadpool_limits(2, user_api="blas"):
            if max(blas_thread_counts()) > 1:  # BLAS's own threads busy: no parts of ours
                assert not threads.parallel_enabled()
                assert threads.run_parts(lambda k, a, b: threading.get_ident(), 4) == [caller]


def test_a_failing_part_is_raised_after_every_part_has_ended(parallel):
    finished = []

    def work(part, start, stop):
        if part == 0:
            raise ValueError("part 0 failed")
        time.sleep(0.05)
        finished.append(part)

    with pytest.raises(ValueError, match="part 0 failed"):
        threads.run_parts(work, 3)
    assert sorted(finished) == [1, 2]


@pytest.mark.parametrize("bad", [0, -2, 1.5, "two", True, "0"])
def test_set_num_threads_rejects_what_is_not_a_positive_count(bad):
    with pytest.raises(ConfigError, match="positive whole number of threads"):
        threads.set_num_threads(bad)


def test_the_environment_variable_sets_the_default_and_is_checked(monkeypatch):
    before = threads.get_num_threads()
    try:
        monkeypatch.setenv(threads.ENV_VAR, "3")
        threads.set_num_threads(None)
        assert threads.get_num_threads() == 3
        monkeypatch.setenv(threads.ENV_VAR, "many")
        threads.set_num_threads(None)
        with pytest.raises(ConfigError, match="TRAINLAB_NUM_THREADS"):
            threads.get_num_threads()
    finally:
        monkeypatch.delenv(threads.ENV_VAR)
        threads.set_num_threads(before)


def test_use_threads_restores_the_previous_count():
    before = threads.get_num_threads()
    with threads.use_threads(5):
        assert threads.get_num_threads() == 5
    assert threads.get_num_threads() == before


def test_runtime_holds_blas_to_one_thread_and_restores_it():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(2, user_api="blas"), threads.use_threads(2):
        before = blas_thread_counts()
        with runtime(threads=3) as settings:
            assert set(blas_thread_counts()) <= {1}
            assert threads.get_num_threads() == 3 and settings.blas_threads == 1
        assert blas_thread_counts() == before
        assert threads.get_num_threads() == 2


def test_runtime_with_one_thread_leaves_blas_alone_unless_asked():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(2, user_api="blas"):
        before = blas_thread_counts()
        with runtime(threads=1):
            assert blas_thread_counts() == before
        with runtime(threads=1, blas_threads=1):
            assert set(blas_thread_counts()) <= {1}
        assert blas_thread_counts() == before


@pytest.mark.parametrize("bad", [{"threads": 0}, {"threads": "2"}, {"blas_threads": 0}, {"keep_freed_memory": 1}])
def test_runtime_rejects_bad_settings(bad):
    with pytest.raises(ConfigError):
        with runtime(**bad):
            pass


@pytest.mark.parametrize("with_conv", [True, False])
def test_trainer_fit_changes_no_thread_setting_by_itself(with_conv, rng):
    """Outside trainlab.runtime, fit runs with BLAS's and trainlab's threads as the caller left them."""
    from threadpoolctl import threadpool_limits

    seen = []

    class Probe(Linear):
        def forward(self, x, *, train):
            seen.append((blas_thread_counts(), threads.get_num_threads()))
            return super().forward(x, train=train)

    x = rng.random((20, 1, 3, 3), dtype=np.float32)
    t = rng.integers(0, 2, 20)
    layers = [Conv2d(1, 2, 1, rng=rng)] if with_conv else []
    model = Sequential(*layers, Flatten(), Probe(18 if with_conv else 9, 2, rng=rng))
    with threadpool_limits(2, user_api="blas"), threads.use_threads(2):
        before = blas_thread_counts()
        assert max(before) == 2
        Trainer(model, SGD(model.parameters(), lr=0.1), batch_size=10, epochs=1, progress=False,
                eval_train=False).fit(x, t)
        assert blas_thread_counts() == before
    assert seen and all(counts == (before, 2) for counts in seen)


@pytest.mark.parametrize("shape", [(300, 40, 50), (40, 30, 3000), (20, 5000, 30)], ids=["rows", "cols", "shared"])
@pytest.mark.parametrize("with_out", [False, True])
def test_matmul_equals_a_plain_product_whichever_dimension_is_split(parallel, shape, with_out, rng):
    M, K, N = shape
    a, b = rng.standard_normal((M, K)), rng.standard_normal((K, N))
    out = np.empty((M, N)) if with_out else None
    got = threads.matmul(a, b, out=out)
    if with_out:
        assert got is out
    np.testing.assert_allclose(got, a @ b, rtol=1e-12, atol=1e-12)
    # Transposed operands (as the layers pass them) too.
    np.testing.assert_allclose(threads.matmul(b.T, a.T), (a @ b).T, rtol=1e-12, atol=1e-12)


# ---- the layers, split over threads versus in one thread ----------------------------


def passes(layer, x, dout):
    out = layer.forward(x, train=True)
    dx = layer.backward(dout)
    grads = [p.grad.copy() for p in layer.parameters()]
    return np.ascontiguousarray(out), None if dx is None else np.ascontiguousarray(dx), grads


def compare_threaded(make_layer, x, out_shape, rng, rtol=1e-12):
    dout = rng.standard_normal(out_shape)
    with threads.use_threads(1):
        expected = passes(make_layer(), x, dout)
    for count in (2, 3):
        with runtime(threads=count):
            got = passes(make_layer(), x, dout)
            again = passes(make_layer(), x, dout)
        np.testing.assert_allclose(got[0], expected[0], rtol=rtol, atol=1e-12)
        if expected[1] is not None:
            np.testing.assert_allclose(got[1], expected[1], rtol=rtol, atol=1e-12)
        for g, e in zip(got[2], expected[2]):
            np.testing.assert_allclose(g, e, rtol=rtol, atol=1e-10)
        # The same thread count gives the same bits, whatever the timing.
        for g, a in zip(got[2], again[2]):
            np.testing.assert_array_equal(g, a)


@pytest.mark.parametrize("stride, padding, x_shape, kernel", [
    (1, 1, (6, 5, 11, 13), 3), (1, 0, (6, 5, 11, 13), 3),  # row blocks
    (2, 1, (6, 5, 11, 13), 3), (2, 1, (32, 16, 15, 15), 3),  # whole columns matrix, small and split
    (1, 0, (32, 16, 15, 15), 1)])  # pointwise: the input is the columns matrix
def test_conv2d_split_over_threads_matches_one_thread(stride, padding, x_shape, kernel, rng, monkeypatch):
    monkeypatch.setattr(conv_module, "ROW_BLOCK_VALUES", 4000)  # several row blocks per thread
    x = rng.standard_normal(x_shape)

    def make():
        return Conv2d(x_shape[1], 24, kernel, stride=stride, padding=padding, rng=np.random.default_rng(0),
                      dtype=np.float64)

    out_shape = make().output_shape(x.shape)
    compare_threaded(make, x, out_shape, rng)


def test_conv2d_eval_and_large_im2col_split_over_threads(rng):
    x = rng.standard_normal((64, 16, 17, 17))
    layer = Conv2d(16, 32, 3, stride=2, padding=1, rng=np.random.default_rng(0), dtype=np.float64)
    with threads.use_threads(1):
        expected = layer.forward(x, train=False)
    with runtime(threads=2):
        np.testing.assert_allclose(layer.forward(x, train=False), expected, rtol=1e-12, atol=1e-12)


def test_relu_on_large_arrays_split_over_threads(rng):
    x = rng.standard_normal((8, 16, 30, 30)).transpose(0, 1, 3, 2)  # not C-contiguous, still one block
    compare_threaded(ReLU, x, x.shape, rng)
    strided = rng.standard_normal((8, 16, 60, 30))[:, :, ::2]  # not one block: the plain path
    compare_threaded(ReLU, strided, strided.shape, rng)


@pytest.mark.parametrize("kernel, stride", [(2, 2), (3, 2)])
def test_maxpool_on_large_arrays_split_over_threads(kernel, stride, rng):
    x = rng.standard_normal((20, 16, 28, 28))
    x[:, :, ::4, ::4] = x[:, :, 1::4, 1::4]  # ties: the first maximum must win in every part

    def make():
        return MaxPool2d(kernel, stride)

    compare_threaded(make, x, make().output_shape(x.shape), rng)
    layer = make()
    with threads.use_threads(1):
        expected = layer.forward(x, train=False)
    with runtime(threads=2):
        np.testing.assert_array_equal(layer.forward(x, train=False), expected)


@pytest.mark.parametrize("layout", ["chwn", "nchw"])
@pytest.mark.parametrize("train", [True, False])
def test_batchnorm2d_split_over_threads_matches_one_thread(layout, train, rng):
    x = rng.standard_normal((6, 7, 10, 10)) * 3 + 1
    if layout == "chwn":
        x = from_block(np.ascontiguousarray(block_view(x)))
    dout = rng.standard_normal(x.shape)
    results = []
    for count in (1, 2, 3):
        bn = BatchNorm2d(7, dtype=np.float64)
        bn.weight.data[...] = np.linspace(0.5, 2, 7)
        bn.bias.data[...] = np.linspace(-1, 1, 7)
        bn._buffers["running_var"][...] = np.linspace(0.5, 3, 7)
        with runtime(threads=count):
            out = bn.forward(x, train=train)
            assert (bn._cache[2] is not None) == (count > 1)  # split into channel parts, or not at all
            dx = bn.backward(dout)
        results.append((np.ascontiguousarray(out), np.ascontiguousarray(dx), bn.weight.grad, bn.bias.grad,
                        bn._buffers["running_mean"].copy(), bn._buffers["running_var"].copy()))
    for other in results[1:]:
        for got, expected in zip(other, results[0]):
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_linear_split_over_threads_matches_one_thread(rng):
    x = rng.standard_normal((256, 300))
    compare_threaded(lambda: Linear(300, 200, rng=np.random.default_rng(0), dtype=np.float64), x, (256, 200), rng)


def test_deep_convnet_training_step_split_over_threads_matches_one_thread(rng):
    x = rng.random((20, 1, 28, 28), dtype=np.float32)
    t = rng.integers(0, 10, 20)

    def step():
        model = DeepConvNet(seed=0)
        loss = CrossEntropyLoss()
        loss.forward(model.forward(x, train=True), t)
        model.backward(loss.backward())
        return [p.grad.copy() for p in model.parameters()]

    with threads.use_threads(1):
        expected = step()
    with runtime(threads=2):
        got = step()
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=2e-4, atol=2e-5)


def test_parts_from_several_threads_while_the_count_changes(parallel):
    """Callers in other threads (a Dask worker's tasks) keep working while the thread count changes."""
    errors = []

    def caller():
        try:
            for _ in range(200):
                assert sum(b - a for a, b in threads.run_parts(lambda k, a, b: (a, b), 12)) == 12
        except BaseException as e:  # reported below
            errors.append(e)

    callers = [threading.Thread(target=caller) for _ in range(2)]
    for c in callers:
        c.start()
    for n in [2, 4, 1, 3] * 25:
        threads.set_num_threads(n)
    for c in callers:
        c.join()
    threads.set_num_threads(3)
    assert not errors
