"""The Trainer: learning on a small task, history, callbacks, determinism, and the NaN guard."""

import numpy as np
import pytest

from trainlab.data.batching import BatchIterator
from trainlab.errors import ConfigError, DTypeError, NonFiniteError, ShapeError
from trainlab.layers import BatchNorm1d, Linear, ReLU, Sequential
from trainlab.layers.losses import MSELoss
from trainlab.models import MultiLayerNet
from trainlab.optim import SGD, Adam
from trainlab.training import ActivationRecorder, Callback, GradientNormRecorder, Trainer, accuracy, evaluate


CENTRES = np.random.default_rng(99).standard_normal((3, 4)) * 3


def blobs(n=600, seed=0):
    """Three Gaussian blobs in 4-D (fixed centres, samples drawn with ``seed``): easy to learn."""
    rng = np.random.default_rng(seed)
    centres = CENTRES
    t = rng.integers(0, 3, n)
    x = (centres[t] + rng.standard_normal((n, 4))).astype(np.float32)
    return x, t


def test_fit_learns_and_records_history():
    x, t = blobs()
    xv, tv = blobs(200, seed=1)
    net = MultiLayerNet(4, [16], 3, seed=0)
    trainer = Trainer(net, Adam(net.parameters(), lr=1e-2), batch_size=32, epochs=5,
                      eval_sets={"val": (xv, tv)}, progress=False)
    history = trainer.fit(x, t)
    per_epoch = -(-600 // 32)
    assert len(history.loss) == 5 * per_epoch
    assert history.iterations == list(range(5 * per_epoch))
    assert [r["epoch"] for r in history.epochs] == [1, 2, 3, 4, 5]
    assert history.epochs[-1]["iteration"] == 5 * per_epoch
    assert history.last("val_acc") > 0.9 and history.last("train_acc") > 0.9
    assert np.mean(history.loss[-per_epoch:]) < np.mean(history.loss[:per_epoch])
    assert evaluate(net, xv, tv)["acc"] == pytest.approx(history.last("val_acc"))


def test_iterations_mode_with_partial_last_epoch():
    x, t = blobs(100)
    net = MultiLayerNet(4, [8], 3, seed=0)
    history = Trainer(net, SGD(net.parameters(), lr=0.1), batch_size=30, iterations=9,
                      progress=False).fit(x, t)
    assert len(history.loss) == 9
    # 4 batches per epoch: evaluations after epochs 1 and 2 and at the final step.
    assert [r["iteration"] for r in history.epochs] == [4, 8, 9]


def test_same_seed_same_run():
    x, t = blobs(200)
    runs = []
    for _ in range(2):
        net = MultiLayerNet(4, [8], 3, dropout=0.2, seed=3)
        runs.append(Trainer(net, Adam(net.parameters()), batch_size=20, epochs=2, seed=7,
                            progress=False).fit(x, t).loss)
    assert runs[0] == runs[1]


def test_callbacks_see_every_step_and_gradients():
    x, t = blobs(120)
    net = MultiLayerNet(4, [8, 8], 3, seed=0)
    calls = []

    class Spy(Callback):
        def on_train_begin(self, trainer):
            calls.append("begin")

        def on_step_end(self, trainer, step, loss):
            calls.append(step)

        def on_epoch_end(self, trainer, epoch, record):
            calls.append(f"epoch{epoch}")

        def on_train_end(self, trainer):
            calls.append("end")

    norms = GradientNormRecorder(every=2)
    acts = ActivationRecorder(steps=[0, 3])
    Trainer(net, SGD(net.parameters(), lr=0.1), batch_size=40, epochs=2, progress=False,
            callbacks=[Spy(), norms, acts]).fit(x, t)
    assert calls == ["begin", 0, 1, 2, "epoch1", 3, 4, 5, "epoch2", "end"]
    assert norms.steps == [0, 2, 4]
    assert set(norms.norms) == {name for name, _ in net.named_parameters()}
    assert all(len(v) == 3 and all(n > 0 for n in v) for v in norms.norms.values())
    assert sorted(acts.activations) == [0, 3]
    assert set(acts.activations[0]) == {layer.path for layer in net}
    assert acts.activations[0]["1"].min() >= 0  # the ReLU's output
    assert net.forward_hooks == []  # removed after training


def test_nan_loss_names_step_and_layer():
    x, t = blobs(200)
    net = Sequential(Linear(4, 8, rng=np.random.default_rng(0)), ReLU(), Linear(8, 3, rng=np.random.default_rng(1)))
    trainer = Trainer(net, SGD(net.parameters(), lr=1e-2), batch_size=20, epochs=3, progress=False)

    class Poison(Callback):
        def on_step_end(self, trainer, step, loss):
            if step == 4:
                net[2].weight.data[0, 0] = np.inf

    trainer.callbacks.append(Poison())
    with pytest.raises(NonFiniteError, match=r"at step 5 .*Linear at '2' \(its parameters weight are not finite\)"):
        trainer.fit(x, t)


def test_stop_on_nonfinite_records_the_step_and_keeps_the_last_finite_state():
    x, t = blobs(200)
    net = Sequential(Linear(4, 8, rng=np.random.default_rng(0)), ReLU(), Linear(8, 3, rng=np.random.default_rng(1)))
    ended = []

    class Poison(Callback):
        def on_step_end(self, trainer, step, loss):
            if step == 4:
                self.first_weight = net[0].weight.data.copy()
                net[2].weight.data[0, 0] = np.inf

        def on_train_end(self, trainer):
            ended.append(trainer.step)

    poison = Poison()
    trainer = Trainer(net, SGD(net.parameters(), lr=1e-2), batch_size=20, epochs=3, progress=False,
                      callbacks=[poison], on_nonfinite="stop", eval_sets={"test": (x, t)})
    history = trainer.fit(x, t)
    assert history.diverged_at == 5 and trainer.step == 5 and ended == [5]
    assert "Linear at '2'" in history.divergence and "step 5" in history.divergence
    assert len(history.loss) == 5 and history.epochs == []  # stopped inside the first epoch, before evaluating
    np.testing.assert_array_equal(net[0].weight.data, poison.first_weight)  # no update from the bad loss
    assert net[0].needs_input_grad  # the first layer's flag is restored
    with pytest.raises(ConfigError, match="on_nonfinite must be 'raise' or 'stop'"):
        Trainer(net, SGD(net.parameters(), lr=0.1), epochs=1, on_nonfinite="ignore")


def test_finished_runs_record_no_divergence():
    x, t = blobs(100)
    net = MultiLayerNet(4, [8], 3, seed=0)
    history = Trainer(net, SGD(net.parameters(), lr=0.1), epochs=2, on_nonfinite="stop", progress=False).fit(x, t)
    assert history.diverged_at is None and history.divergence is None and len(history.epochs) == 2


def test_exploding_learning_rate_is_caught():
    x, t = blobs(200)
    x = x * 1000
    net = MultiLayerNet(4, [32, 32], 3, seed=0)
    with pytest.raises(NonFiniteError, match="loss is (nan|inf) at step"):
        with np.errstate(all="ignore"):
            Trainer(net, SGD(net.parameters(), lr=1e6), batch_size=50, epochs=20, progress=False).fit(x, t)


def test_bad_data_is_refused_before_training():
    x, t = blobs(50)
    net = MultiLayerNet(4, [8], 3)
    x_nan = x.copy()
    x_nan[3, 1] = np.nan
    with pytest.raises(NonFiniteError, match="training data input contains 1 NaN"):
        Trainer(net, SGD(net.parameters(), lr=0.1), epochs=1, progress=False).fit(x_nan, t)
    with pytest.raises(ShapeError, match="50 samples but 49 labels"):
        Trainer(net, SGD(net.parameters(), lr=0.1), epochs=1, progress=False).fit(x, t[:-1])
    with pytest.raises(ConfigError, match="exactly one of epochs or iterations"):
        Trainer(net, SGD(net.parameters(), lr=0.1), epochs=1, iterations=5)
    with pytest.raises(ConfigError):
        Trainer(net, SGD(net.parameters(), lr=0.1), epochs=0)


def test_first_layer_skips_its_input_gradient_only_during_fit():
    x, t = blobs(60)
    net = MultiLayerNet(4, [8], 3, seed=0)
    seen = []
    net.backward_hooks.append(lambda path, layer, dx: seen.append((path, dx is None)))
    Trainer(net, SGD(net.parameters(), lr=0.1), batch_size=30, epochs=1, progress=False).fit(x, t)
    assert seen[-1] == ("0", True) and all(not none for path, none in seen if path != "0")
    assert net[0].needs_input_grad  # restored afterwards
    net.forward(x, train=True)
    assert net.backward(np.ones((60, 3), np.float32)).shape == (60, 4)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_l2_penalty_follows_the_trajectory_of_the_optimizers_weight_decay(momentum):
    """The book's lambda/2*||W||^2 in the loss and SGD's coupled weight_decay=lambda move the weights alike."""
    lam = 0.05
    x, t = blobs(120)
    runs = {}
    for form in ("l2_penalty", "weight_decay"):
        net = MultiLayerNet(4, [8, 8], 3, use_batchnorm=True, seed=2, dtype=np.float64)
        start = {name: p.data.copy() for name, p in net.named_parameters()}
        optimizer = SGD(net.parameters(), lr=0.1, momentum=momentum,
                        weight_decay=lam if form == "weight_decay" else 0.0)
        trainer = Trainer(net, optimizer, batch_size=40, epochs=3, progress=False,
                          l2_penalty=lam if form == "l2_penalty" else 0.0)
        runs[form] = (net, trainer.fit(x.astype(np.float64), t), start)
    (penalised, hist_p, start), (decayed, hist_d, _) = runs["l2_penalty"], runs["weight_decay"]
    for (name, a), (_, b) in zip(penalised.named_parameters(), decayed.named_parameters()):
        assert not a.decay or not np.allclose(a.data, start[name])  # the weights moved
        np.testing.assert_allclose(a.data, b.data, rtol=1e-10, atol=1e-12, err_msg=name)
    # Only the recorded loss differs: it includes the penalty, first of all at the starting weights.
    penalty = 0.5 * lam * sum((start[name] ** 2).sum() for name, p in penalised.named_parameters() if p.decay)
    assert hist_p.loss[0] == pytest.approx(hist_d.loss[0] + penalty, rel=1e-12)
    assert all(lp > ld for lp, ld in zip(hist_p.loss, hist_d.loss))


def test_weight_decay_is_refused_where_it_no_longer_belongs():
    net = MultiLayerNet(4, [8], 3, seed=0)
    with pytest.raises(ConfigError, match=r"Trainer: weight_decay= .*Trainer\(l2_penalty=.*optimizer"):
        Trainer(net, SGD(net.parameters(), lr=0.1), epochs=1, weight_decay=1e-4)
    with pytest.raises(ConfigError, match=r"MultiLayerNet: weight_decay= .*architecture.*l2_penalty"):
        MultiLayerNet(4, [8], 3, weight_decay=1e-4)
    with pytest.raises(TypeError, match="unexpected keyword argument 'epoch'"):
        Trainer(net, SGD(net.parameters(), lr=0.1), epoch=1)
    with pytest.raises(ConfigError, match="l2_penalty"):
        Trainer(net, SGD(net.parameters(), lr=0.1), epochs=1, l2_penalty=-1.0)


def test_mlp_loss_takes_the_penalty_as_an_argument():
    rng = np.random.default_rng(0)
    net = MultiLayerNet(5, [6], 3, seed=4, dtype=np.float64)
    x, t = rng.standard_normal((8, 5)), rng.integers(0, 3, 8)
    weights = [p.data for p in net.parameters() if p.decay]
    assert net.loss(x, t, l2_penalty=0.1) == pytest.approx(
        net.loss(x, t) + 0.05 * sum((w ** 2).sum() for w in weights), rel=1e-12)


@pytest.mark.parametrize("bad", [dict(batch_size="16"), dict(batch_size=0), dict(batch_size=2.0),
                                 dict(batch_size=True), dict(epochs=1.5), dict(epochs="3"), dict(epochs=True),
                                 dict(iterations=2.5), dict(iterations="3"), dict(iterations=True),
                                 dict(eval_batch_size=0), dict(eval_batch_size="1000"), dict(eval_train=-1),
                                 dict(eval_train=1.5)])
def test_lengths_and_sizes_must_be_integers(bad):
    net = MultiLayerNet(4, [8], 3, seed=0)
    settings = {"epochs": 1, **bad} if "iterations" not in bad else bad
    name = next(iter(bad))
    with pytest.raises(ConfigError, match=rf"Trainer: {name}"):
        Trainer(net, SGD(net.parameters(), lr=0.1), **settings)


def snapshot(net):
    """Copies of the parameters and the buffers (BatchNorm's running statistics)."""
    return {**{name: p.data.copy() for name, p in net.named_parameters()},
            **{f"buffer {name}": np.array(b, copy=True) for name, b in net.named_buffers()}}


def assert_untouched(net, before, trainer):
    assert trainer.step == 0 and trainer.history.loss == []
    now = snapshot(net)
    assert now.keys() == before.keys()
    for name, value in now.items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)


