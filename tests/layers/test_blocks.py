"""Residual, Concat/Inception, dense and transition blocks, and the auxiliary head."""

import numpy as np
import pytest

from trainlab.errors import ConfigError, ShapeError
from trainlab.folding import fold_batchnorm
from trainlab.gradcheck import check_layer_gradients, numerical_gradient, relative_error
from trainlab.layers import (
    AuxiliaryHead, AvgPool2d, BatchNorm2d, Concat, Conv2d, CrossEntropyLoss, DenseBlock, Flatten,
    InceptionBlock, Linear, MaxPool2d, PostActResidualBlock, ReLU, ResidualBlock, Sequential, Transition,
    layer_from_spec, layer_to_spec,
)
from trainlab.optim import SGD
from trainlab.training import Trainer

TOL = 1e-6
F64 = np.float64


def randomise_batchnorm(layer, rng):
    """Non-trivial gamma and beta, so their gradients and the folding are exercised."""
    for m in layer.modules():
        if isinstance(m, BatchNorm2d):
            m.weight.data[:] = rng.uniform(0.5, 1.5, m.num_features)
            m.bias.data[:] = rng.standard_normal(m.num_features) * 0.5
    return layer


def make(name, rng):
    """(block, input) for each case; small shapes, float64."""
    cases = {
        "residual-identity": (ResidualBlock(3, 3, rng=rng, dtype=F64), (3, 3, 4, 4)),
        "residual-projection": (ResidualBlock(2, 3, stride=2, rng=rng, dtype=F64), (3, 2, 5, 5)),
        "residual-widen": (ResidualBlock(2, 4, rng=rng, dtype=F64), (2, 2, 3, 3)),
        "postact-identity": (PostActResidualBlock(3, 3, rng=rng, dtype=F64), (3, 3, 4, 4)),
        "postact-projection": (PostActResidualBlock(2, 3, stride=2, rng=rng, dtype=F64), (3, 2, 5, 5)),
        "concat": (Concat(Conv2d(2, 2, 1, rng=rng, dtype=F64),
                          Sequential(Conv2d(2, 1, 3, padding=1, rng=rng, dtype=F64), ReLU()),
                          AvgPool2d(3, 1, 1)), (2, 2, 4, 4)),
        "inception": (InceptionBlock(2, 1, 1, 2, 1, 1, 1, rng=rng, dtype=F64), (3, 2, 4, 4)),
        "dense": (DenseBlock(2, 2, 2, rng=rng, dtype=F64), (3, 2, 3, 3)),
        "dense-no-bottleneck": (DenseBlock(2, 2, 2, bottleneck=False, rng=rng, dtype=F64), (3, 2, 3, 3)),
        "transition": (Transition(4, 0.5, rng=rng, dtype=F64), (3, 4, 4, 4)),
    }
    block, shape = cases[name]
    randomise_batchnorm(block, rng)
    # Continuous random input, distinct values: no ReLU kinks or max-pool ties near the check's steps.
    return block, rng.standard_normal(shape)


CASES = ["residual-identity", "residual-projection", "residual-widen", "postact-identity", "postact-projection",
         "concat", "inception", "dense",
         "dense-no-bottleneck", "transition"]


@pytest.mark.parametrize("name", CASES)
def test_block_gradients(name, rng):
    block, x = make(name, rng)
    errors = check_layer_gradients(block, x, train=True)
    assert set(errors) == {"input", *[n for n, _ in block.named_parameters()]}
    for key, err in errors.items():
        assert err < TOL, f"{name}: {key} relative error {err:.2e}"


@pytest.mark.parametrize("name", ["residual-projection", "postact-identity", "postact-projection", "inception",
                                  "dense"])
def test_fold_batchnorm_keeps_eval_output(name, rng):
    block, x = make(name, rng)
    for _ in range(3):  # running statistics away from (0, 1)
        block.forward(x * 1.5 + 0.5, train=True)
    folded = fold_batchnorm(block)
    np.testing.assert_allclose(folded.forward(x, train=False), block.forward(x, train=False), atol=1e-10)
    n_bn = sum(isinstance(m, BatchNorm2d) for m in block.modules())
    assert sum(isinstance(m, BatchNorm2d) for m in folded.modules()) < n_bn  # some were merged


@pytest.mark.parametrize("name", CASES)
def test_config_round_trip(name, rng):
    block, x = make(name, rng)
    clone = layer_from_spec(layer_to_spec(block))
    assert type(clone) is type(block)
    assert [n for n, _ in clone.named_parameters()] == [n for n, _ in block.named_parameters()]
    clone.load_state_dict(block.state_dict())
    np.testing.assert_allclose(clone.forward(x, train=False), block.forward(x, train=False))


