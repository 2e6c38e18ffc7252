"""Behaviour the book teaches: BN modes, dropout's mean, folding, L2, and clear errors."""

import numpy as np
import pytest

from trainlab.errors import ConfigError, DTypeError, ShapeError, UnknownNameError
from trainlab.folding import fold_batchnorm
from trainlab.layers import BatchNorm1d, CrossEntropyLoss, Dropout, Linear, ReLU, Sequential
from trainlab.models import MultiLayerNet


def test_batchnorm_eval_uses_running_statistics(rng):
    bn = BatchNorm1d(3, momentum=0.5)
    x = (rng.standard_normal((64, 3)) * 4 + 10).astype(np.float32)
    bn.forward(x, train=True)
    # One step with momentum 0.5 from (0, 1): running = half the batch statistics.
    np.testing.assert_allclose(bn.get_buffer("running_mean"), 0.5 * x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(bn.get_buffer("running_var"), 0.5 + 0.5 * x.var(0, ddof=1), rtol=1e-5)
    single = x[:1]
    expected = (single - bn.get_buffer("running_mean")) / np.sqrt(bn.get_buffer("running_var") + 1e-5)
    np.testing.assert_allclose(bn.forward(single, train=False), expected, rtol=1e-5)
    # In train mode the batch itself is normalised: mean 0, std 1 per feature.
    out = bn.forward(x, train=True)
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(0), 1, atol=1e-3)


def test_batchnorm_train_rejects_a_single_sample():
    with pytest.raises(ShapeError, match="more than one value"):
        BatchNorm1d(4).forward(np.ones((1, 4), np.float32), train=True)


def test_inverted_dropout_keeps_the_mean(rng):
    x = np.full((500, 400), 3.0, np.float32)
    d = Dropout(0.25, rng=rng)
    train = d.forward(x, train=True)
    assert abs(train.mean() - 3.0) < 0.02
    assert np.isclose(train[train > 0], 4.0).all()  # survivors scaled by 1/(1-p)
    np.testing.assert_array_equal(d.forward(x, train=False), x)
    assert abs((train == 0).mean() - 0.25) < 0.01


def test_book_dropout_scales_at_test_time(rng):
    x = np.full((200, 300), 2.0, np.float32)
    d = Dropout(0.5, inverted=False, rng=rng)
    train = d.forward(x, train=True)
    assert set(np.unique(train)) == {0.0, 2.0}
    np.testing.assert_allclose(d.forward(x, train=False), 1.0)


def _trained_bn_net(seed=0):
    net = MultiLayerNet(12, [16, 16], 4, use_batchnorm=True, seed=seed)
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((64, 12)) * 3 + 1).astype(np.float32)
    t = rng.integers(0, 4, 64)
    for layer in net.modules():
        if isinstance(layer, BatchNorm1d):
            layer.weight.data[:] = rng.uniform(0.5, 2.0, layer.num_features)
            layer.bias.data[:] = rng.standard_normal(layer.num_features)
    for _ in range(5):
        net.gradient(x, t)
    return net, x


def test_fold_batchnorm_equals_eval_output():
    net, x = _trained_bn_net()
    folded = fold_batchnorm(net)
    assert not any(isinstance(layer, BatchNorm1d) for layer in folded.modules())
    assert sum(isinstance(layer, BatchNorm1d) for layer in net.modules()) == 2
    ref = net.forward(x, train=False)
    out = folded.forward(x, train=False)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref, atol=1e-5, rtol=1e-5)
    assert len(folded) == len(net) - 2
    assert type(folded).__name__ == "FoldedModel" and folded.input_shape == (net.input_size,)
    t = net.predict(x).argmax(axis=1)
    assert folded.accuracy(x, t) == net.accuracy(x, t) == 1.0
    assert folded.flops_per_sample() == sum(layer.in_features * layer.out_features
                                            for layer in net.modules() if isinstance(layer, Linear))


def test_fold_leaves_original_untouched_and_keeps_unfoldable_bn():
    net = Sequential(ReLU(), BatchNorm1d(3), Linear(3, 2, rng=np.random.default_rng(0)))
    before = net.state_dict()
    folded = fold_batchnorm(net)
    assert type(folded) is Sequential  # a plain Sequential stays one
    assert isinstance(folded[1], BatchNorm1d)  # follows a ReLU: nothing to fold into
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_l2_in_model_equals_l2_in_loss(rng):
    """MultiLayerNet.gradient(l2_penalty=lam) adds 0.5*lam*sum W^2 to the loss and lam*W to the weight gradients."""
    lam = 0.1
    decayed = MultiLayerNet(5, [6], 3, seed=4, dtype=np.float64)
    plain = MultiLayerNet(5, [6], 3, seed=4, dtype=np.float64)
    x, t = rng.standard_normal((8, 5)), rng.integers(0, 3, 8)
    loss_d, loss_p = decayed.gradient(x, t, l2_penalty=lam), plain.gradient(x, t)
    weights = [p for _, p in plain.named_parameters() if p.decay]
    assert loss_d == pytest.approx(loss_p + 0.5 * lam * sum((w.data ** 2).sum() for w in weights))
    for (name, pd), (_, pp) in zip(decayed.named_parameters(), plain.named_parameters()):
        expected = pp.grad + lam * pp.data if pp.decay else pp.grad
        np.testing.assert_allclose(pd.grad, expected, err_msg=name)


def test_layer_errors_name_the_layer_and_shapes():
    net = Sequential(Linear(4, 3, rng=np.random.default_rng(0)), ReLU(), Linear(3, 2))
    with pytest.raises(ShapeError, match=r"Linear at '0'.*expected 4 features.*\(5, 7\)"):
        net.forward(np.ones((5, 7), np.float32), train=False)
    with pytest.raises(ShapeError, match="Linear at '0': expected a 2-D input"):
        net.forward(np.ones((5, 2, 2), np.float32), train=False)
    with pytest.raises(DTypeError, match="uint8"):
        net.forward(np.ones((5, 4), np.uint8), train=False)
    with pytest.raises(DTypeError, match="float64.*float32"):
        net.forward(np.ones((5, 4), np.float64), train=False)


def test_label_errors():
    loss = CrossEntropyLoss()
    y = np.zeros((3, 4), np.float32)
    with pytest.raises(ShapeError, match="label 4 out of range for 4 classes"):
        loss.forward(y, np.array([0, 1, 4]))
    with pytest.raises(ShapeError, match="label -1 out of range"):
        loss.forward(y, np.array([0, -1, 2]))
    with pytest.raises(ShapeError, match="3 score rows but 2 labels"):
        loss.forward(y, np.array([0, 1]))
    with pytest.raises(DTypeError, match="integers"):
        loss.forward(y, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ShapeError, match="do not match"):
        loss.forward(y, np.eye(3))


def test_config_errors():
    with pytest.raises(UnknownNameError, match="valid names: .*relu.*sigmoid"):
        MultiLayerNet(4, [3], 2, activation="swish")
    with pytest.raises(UnknownNameError, match="unknown initialiser 'glorot'.*valid names"):
        Linear(3, 2, weight_init="glorot")
    with pytest.raises(ConfigError):
        Linear(3, 2, weight_init=-1.0)
    with pytest.raises(ConfigError):
        Dropout(1.0)
    with pytest.raises(ConfigError):
        BatchNorm1d(3, momentum=1.5)
    with pytest.raises(ConfigError):
        MultiLayerNet(4, [0], 2)