def test_fit_and_evaluate_take_python_lists_like_arrays():
    x, t = blobs(90)
    xv, tv = blobs(30, seed=1)
    runs = []
    for as_list in (False, True):
        net = MultiLayerNet(4, [8], 3, seed=0)
        data = (x.tolist(), t.tolist(), xv.tolist(), tv.tolist()) if as_list else (x, t, xv, tv)
        trainer = Trainer(net, SGD(net.parameters(), lr=0.1), batch_size=30, epochs=2, progress=False,
                          eval_sets={"val": (data[2], data[3])})
        runs.append((trainer.fit(data[0], data[1]), net))
    (arrays, net), (lists, _) = runs
    assert lists.loss == arrays.loss and lists.epochs == arrays.epochs
    assert evaluate(net, xv.tolist(), tv.tolist()) == evaluate(net, xv, tv)
    assert accuracy(net, xv.tolist(), tv.tolist()) == accuracy(net, xv, tv)
    assert [len(xb) for xb, _ in BatchIterator(x.tolist(), t.tolist(), 40, shuffle=False)] == [40, 40, 10]


@pytest.mark.parametrize("bad_x, error, match", [
    ([[0.0, 1.0, 2.0, 3.0], [0.0, 1.0]], ShapeError, "training data input cannot be made an array .*ragged"),
    ("0123", DTypeError, "training data input must be an array of numbers, got a str"),
    ([["a", "b", "c", "d"]] * 3, DTypeError, "training data input must hold real numbers, got dtype <U1"),
    ([object()] * 3, DTypeError, "training data input must hold real numbers, got dtype object"),
    ([[1j, 0, 0, 0]] * 3, DTypeError, "training data input must hold real numbers, got dtype complex128"),
    (np.zeros((3, 4), np.uint8), DTypeError, r"training data input has dtype uint8; convert it with "
                                            r"x.astype\(np.float32\) \(and scale images"),
    (np.zeros((3, 4), bool), DTypeError, "training data input has dtype bool"),
    (np.float32(1.0), ShapeError, "training data input must have one entry per sample"),
    (np.zeros((0, 4), np.float32), ShapeError, "training data: no samples"),
])
def test_inputs_that_are_not_arrays_of_floats_are_refused_before_training(bad_x, error, match):
    net = MultiLayerNet(4, [8], 3, seed=0)
    before = snapshot(net)
    trainer = Trainer(net, SGD(net.parameters(), lr=0.1), epochs=1, progress=False)
    with pytest.raises(error, match=match):
        trainer.fit(bad_x, [0, 1, 2])
    assert_untouched(net, before, trainer)