def test_shapes_and_channel_counts(rng):
    x = rng.standard_normal((2, 8, 7, 7)).astype(np.float32)
    assert ResidualBlock(8, 16, stride=2, rng=rng).forward(x, train=False).shape == (2, 16, 4, 4)
    assert not ResidualBlock(8, 8).projects and ResidualBlock(8, 8, 2).projects
    assert PostActResidualBlock(8, 16, stride=2, rng=rng).forward(x, train=False).shape == (2, 16, 4, 4)
    assert not PostActResidualBlock(8, 8).projects and PostActResidualBlock(8, 12).projects
    inc = InceptionBlock(8, 4, 3, 5, 2, 3, 6, rng=rng)
    assert inc.out_channels == 18 and inc.forward(x, train=False).shape == (2, 18, 7, 7)
    dense = DenseBlock(8, 4, 3, rng=rng)
    assert dense.out_channels == 20 and dense.forward(x, train=False).shape == (2, 20, 7, 7)
    trans = Transition(20, 0.5, rng=rng)
    assert trans.out_channels == 10
    assert trans.forward(dense.forward(x, train=False), train=False).shape == (2, 10, 3, 3)


def test_post_activation_block_is_relu_of_sum(rng):
    """ReLU(x + F(x)): never negative, and with the residual branch's last BatchNorm at gamma = beta = 0 the
    identity shortcut's ReLU(x) is all that is left (the pre-activation block would give x itself)."""
    x = rng.standard_normal((2, 3, 4, 4))
    block = PostActResidualBlock(3, 3, rng=rng, dtype=F64)
    assert (block.forward(x, train=True) >= 0).all()
    last_bn = block._children["residual"][4]
    last_bn.weight.data[:] = 0.0
    last_bn.bias.data[:] = 0.0
    np.testing.assert_array_equal(block.forward(x, train=True), np.maximum(x, 0))
    pre = ResidualBlock(3, 3, rng=rng, dtype=F64)
    pre._children["residual"][3].weight.data[:] = 0.0  # its last convolution gives 0
    np.testing.assert_array_equal(pre.forward(x, train=True), x)


def test_dense_block_output_starts_with_its_input(rng):
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    np.testing.assert_array_equal(DenseBlock(3, 2, 2, rng=rng).forward(x, train=True)[:, :3], x)


def test_errors_name_the_block(rng):
    net = Sequential(Conv2d(1, 4, 3, rng=rng), ResidualBlock(3, 3))
    with pytest.raises(ShapeError, match="ResidualBlock at '1'"):
        net.forward(np.zeros((1, 1, 6, 6), np.float32), train=False)
    with pytest.raises(ShapeError, match="same N, H and W"):
        Concat(Conv2d(1, 1, 1), Conv2d(1, 1, 3)).forward(np.zeros((1, 1, 5, 5), np.float32), train=False)
    with pytest.raises(ConfigError):
        Concat()
    with pytest.raises(ConfigError):
        DenseBlock(4, 0, 2)
    with pytest.raises(ConfigError):
        Transition(4, 1.5)
    # A block's sub-layers know their place in the model.
    assert net[1]._children["residual"][0].path == "1.residual.0"


# ---- the auxiliary head ---------------------------------------------------------------


def aux_net(rng):
    return Sequential(Conv2d(1, 2, 3, padding=1, rng=rng, dtype=F64), ReLU(),
                      AuxiliaryHead(2, 3, weight=0.4, hidden=3, rng=rng, dtype=F64),
                      MaxPool2d(2), Flatten(), Linear(8, 3, rng=rng, dtype=F64))


def test_auxiliary_loss_gradient_is_part_of_the_total(rng):
    """d(main + aux)/d(every parameter and the input), checked by central differences."""
    net = aux_net(rng)
    head = net[2]
    x, t = rng.standard_normal((4, 1, 4, 4)), rng.integers(0, 3, 4)
    loss = CrossEntropyLoss()

    def total():
        main = loss.forward(net.forward(x, train=True), t)
        return main + head.auxiliary_loss(t)

    total()
    dx = net.backward(loss.backward())
    analytic = {name: p.grad.copy() for name, p in net.named_parameters()}
    assert relative_error(dx, numerical_gradient(total, x)) < TOL
    for name, p in net.named_parameters():
        assert relative_error(analytic[name], numerical_gradient(total, p.data)) < TOL, name
    assert np.abs(analytic["2.head.4.weight"]).sum() > 0


def test_auxiliary_head_is_identity_and_silent_in_eval(rng):
    head = AuxiliaryHead(2, 3, rng=rng)
    x = rng.standard_normal((2, 2, 4, 4)).astype(np.float32)
    assert head.forward(x, train=False) is x and head.logits is None
    with pytest.raises(RuntimeError, match="train mode"):
        head.auxiliary_loss(np.array([0, 1]))
    assert head.forward(x, train=True) is x and head.logits.shape == (2, 3)
    dout = rng.standard_normal(x.shape).astype(np.float32)
    assert head.backward(dout) is dout  # no auxiliary loss asked for: nothing added
    assert all((p.grad == 0).all() for p in head.parameters())
    assert layer_from_spec(layer_to_spec(head)).get_config() == head.get_config()


def test_trainer_adds_auxiliary_losses(rng):
    net = aux_net(rng).astype(np.float32)
    x = rng.standard_normal((20, 1, 4, 4)).astype(np.float32)
    t = rng.integers(0, 3, 20)
    seen = []
    head = net[2]
    original = head.auxiliary_loss
    head.auxiliary_loss = lambda labels: seen.append(len(labels)) or original(labels)
    Trainer(net, SGD(net.parameters(), lr=0.1), batch_size=10, iterations=3, progress=False,
            eval_train=False).fit(x, t)
    assert seen == [10, 10, 10]
