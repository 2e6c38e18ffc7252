"""The benchmarks' PyTorch twins (benchmarks/torch_models.py) are trainlab's networks.

Equal parameter counts and output shapes for every network, then the same
numbers in float64 from the same weights: eval-mode scores, and in training
the loss (auxiliary classifiers included) and every parameter's gradient.
"""

import numpy as np
import pytest

from trainlab.layers import CrossEntropyLoss

torch = pytest.importorskip("torch")

NAMES = ["mlp", "simple-convnet", "deep-convnet", "resnet", "resnet20", "inception", "densenet"]
#: Dropout draws different masks in the two frameworks: the gradient comparison trains without it.
NO_DROPOUT = {"deep-convnet": {"dropout": 0.0}, "inception": {"dropout": 0.0}}


@pytest.fixture(scope="module")
def twins(benchmark_module):
    return benchmark_module("torch_models")


def images(twins, name, n, dtype):
    rng = np.random.default_rng(0)
    shape = (n, 784) if twins.NETWORKS[name].flatten else (n, 1, 28, 28)
    return rng.random(shape).astype(dtype), rng.integers(0, 10, n)


def test_every_benchmarked_network_has_a_twin(twins):
    assert list(twins.NETWORKS) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_parameter_counts_and_output_shapes_are_equal(twins, name):
    ours = twins.trainlab_model(name)
    theirs = twins.torch_twin(ours)
    assert sum(p.numel() for p in theirs.parameters()) == ours.num_parameters()
    x, _ = images(twins, name, 3, np.float32)
    for train in (False, True):
        theirs.train(train)
        assert tuple(theirs(torch.from_numpy(x)).shape) == ours.forward(x, train=train).shape == (3, 10)


@pytest.mark.parametrize("name", NAMES)
def test_eval_scores_are_equal(twins, name):
    ours = twins.trainlab_model(name, dtype=np.float64)
    theirs = twins.torch_twin(ours).eval()
    x, _ = images(twins, name, 4, np.float64)
    np.testing.assert_allclose(theirs(torch.from_numpy(x)).detach().numpy(), ours.forward(x, train=False),
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_training_loss_and_gradients_are_equal(twins, name):
    ours = twins.trainlab_model(name, dtype=np.float64, **NO_DROPOUT.get(name, {}))
    theirs = twins.torch_twin(ours).train()
    x, t = images(twins, name, 6, np.float64)
    # trainlab's training step, as its Trainer takes it.
    loss_fn = CrossEntropyLoss()
    loss = loss_fn.forward(ours.forward(x, train=True), t)
    for head in (m for m in ours.modules() if hasattr(m, "auxiliary_loss")):
        loss += head.auxiliary_loss(t)
    ours.backward(loss_fn.backward())
    tt = torch.from_numpy(t)
    torch_loss = twins.training_loss(theirs, theirs(torch.from_numpy(x)), tt)
    torch_loss.backward()
    assert torch_loss.item() == pytest.approx(loss, rel=1e-10)
    for (path, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        grad = q.grad.numpy()
        np.testing.assert_allclose(grad.T if grad.ndim == 2 else grad, p.grad, rtol=1e-7, atol=1e-10, err_msg=path)


def test_inception_loss_counts_the_auxiliary_classifiers(twins):
    theirs = twins.twin_for("inception", dropout=0.0).train()
    x, t = images(twins, "inception", 4, np.float32)
    tt = torch.from_numpy(t)
    scores = theirs(torch.from_numpy(x))
    heads = [m for m in theirs.modules() if isinstance(m, twins.AuxiliaryHead)]
    assert len(heads) == 2
    plain = torch.nn.functional.cross_entropy(scores, tt)
    extra = sum(0.3 * torch.nn.functional.cross_entropy(h.logits, tt) for h in heads)
    assert twins.training_loss(theirs, scores, tt).item() == pytest.approx((plain + extra).item(), rel=1e-6)
    theirs.eval()
    theirs(torch.from_numpy(x))
    assert all(h.logits is None for h in heads)  # eval mode: no auxiliary logits, no auxiliary loss


def test_a_twin_of_another_architecture_refuses_the_weights(twins):
    with pytest.raises(AssertionError):
        twins.copy_weights(twins.trainlab_model("resnet"), twins.twin_for("resnet20"))