@pytest.mark.parametrize("bad_t, error, match", [
    (np.array([0, 1, 0.5] * 10), DTypeError, "training data labels must be class indices of an integer dtype, "
                                             "got float64"),
    (np.array([0.0, 1.0, 2.0] * 10), DTypeError, "integer dtype, got float64"),
    (np.array([True, False, True] * 10), DTypeError, "integer dtype, got bool"),
    (["0", "1", "2"] * 10, DTypeError, "training data labels must hold real numbers, got dtype <U1"),
    ([[0], [1, 2]] + [[0]] * 28, ShapeError, "training data labels cannot be made an array"),
    (np.zeros((30, 1, 3), np.int64), ShapeError, r"\(N,\) class indices or \(N, C\) one-hot rows"),
    (np.eye(4)[np.arange(30) % 4], ShapeError, "one-hot rows of width 4 but the model gives 3 scores"),
    (np.eye(3)[np.arange(30) % 3] * 2, ShapeError, r"row 0 has entries outside \[0, 1\]"),
    (np.arange(29) % 3, ShapeError, "30 samples but 29 labels"),
])
def test_labels_of_the_wrong_kind_are_refused_before_training(bad_t, error, match):
    x, _ = blobs(30)
    net = MultiLayerNet(4, [8], 3, seed=0)
    before = snapshot(net)
    trainer = Trainer(net, SGD(net.parameters(), lr=0.1), batch_size=10, epochs=1, progress=False)
    with pytest.raises(error, match=match):
        trainer.fit(x, bad_t)
    assert_untouched(net, before, trainer)


