"""The Trainer: learning on a small task, history, callbacks, determinism, and the NaN guard."""

import numpy as np
import pytest

from trainlab.errors import ConfigError, NonFiniteError, ShapeError
from trainlab.layers import Linear, ReLU, Sequential
from trainlab.models import MultiLayerNet
from trainlab.optim import SGD, Adam
from trainlab.training import ActivationRecorder, Callback, GradientNormRecorder, Trainer, evaluate


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
                                 dict(epochs=1.5), dict(epochs="3"), dict(epochs=True),
                                 dict(iterations=2.5), dict(eval_batch_size=0), dict(eval_train=-1)])
def test_lengths_and_sizes_must_be_integers(bad):
    net = MultiLayerNet(4, [8], 3, seed=0)
    settings = {"epochs": 1, **bad} if "iterations" not in bad else bad
    name = next(iter(bad))
    with pytest.raises(ConfigError, match=rf"Trainer: {name}"):
        Trainer(net, SGD(net.parameters(), lr=0.1), **settings)
