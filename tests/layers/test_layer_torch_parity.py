"""Forward (and backward) parity with torch.nn.functional where torch has the layer."""

import numpy as np
import pytest

from trainlab.layers import (
    BatchNorm1d, BatchNorm2d, CrossEntropyLoss, Dropout, LeakyReLU, Linear, MSELoss, ReLU, Sigmoid,
    Softmax, Tanh,
)

torch = pytest.importorskip("torch")
F = torch.nn.functional
# Both implementations of the kernels against PyTorch.
pytestmark = pytest.mark.parametrize("kernel_implementation", ["reference", "fast"], indirect=True)


def _t(a):
    return torch.tensor(np.asarray(a), requires_grad=True)


def test_linear_matches_f_linear(rng):
    layer = Linear(7, 4, rng=rng, dtype=np.float64)
    x = rng.standard_normal((5, 7))
    dout = rng.standard_normal((5, 4))
    xt, W, b = _t(x), _t(layer.weight.data.T.copy()), _t(layer.bias.data)
    yt = F.linear(xt, W, b)
    yt.backward(torch.tensor(dout))
    np.testing.assert_allclose(layer.forward(x, train=True), yt.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(layer.backward(dout), xt.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(layer.weight.grad, W.grad.numpy().T, atol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, b.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("layer, fn", [
    (ReLU(), F.relu), (Sigmoid(), torch.sigmoid), (Tanh(), torch.tanh),
    (LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2)), (Softmax(), lambda x: F.softmax(x, dim=-1)),
])
def test_activations_match(layer, fn, rng):
    x = rng.standard_normal((6, 9)) * 4
    x[0, 0] = 80.0  # large inputs must not overflow
    dout = rng.standard_normal(x.shape)
    xt = _t(x)
    yt = fn(xt)
    yt.backward(torch.tensor(dout))
    np.testing.assert_allclose(layer.forward(x, train=True), yt.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(layer.backward(dout), xt.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("one_hot", [False, True])
def test_cross_entropy_matches(one_hot, rng):
    y = rng.standard_normal((8, 5)) * 10
    t = rng.integers(0, 5, 8)
    yt = _t(y)
    ref = F.cross_entropy(yt, torch.tensor(t))
    ref.backward()
    loss = CrossEntropyLoss()
    value = loss.forward(y, np.eye(5)[t] if one_hot else t)
    assert value == pytest.approx(ref.item(), abs=1e-12)
    np.testing.assert_allclose(loss.backward(), yt.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("labels", ["index", "one-hot", "soft"])
@pytest.mark.parametrize("smoothing", [0.1, 0.35])
def test_cross_entropy_with_label_smoothing_matches(labels, smoothing, rng):
    y = rng.standard_normal((8, 5)) * 4
    if labels == "soft":
        t = rng.dirichlet(np.ones(5), size=8)
        target = torch.tensor(t)
    else:
        idx = rng.integers(0, 5, 8)
        t = idx if labels == "index" else np.eye(5)[idx]
        target = torch.tensor(t)
    yt = _t(y)
    ref = F.cross_entropy(yt, target, label_smoothing=smoothing)
    ref.backward()
    loss = CrossEntropyLoss(label_smoothing=smoothing)
    assert loss.forward(y, t) == pytest.approx(ref.item(), abs=1e-12)
    np.testing.assert_allclose(loss.backward(), yt.grad.numpy(), atol=1e-12)


def test_cross_entropy_float32_extreme_scores_are_finite():
    y = np.array([[1e4, -1e4, 0.0], [-3e4, 3e4, 1.0]], np.float32)
    loss = CrossEntropyLoss()
    value = loss.forward(y, np.array([1, 1]))
    ref = F.cross_entropy(torch.tensor(y), torch.tensor([1, 1])).item()
    assert np.isfinite(value) and value == pytest.approx(ref, rel=1e-5)
    assert np.isfinite(loss.backward()).all()


def test_mse_matches(rng):
    y, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    yt = _t(y)
    ref = F.mse_loss(yt, torch.tensor(t))
    ref.backward()
    loss = MSELoss()
    assert loss.forward(y, t) == pytest.approx(ref.item(), abs=1e-12)
    np.testing.assert_allclose(loss.backward(), yt.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("shape", [(16, 5), (8, 5, 3)])
def test_batchnorm1d_matches_torch_train_and_eval(shape, rng):
    ours = BatchNorm1d(5, momentum=0.2, dtype=np.float64)
    ref = torch.nn.BatchNorm1d(5, momentum=0.2).double()
    gamma, beta = rng.uniform(0.5, 2, 5), rng.standard_normal(5)
    ours.weight.data[:], ours.bias.data[:] = gamma, beta
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(gamma))
        ref.bias.copy_(torch.tensor(beta))
    for step in range(4):
        x = rng.standard_normal(shape) * (step + 1) + step
        dout = rng.standard_normal(shape)
        xt = _t(x)
        ref.train()
        yt = ref(xt)
        yt.backward(torch.tensor(dout))
        np.testing.assert_allclose(ours.forward(x, train=True), yt.detach().numpy(), atol=1e-10)
        np.testing.assert_allclose(ours.backward(dout), xt.grad.numpy(), atol=1e-10)
        np.testing.assert_allclose(ours.weight.grad, ref.weight.grad.numpy(), atol=1e-10)
        ref.weight.grad = None
        ref.bias.grad = None
    np.testing.assert_allclose(ours.get_buffer("running_mean"), ref.running_mean.numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.get_buffer("running_var"), ref.running_var.numpy(), atol=1e-12)
    ref.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(ours.forward(x, train=False), ref(torch.tensor(x)).detach().numpy(), atol=1e-10)


def test_batchnorm2d_matches_f_batch_norm(rng):
    ours = BatchNorm2d(3, dtype=np.float64)
    rm, rv = np.zeros(3), np.ones(3)
    x = rng.standard_normal((4, 3, 5, 5)) * 2 + 1
    ref = F.batch_norm(torch.tensor(x), torch.tensor(rm), torch.tensor(rv), torch.ones(3, dtype=torch.float64),
                       torch.zeros(3, dtype=torch.float64), training=True, momentum=0.1, eps=1e-5)
    np.testing.assert_allclose(ours.forward(x, train=True), ref.numpy(), atol=1e-10)


def test_inverted_dropout_matches_torch_statistics(rng):
    x = np.ones((2000, 50))
    ours = Dropout(0.3, rng=rng).forward(x, train=True)
    theirs = F.dropout(torch.tensor(x), 0.3, training=True).numpy()
    # Same survivors' value and the same mean (the masks differ: separate generators).
    assert set(np.unique(ours)) == set(np.unique(theirs)) == {0.0, 1 / 0.7}
    assert abs(ours.mean() - theirs.mean()) < 0.02