@pytest.mark.parametrize("known_width", [True, False])
@pytest.mark.parametrize("label", [3, -1])
def test_a_label_out_of_range_in_a_late_batch_is_reported_before_any_update(known_width, label):
    x, t = blobs(200)
    t[-1] = label  # shuffled into some batch after the first ones
    net = MultiLayerNet(4, [8], 3, use_batchnorm=True, seed=0) if known_width else \
        Sequential(Linear(4, 8, rng=np.random.default_rng(0)), BatchNorm1d(8), ReLU(),
                   Linear(8, 3, rng=np.random.default_rng(1)))  # learns its width from one eval-mode pass
    before = snapshot(net)
    trainer = Trainer(net, Adam(net.parameters()), batch_size=20, epochs=1, progress=False)
    with pytest.raises(ShapeError, match=rf"training data labels: label {label} at sample 199 is out of range "
                                         r"for 3 classes \(valid 0..2; 1 such label"):
        trainer.fit(x, t)
    assert_untouched(net, before, trainer)


def test_evaluation_sets_are_checked_before_the_first_step():
    x, t = blobs(60)
    net = Sequential(Linear(4, 8, rng=np.random.default_rng(0)), ReLU(), Linear(8, 3, rng=np.random.default_rng(1)))
    before = snapshot(net)
    cases = [
        ({"val": (x, np.where(t == 2, 5, t))}, ShapeError, "val data labels: label 5 at sample"),
        ({"test": (x.tolist()[:-1] + [[0.0]], t)}, ShapeError, "test data input cannot be made an array"),
        ({"test": (x.astype(np.int32), t)}, DTypeError, "test data input has dtype int32"),
        ({"val": (x, t[:10])}, ShapeError, "val data labels: 60 samples but 10 labels"),
        ({"val": x}, ConfigError, r"Trainer: eval_sets\['val'\] must be a pair \(x, t\), got ndarray"),
    ]
    for eval_sets, error, match in cases:
        trainer = Trainer(net, SGD(net.parameters(), lr=0.1), batch_size=20, epochs=1, progress=False,
                          eval_sets=eval_sets)
        with pytest.raises(error, match=match):
            trainer.fit(x, t)
        assert_untouched(net, before, trainer)


def test_one_hot_and_probability_rows_train_and_regression_targets_must_be_finite():
    x, t = blobs(60)
    net = MultiLayerNet(4, [8], 3, seed=0)
    one_hot = np.eye(3, dtype=np.float32)[t]
    soft = 0.9 * one_hot + 0.1 / 3
    for targets in (one_hot, soft, one_hot.astype(np.uint8)):
        history = Trainer(net, SGD(net.parameters(), lr=0.1), batch_size=20, epochs=1, progress=False,
                          eval_sets={"val": (x, targets)}).fit(x, targets)
        assert len(history.loss) == 3 and "val_acc" in history.epochs[-1]
    regression = Sequential(Linear(4, 2, rng=np.random.default_rng(0)))
    y = np.zeros((60, 2), np.float32)
    Trainer(regression, SGD(regression.parameters(), lr=0.01), batch_size=20, epochs=1, progress=False,
            loss_fn=MSELoss()).fit(x, y.tolist())
    y[7, 1] = np.nan
    with pytest.raises(NonFiniteError, match="training data labels contains 1 NaN"):
        Trainer(regression, SGD(regression.parameters(), lr=0.01), epochs=1, progress=False,
                loss_fn=MSELoss()).fit(x, y)


def test_evaluate_and_accuracy_check_their_arguments():
    x, t = blobs(20)
    net = MultiLayerNet(4, [8], 3, seed=0)
    with pytest.raises(ConfigError, match="evaluate: batch_size"):
        evaluate(net, x, t, batch_size=0)
    with pytest.raises(ConfigError, match="accuracy: batch_size"):
        accuracy(net, x, t, batch_size="10")
    with pytest.raises(ShapeError, match="evaluate: x cannot be made an array"):
        evaluate(net, [[0.0, 1.0, 2.0, 3.0], [1.0]], [0, 1])
    with pytest.raises(DTypeError, match="accuracy: t must hold real numbers"):
        accuracy(net, x, ["a"] * 20)
    with pytest.raises(ShapeError, match="evaluate: 20 samples but 19 labels"):
        evaluate(net, x, t[:-1])
    with pytest.raises(ShapeError, match="accuracy: 20 samples but 1 labels"):
        accuracy(net, x, t[:1])  # would broadcast
